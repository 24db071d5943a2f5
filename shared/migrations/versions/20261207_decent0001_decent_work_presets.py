"""decent_work_presets: the decent-work indicator's rule sets, kept as data

Revision ID: decent0001
Revises: employer0001
Create Date: 2026-12-07 20:00:00

Two rows: "iku2" (IKU 2 of Kepmendiktisaintek 358/M/KEP/2025: waiting under 6 months and pay
over 1.2 × the applicable minimum wage weighs 1.0, under 12 months and over 0.8, under 12
months otherwise 0.6; not editable) and "blk", the centre's own, starting from the same
values, edited on the staff page. Weights are hundredths. The rows for self-employment and
further study are Jejak's reading of the decree (docs/indicators.md, "Decent work").
"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = 'decent0001'
down_revision = 'employer0001'
branch_labels = None
depends_on = None

TABLE = {"full_months": 6, "partial_months": 12, "full": 100, "partial_paid": 80,
         "partial_unpaid": 60}
RULES = {"pay_percent": 120, "contract_required": False, "employee": TABLE,
         "self_employed": TABLE, "further_study": 100}
SOURCE = "Kepmendiktisaintek 358/M/KEP/2025, IKU 2"


def upgrade() -> None:
    table = op.create_table(
        'decent_work_presets',
        sa.Column('name', sa.String(length=16), nullable=False),
        sa.Column('rules', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'),
                  nullable=False),
        sa.Column('editable', sa.Boolean(), nullable=False),
        sa.Column('source', sa.String(length=300), server_default='', nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_decent_work_presets')),
    )
    now = datetime.now(UTC)
    op.bulk_insert(table, [
        {'name': 'iku2', 'rules': RULES, 'editable': False, 'source': SOURCE,
         'updated_at': now},
        {'name': 'blk', 'rules': RULES, 'editable': True,
         'source': 'BLK (awalnya sama dengan IKU 2; dapat disesuaikan lembaga)', 'updated_at': now},
    ])


def downgrade() -> None:
    op.drop_table('decent_work_presets')
