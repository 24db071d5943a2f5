"""messages: index only the rows the sweeps and webhooks look for

Revision ID: e7e1c0de0007
Revises: c6e1c0de0006
Create Date: 2026-11-27 22:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'e7e1c0de0007'
down_revision = 'c6e1c0de0006'
branch_labels = None
depends_on = None

IN_FLIGHT = sa.text("status IN ('queued', 'sending')")
HAS_PROVIDER_ID = sa.text("provider_message_id IS NOT NULL")


def upgrade() -> None:
    # Each send updates a message twice (claim, outcome); a row version that leaves
    # queued/sending, or has no provider id yet, no longer gets an entry in these two
    # (docs/decisions.md, "Partial indexes on messages").
    op.drop_index("ix_messages_status_due", table_name="messages")
    op.create_index(
        "ix_messages_in_flight", "messages", ["status", "queued_at"],
        postgresql_where=IN_FLIGHT, sqlite_where=IN_FLIGHT,
    )
    op.drop_index("ix_messages_provider_message_id", table_name="messages")
    op.create_index(
        "ix_messages_provider_message_id", "messages", ["provider_message_id"],
        postgresql_where=HAS_PROVIDER_ID, sqlite_where=HAS_PROVIDER_ID,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_provider_message_id", table_name="messages")
    op.create_index("ix_messages_provider_message_id", "messages", ["provider_message_id"])
    op.drop_index("ix_messages_in_flight", table_name="messages")
    op.create_index("ix_messages_status_due", "messages", ["status", "due_at"])
