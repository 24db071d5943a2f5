"""employer campaigns and messages, outreach's employer audience and replies, analytics' employer facts

Revision ID: employer0002
Revises: calls0002
Create Date: 2026-12-07 20:30:00

Outreach to employers (docs/employers.md): outreach's own record of who may be asked about
whom (`employer_audience`, from `employer.contact_added`) and who answered
(`employer_replies`, from `employer.answers_submitted`), employer campaigns and their
messages (one per campaign, step and contact). Analytics' projection of the employer survey,
rebuilt per wave at each refresh (`employer_rating_facts`, `employer_company_facts`).
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = 'employer0002'
down_revision = 'calls0002'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'employer_audience',
        sa.Column('wave_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('alumnus_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=False),
        sa.Column('employer_id', sa.Integer(), nullable=False),
        sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('wave_id', 'alumnus_id', name='pk_employer_audience'),
    )
    op.create_index('ix_employer_audience_contact_id', 'employer_audience', ['contact_id'])
    op.create_table(
        'employer_replies',
        sa.Column('wave_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('contact_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('wave_id', 'contact_id', name='pk_employer_replies'),
    )
    op.create_table(
        'employer_campaigns',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('wave_id', sa.Integer(), sa.ForeignKey(
            'waves.id', name='fk_employer_campaigns_wave_id_waves'), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('language', sa.String(8), nullable=False),
        sa.Column('steps', JSON, nullable=False),
        sa.Column('launched_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_by', sa.Integer(), sa.ForeignKey(
            'users.id', name='fk_employer_campaigns_created_by_users'), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_employer_campaigns'),
    )
    op.create_index('ix_employer_campaigns_wave_id', 'employer_campaigns', ['wave_id'])
    op.create_table(
        'employer_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), sa.ForeignKey(
            'employer_campaigns.id', name='fk_employer_messages_campaign_id_employer_campaigns'),
            nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(16), nullable=True),
        sa.Column('address', sa.String(254), nullable=True),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('failed_reason', sa.String(500), nullable=True),
        sa.Column('cancel_reason', sa.String(32), nullable=True),
        sa.Column('provider_message_id', sa.String(200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_employer_messages'),
        sa.UniqueConstraint('campaign_id', 'step', 'contact_id',
                            name='uq_employer_messages_campaign_step_contact'),
    )
    op.create_index('ix_employer_messages_campaign_id', 'employer_messages', ['campaign_id'])
    op.create_index('ix_employer_messages_contact_id', 'employer_messages', ['contact_id'])
    op.create_index('ix_employer_messages_status_due', 'employer_messages',
                    ['status', 'due_at'])
    op.create_table(
        'employer_rating_facts',
        sa.Column('wave_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('alumnus_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('employer_id', sa.Integer(), nullable=True),
        sa.Column('sector', sa.String(1), nullable=False),
        sa.Column('city', sa.String(120), nullable=False),
        *(sa.Column(name, sa.SmallInteger(), nullable=True) for name in (
            'integrity', 'technical', 'safety', 'tools_it', 'communication', 'teamwork',
            'discipline', 'learning')),
        sa.Column('hire_again', sa.String(8), nullable=True),
        sa.PrimaryKeyConstraint('wave_id', 'alumnus_id', name='pk_employer_rating_facts'),
    )
    op.create_table(
        'employer_company_facts',
        sa.Column('wave_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('employer_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('sector', sa.String(1), nullable=False),
        sa.Column('city', sa.String(120), nullable=False),
        sa.Column('invited', sa.Boolean(), nullable=False),
        sa.Column('answered', sa.Boolean(), nullable=False),
        sa.Column('programs', JSON, nullable=False),
        sa.Column('strengthen', JSON, nullable=False),
        sa.Column('workers_needed', JSON, nullable=False),
        sa.Column('apprentice', sa.SmallInteger(), nullable=True),
        sa.Column('curriculum', sa.SmallInteger(), nullable=True),
        sa.PrimaryKeyConstraint('wave_id', 'employer_id', name='pk_employer_company_facts'),
    )


def downgrade() -> None:
    op.drop_table('employer_company_facts')
    op.drop_table('employer_rating_facts')
    op.drop_index('ix_employer_messages_status_due', table_name='employer_messages')
    op.drop_index('ix_employer_messages_contact_id', table_name='employer_messages')
    op.drop_index('ix_employer_messages_campaign_id', table_name='employer_messages')
    op.drop_table('employer_messages')
    op.drop_index('ix_employer_campaigns_wave_id', table_name='employer_campaigns')
    op.drop_table('employer_campaigns')
    op.drop_table('employer_replies')
    op.drop_index('ix_employer_audience_contact_id', table_name='employer_audience')
    op.drop_table('employer_audience')
