"""users.session_version, login_failures per (username, address); the per-account lockout
columns go

Revision ID: sessions0001
Revises: f8e1c0de0008
Create Date: 2026-12-07 14:10:00

Plain ALTER TABLE ADD/DROP COLUMN, not batch mode: SQLite (3.35 and later) does both in
place, whereas a batch copy would drop and recreate `users`, which api_tokens and campaigns
reference (with foreign keys on, the drop fails once either holds a row).
"""
from alembic import op
import sqlalchemy as sa


revision = 'sessions0001'
down_revision = 'f8e1c0de0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing cookies carry no version: every staff member signs in again once.
    op.add_column('users', sa.Column('session_version', sa.Integer(), nullable=False,
                                     server_default='0'))
    op.drop_column('users', 'failed_logins')
    op.drop_column('users', 'locked_until')
    op.create_table(
        'login_failures',
        sa.Column('username', sa.String(length=80), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('username', 'address', name=op.f('pk_login_failures')),
    )
    op.create_index(op.f('ix_login_failures_last_failed_at'), 'login_failures',
                    ['last_failed_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_login_failures_last_failed_at'), table_name='login_failures')
    op.drop_table('login_failures')
    op.add_column('users', sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('failed_logins', sa.Integer(), nullable=False,
                                     server_default='0'))
    op.drop_column('users', 'session_version')
