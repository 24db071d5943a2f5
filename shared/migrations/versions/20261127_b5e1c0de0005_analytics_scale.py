"""analytics at scale (cell index, snapshot storage)

The one-cell recompute of a live update finds the cell's targets through
ix_wave_targets_cell instead of scanning the wave's targets, and writes the recomputed
cell as one row of indicator_cells instead of a copy of the whole snapshot.
indicator_answers: analytics' narrow projection of the coded answers of each complete
response, which the indicator statements aggregate instead of the answers' JSON.

Revision ID: b5e1c0de0005
Revises: a4e1c0de0004
Create Date: 2026-11-27 21:30:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = 'b5e1c0de0005'
down_revision = 'a4e1c0de0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('wave_targets', schema=None) as batch_op:
        batch_op.create_index('ix_wave_targets_cell',
                              ['wave_id', 'program_id', 'cohort_id', 'gender'], unique=False,
                              postgresql_include=['alumnus_id'])
    op.create_table('indicator_answers',
    sa.Column('wave_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('alumnus_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('response_id', sa.Uuid(), nullable=False),
    sa.Column('response_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('f8', sa.SmallInteger(), nullable=True),
    sa.Column('f504', sa.SmallInteger(), nullable=True),
    sa.Column('f14', sa.SmallInteger(), nullable=True),
    sa.Column('f5a2', sa.SmallInteger(), nullable=True),
    sa.Column('blk_cert', sa.SmallInteger(), nullable=True),
    sa.Column('f1761', sa.SmallInteger(), nullable=True),
    sa.Column('f1762', sa.SmallInteger(), nullable=True),
    sa.Column('f1763', sa.SmallInteger(), nullable=True),
    sa.Column('f1764', sa.SmallInteger(), nullable=True),
    sa.Column('f1765', sa.SmallInteger(), nullable=True),
    sa.Column('f1766', sa.SmallInteger(), nullable=True),
    sa.Column('f1767', sa.SmallInteger(), nullable=True),
    sa.Column('f1768', sa.SmallInteger(), nullable=True),
    sa.Column('f1769', sa.SmallInteger(), nullable=True),
    sa.Column('f1770', sa.SmallInteger(), nullable=True),
    sa.Column('f1771', sa.SmallInteger(), nullable=True),
    sa.Column('f1772', sa.SmallInteger(), nullable=True),
    sa.Column('f1773', sa.SmallInteger(), nullable=True),
    sa.Column('f1774', sa.SmallInteger(), nullable=True),
    sa.Column('blk_k3_a', sa.SmallInteger(), nullable=True),
    sa.Column('blk_k3_b', sa.SmallInteger(), nullable=True),
    sa.Column('blk_tools_a', sa.SmallInteger(), nullable=True),
    sa.Column('blk_tools_b', sa.SmallInteger(), nullable=True),
    sa.Column('blk_eval_instructor', sa.SmallInteger(), nullable=True),
    sa.Column('blk_eval_facilities', sa.SmallInteger(), nullable=True),
    sa.Column('blk_eval_practice', sa.SmallInteger(), nullable=True),
    sa.Column('blk_eval_material', sa.SmallInteger(), nullable=True),
    sa.Column('waiting', sa.Numeric(), nullable=True),
    sa.Column('income', sa.Numeric(), nullable=True),
    sa.Column('channels', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('wave_id', 'alumnus_id', name=op.f('pk_indicator_answers'))
    )
    op.create_table('indicator_cells',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('snapshot_id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('cohort_id', sa.Integer(), nullable=False),
    sa.Column('gender', sa.String(length=1), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cell', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('labels', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['snapshot_id'], ['indicator_snapshots.id'], name=op.f('fk_indicator_cells_snapshot_id_indicator_snapshots')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_cells')),
    sa.UniqueConstraint('snapshot_id', 'program_id', 'cohort_id', 'gender', name='uq_indicator_cells_snapshot_cell')
    )


def downgrade() -> None:
    op.drop_table('indicator_cells')
    op.drop_table('indicator_answers')
    with op.batch_alter_table('wave_targets', schema=None) as batch_op:
        batch_op.drop_index('ix_wave_targets_cell')
