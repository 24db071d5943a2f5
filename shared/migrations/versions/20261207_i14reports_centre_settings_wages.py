"""centre_settings; minimum_wages by year and region (level, region code and name, exact
amount, note)

Revision ID: i14reports0001
Revises: sessions0001
Create Date: 2026-12-07 14:30:00

minimum_wages had the year as its primary key. The table is small (one row a year), so its
rows are read, the table is made again with an id and a unique (year, level, region_code),
and the rows are written back with an empty region code: a wage without a region, which a
wave still uses exactly as before (services/analytics/wages.py). Nothing references the
table, so dropping it is safe on both databases.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = 'i14reports0001'
down_revision = 'sessions0001'
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def _wage_table(with_regions: bool) -> list[sa.Column]:
    if not with_regions:
        return [sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
                sa.Column('amount', sa.BigInteger(), nullable=False),
                sa.Column('source', sa.String(length=300), nullable=False),
                sa.Column('updated_at', UTC_DATETIME, nullable=False),
                sa.PrimaryKeyConstraint('year', name=op.f('pk_minimum_wages'))]
    return [sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('year', sa.Integer(), nullable=False),
            sa.Column('level', sa.String(length=16), server_default='city', nullable=False),
            sa.Column('region_code', sa.String(length=16), server_default='', nullable=False),
            sa.Column('region_name', sa.String(length=120), server_default='',
                      nullable=False),
            sa.Column('amount', sa.BigInteger(), nullable=False),
            sa.Column('exact_amount', sa.Numeric(precision=18, scale=2), nullable=True),
            sa.Column('source', sa.String(length=300), nullable=False),
            sa.Column('note', sa.String(length=300), nullable=True),
            sa.Column('updated_at', UTC_DATETIME, nullable=False),
            sa.PrimaryKeyConstraint('id', name=op.f('pk_minimum_wages')),
            sa.UniqueConstraint('year', 'level', 'region_code',
                                name='uq_minimum_wages_year_level_region')]


def _old_rows(order: bool = False) -> list[dict]:
    """The rows as typed values (a plain text query gives SQLite's strings for times)."""
    columns = [sa.column('year', sa.Integer()), sa.column('amount', sa.BigInteger()),
               sa.column('source', sa.String()), sa.column('updated_at', UTC_DATETIME)]
    if order:
        columns += [sa.column('level', sa.String()), sa.column('region_code', sa.String()),
                    sa.column('id', sa.Integer())]
    table = sa.table('minimum_wages', *columns)
    query = sa.select(table.c.year, table.c.amount, table.c.source, table.c.updated_at)
    if order:
        # One wage a year again: the one without a region, else a city's, else the province's.
        query = query.order_by(table.c.year, sa.case((table.c.region_code == '', 0),
                                                     (table.c.level == 'city', 1), else_=2),
                               table.c.id)
    return [dict(row) for row in op.get_bind().execute(query).mappings()]


def upgrade() -> None:
    op.create_table(
        'centre_settings',
        sa.Column('key', sa.String(length=40), nullable=False),
        sa.Column('value', sa.JSON().with_variant(
            postgresql.JSONB(), 'postgresql'), nullable=False),
        sa.Column('updated_by', sa.String(length=120), nullable=True),
        sa.Column('updated_at', UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_centre_settings')),
    )
    rows = _old_rows()
    op.drop_table('minimum_wages')
    table = op.create_table('minimum_wages', *_wage_table(True))
    op.create_index(op.f('ix_minimum_wages_year'), 'minimum_wages', ['year'], unique=False)
    if rows:
        op.bulk_insert(table, [{**row, 'level': 'city', 'region_code': '', 'region_name': ''}
                               for row in rows])


def downgrade() -> None:
    kept: dict[int, dict] = {}
    for row in _old_rows(order=True):
        kept.setdefault(row['year'], row)
    op.drop_index(op.f('ix_minimum_wages_year'), table_name='minimum_wages')
    op.drop_table('minimum_wages')
    table = op.create_table('minimum_wages', *_wage_table(False))
    if kept:
        op.bulk_insert(table, list(kept.values()))
    op.drop_table('centre_settings')
