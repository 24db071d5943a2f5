"""indicator_answers: columns named by indicator input, list inputs by slot

Revision ID: inputs0002
Revises: decent0001
Create Date: 2026-12-07 20:10:00

The projection is built from the questionnaire's mapping of items to indicator inputs
(shared/indicator_inputs.py), so its columns are named by input, not by blk-tracer v1's
item codes: f8 -> status, f14 -> relevance, f5a2 -> work_location, blk_cert -> certificate,
the nine f17/BLK competency pairs -> competency_1_a/b .. competency_9_a/b (three more slots
added) and the four blk_eval ratings -> training_eval_1..4 (four more added). v1's mapping
lists them in that order, so existing rows keep their meaning. f504 (found within six
months) is dropped: the waiting column already holds the months it selected.
"""
from alembic import op
import sqlalchemy as sa


revision = 'inputs0002'
down_revision = 'decent0001'
branch_labels = None
depends_on = None

V1_COMPETENCIES = (('f1761', 'f1762'), ('f1763', 'f1764'), ('f1765', 'f1766'),
                   ('f1767', 'f1768'), ('f1769', 'f1770'), ('f1771', 'f1772'),
                   ('f1773', 'f1774'), ('blk_k3_a', 'blk_k3_b'), ('blk_tools_a', 'blk_tools_b'))
V1_EVAL = ('blk_eval_instructor', 'blk_eval_facilities', 'blk_eval_practice',
           'blk_eval_material')
COMPETENCY_SLOTS, EVAL_SLOTS = 12, 8


def renames() -> list[tuple[str, str]]:
    pairs = [('f8', 'status'), ('f14', 'relevance'), ('f5a2', 'work_location'),
             ('blk_cert', 'certificate')]
    for index, (a_key, b_key) in enumerate(V1_COMPETENCIES, start=1):
        pairs += [(a_key, f'competency_{index}_a'), (b_key, f'competency_{index}_b')]
    pairs += [(key, f'training_eval_{index}') for index, key in enumerate(V1_EVAL, start=1)]
    return pairs


def added() -> list[str]:
    columns = []
    for index in range(len(V1_COMPETENCIES) + 1, COMPETENCY_SLOTS + 1):
        columns += [f'competency_{index}_a', f'competency_{index}_b']
    columns += [f'training_eval_{index}' for index in range(len(V1_EVAL) + 1, EVAL_SLOTS + 1)]
    return columns


def upgrade() -> None:
    with op.batch_alter_table('indicator_answers') as batch:
        for old, new in renames():
            batch.alter_column(old, new_column_name=new)
        for name in added():
            batch.add_column(sa.Column(name, sa.SmallInteger(), nullable=True))
        batch.drop_column('f504')


def downgrade() -> None:
    # f504 comes back empty: rows are re-projected only when their response changes, so the
    # table is emptied and the next fill projects every complete response again.
    op.execute('DELETE FROM indicator_answers')
    with op.batch_alter_table('indicator_answers') as batch:
        batch.add_column(sa.Column('f504', sa.SmallInteger(), nullable=True))
        for name in reversed(added()):
            batch.drop_column(name)
        for old, new in reversed(renames()):
            batch.alter_column(new, new_column_name=old)
