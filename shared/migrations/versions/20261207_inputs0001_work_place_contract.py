"""indicator_answers: where the alumnus works, contract, education match, further training

Revision ID: inputs0001
Revises: calls0001
Create Date: 2026-12-07 19:50:00

blk-tracer v2 asks the province and the city or regency of work (the minimum wage that
applies depends on them), the contract type, whether the job's education level matches the
training, and further training. The projection keeps them as codes beside the others; rows
of earlier questionnaires leave them NULL (not collected).
"""
from alembic import op
import sqlalchemy as sa


revision = 'inputs0001'
down_revision = 'calls0001'
branch_labels = None
depends_on = None

COLUMNS = ('work_province', 'work_city', 'contract', 'edu_match', 'further_training')


def upgrade() -> None:
    with op.batch_alter_table('indicator_answers') as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('indicator_answers') as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
