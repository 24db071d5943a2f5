"""outreach at scale (indexes for planning and dispatch)

Revision ID: a4e1c0de0004
Revises: d68681fb0637
Create Date: 2026-11-27 21:30:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'a4e1c0de0004'
down_revision = 'd68681fb0637'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Partial: only the messages still to send, walked in due order by dispatch.
    op.create_index(
        "ix_messages_planned_due",
        "messages",
        ["due_at", "id"],
        postgresql_where=sa.text("status = 'planned'"),
        sqlite_where=sa.text("status = 'planned'"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_planned_due", table_name="messages")
