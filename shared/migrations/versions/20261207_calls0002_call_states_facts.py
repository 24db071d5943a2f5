"""call_states: one row per target, with the facts the call list orders by

Revision ID: calls0002
Revises: inputs0002
Create Date: 2026-12-07 20:00:00

The call list used to compute every target's follow-up status from the wave's responses,
messages and attempts on each request (628 ms at p95 for a wave of 100,000 alumni,
bench/call_list.py). Now call_states holds a row for every target, with the registration
number, program and cohort it sorts and filters by, and three facts of the follow-up
status, recomputed from their sources for the targets an event concerns
(services/survey/call_list_state.py): `closed` (erased, complete or opted out), `reached`
(invited, opened or partial) and `pending` (a message of the wave still to be sent). The
index `ix_call_states_order` (wave, attempts, registration number) is the list's order
within a group: a page walks it (`ix_call_states_callbacks`, the same for the callbacks only,
for the two groups they make).

The backfill writes what the rule gives today for every target of every wave, in plain SQL
(the rule as it stands at this revision), so existing waves list as before.
"""
from alembic import op
import sqlalchemy as sa


revision = 'calls0002'
down_revision = 'inputs0002'
branch_labels = None
depends_on = None

# The follow-up rule (services/survey/followup.py) at this revision, per call_states row.
_COMPLETE = ("EXISTS (SELECT 1 FROM responses r WHERE r.wave_id = call_states.wave_id "
             "AND r.alumnus_id = call_states.alumnus_id AND r.status = 'complete')")
_PARTIAL = ("EXISTS (SELECT 1 FROM responses r WHERE r.wave_id = call_states.wave_id "
            "AND r.alumnus_id = call_states.alumnus_id AND r.status = 'partial')")
_CLOSED = ("EXISTS (SELECT 1 FROM alumni a WHERE a.id = call_states.alumnus_id AND "
           "(a.erased_at IS NOT NULL OR a.consent_withdrawn_at IS NOT NULL)) "
           "OR EXISTS (SELECT 1 FROM opt_outs o WHERE o.alumnus_id = call_states.alumnus_id) "
           f"OR {_COMPLETE}")
_WAVE_MESSAGES = ("SELECT 1 FROM messages m JOIN campaign_steps s ON s.id = m.campaign_step_id "
                  "JOIN campaigns c ON c.id = s.campaign_id WHERE c.wave_id = call_states.wave_id "
                  "AND m.alumnus_id = call_states.alumnus_id AND m.status IN ({})")
_OPENED = ("EXISTS (SELECT 1 FROM wave_targets t WHERE t.wave_id = call_states.wave_id "
           "AND t.alumnus_id = call_states.alumnus_id AND t.opened_at IS NOT NULL)")
_REACHED_MESSAGE = "EXISTS ({})".format(
    _WAVE_MESSAGES.format("'sending', 'sent', 'delivered', 'in_doubt'"))
_PENDING = "EXISTS ({})".format(_WAVE_MESSAGES.format("'planned', 'queued'"))


def upgrade() -> None:
    with op.batch_alter_table('call_states') as batch:
        batch.add_column(sa.Column('registration_no', sa.String(64), nullable=True))
        batch.add_column(sa.Column('program_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('cohort_id', sa.Integer(), nullable=True))
        for name in ('closed', 'reached', 'pending'):
            batch.add_column(sa.Column(name, sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    op.execute(
        "INSERT INTO call_states (wave_id, alumnus_id, attempts, closed, reached, pending) "
        "SELECT t.wave_id, t.alumnus_id, 0, false, false, false FROM wave_targets t "
        "WHERE NOT EXISTS (SELECT 1 FROM call_states s WHERE s.wave_id = t.wave_id "
        "AND s.alumnus_id = t.alumnus_id)")
    op.execute(
        "UPDATE call_states SET "
        "registration_no = (SELECT a.registration_no FROM alumni a "
        "WHERE a.id = call_states.alumnus_id), "
        "program_id = (SELECT t.program_id FROM wave_targets t "
        "WHERE t.wave_id = call_states.wave_id AND t.alumnus_id = call_states.alumnus_id), "
        "cohort_id = (SELECT t.cohort_id FROM wave_targets t "
        "WHERE t.wave_id = call_states.wave_id AND t.alumnus_id = call_states.alumnus_id), "
        f"closed = ({_CLOSED}), "
        f"reached = (NOT ({_CLOSED}) AND ({_PARTIAL} OR {_OPENED} OR {_REACHED_MESSAGE})), "
        f"pending = ({_PENDING})")
    op.create_index('ix_call_states_order', 'call_states',
                    ['wave_id', 'attempts', 'registration_no'])
    op.create_index('ix_call_states_callbacks', 'call_states',
                    ['wave_id', 'attempts', 'registration_no'],
                    postgresql_where=sa.text("last_outcome = 'callback'"),
                    sqlite_where=sa.text("last_outcome = 'callback'"))


def downgrade() -> None:
    # Rows of targets never tried nor assigned were added by this revision.
    op.drop_index('ix_call_states_callbacks', 'call_states')
    op.drop_index('ix_call_states_order', 'call_states')
    op.execute("DELETE FROM call_states WHERE attempts = 0 AND assignee_id IS NULL")
    with op.batch_alter_table('call_states') as batch:
        for name in ('pending', 'reached', 'closed', 'cohort_id', 'program_id',
                     'registration_no'):
            batch.drop_column(name)
