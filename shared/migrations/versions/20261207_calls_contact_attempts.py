"""contact_attempts and call_states: follow-up by phone and WhatsApp

Revision ID: calls0001
Revises: i14waves0001
Create Date: 2026-12-07 17:00:00

Two new tables, and responses.entered_by (who entered a response for the alumnus, by phone). contact_attempts is append-only (the
history); call_states keeps, per target, the assignee, the count and the latest outcome,
written with each attempt and assignment, so the call list reads one row per target instead
of grouping the wave's attempts on every request (bench/call_list.py measures it).
"""
from alembic import op
import sqlalchemy as sa


revision = 'calls0001'
down_revision = 'i14waves0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'contact_attempts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('wave_id', sa.Integer(), sa.ForeignKey('waves.id'), nullable=False),
        sa.Column('alumnus_id', sa.Integer(), sa.ForeignKey('alumni.id'), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=True),
        sa.Column('channel', sa.String(16), nullable=False),
        sa.Column('outcome', sa.String(24), nullable=False),
        sa.Column('callback_on', sa.Date(), nullable=True),
        sa.Column('note', sa.String(500), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_contact_attempts_wave_alumnus', 'contact_attempts',
                    ['wave_id', 'alumnus_id', 'id'])
    op.create_index('ix_contact_attempts_alumnus_id', 'contact_attempts', ['alumnus_id'])
    op.create_table(
        'call_states',
        sa.Column('wave_id', sa.Integer(), sa.ForeignKey('waves.id'), nullable=False),
        sa.Column('alumnus_id', sa.Integer(), sa.ForeignKey('alumni.id'), nullable=False),
        sa.Column('assignee_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_outcome', sa.String(24), nullable=True),
        sa.Column('callback_on', sa.Date(), nullable=True),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('wave_id', 'alumnus_id'),
    )
    op.create_index('ix_call_states_assignee', 'call_states', ['assignee_id'])
    with op.batch_alter_table('responses') as batch:
        batch.add_column(sa.Column('entered_by', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_responses_entered_by_users', 'users', ['entered_by'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('responses') as batch:
        batch.drop_constraint('fk_responses_entered_by_users', type_='foreignkey')
        batch.drop_column('entered_by')
    op.drop_index('ix_call_states_assignee', 'call_states')
    op.drop_table('call_states')
    op.drop_index('ix_contact_attempts_alumnus_id', 'contact_attempts')
    op.drop_index('ix_contact_attempts_wave_alumnus', 'contact_attempts')
    op.drop_table('contact_attempts')
