"""personal data rights (erasure, consent)

Revision ID: c6e1c0de0006
Revises: b5e1c0de0005
Create Date: 2026-11-27 21:30:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'c6e1c0de0006'
down_revision = 'b5e1c0de0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
