"""analytics at scale (cell index, snapshot storage)

The one-cell recompute of a live update finds the cell's targets through
ix_wave_targets_cell instead of scanning the wave's targets, and writes the recomputed
cell as one row of indicator_cells instead of a copy of the whole snapshot.

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
    with op.batch_alter_table('wave_targets', schema=None) as batch_op:
        batch_op.drop_index('ix_wave_targets_cell')
