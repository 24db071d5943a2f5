"""analytics at scale (cell index, snapshot storage)

Revision ID: b5e1c0de0005
Revises: a4e1c0de0004
Create Date: 2026-11-27 21:30:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'b5e1c0de0005'
down_revision = 'a4e1c0de0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
