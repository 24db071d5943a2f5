"""Outreach's hand-tuned statements: the batch read, the send claim, and a send's outcome
(SQLite's separate statements and PostgreSQL's data-modifying CTEs side by side). Each says
what it does, why it is written so, and the figure that measured it (bench/README.md,
"Outreach: plan and send one email step", `bench/outreach.py`).

All are built once at import with bound parameters (`m_*`, `c_id`, `a_id`, `w_id` for the
message being claimed, `r_*`/`ev_*` for the outcome being recorded): building the claim per
message cost more CPU than running it. `services/outreach/delivery.py` runs the claim and
`services/outreach/outcomes.py` the outcome.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, exists, insert, literal, select, update

from shared.events import OUTBOX
from shared.models import (
    Alumnus,
    Campaign,
    CampaignStep,
    Cohort,
    DeliveryAttempt,
    Message,
    OptOut,
    Program,
    Response,
    Wave,
)

_messages = Message.__table__

# Everything a batch needs to render its messages, read once per batch (one Core query, no
# ORM objects) instead of per message; the caller adds the ids and `status = 'queued'`.
BATCH = (
    select(
        Message.id, Message.channel, Message.address, Message.alumnus_id,
        CampaignStep.template, Campaign.id.label("campaign_id"), Campaign.language,
        Campaign.wave_id, Alumnus.full_name, Program.name.label("program"),
        Cohort.label.label("cohort"), Wave.title.label("wave_title"),
    )
    .join(CampaignStep, CampaignStep.id == Message.campaign_step_id)
    .join(Campaign, Campaign.id == CampaignStep.campaign_id)
    .join(Alumnus, Alumnus.id == Message.alumnus_id)
    .join(Cohort, Cohort.id == Alumnus.cohort_id)
    .join(Program, Program.id == Cohort.program_id)
    .outerjoin(Wave, Wave.id == Campaign.wave_id)
)

# May this message still go, at this very moment? Still `queued`, its campaign running,
# its alumnus not erased, not withdrawn, not opted out (by address or by alumnus) and, for
# a wave's campaign, not answered. Every check in the claim's own WHERE, so the check and
# the claim are one atomic statement: no window between reading and claiming.
STILL_WANTED = (
    _messages.c.id == bindparam("m_id"),
    _messages.c.status == "queued",
    exists().where(Campaign.id == bindparam("c_id"), Campaign.status == "running"),
    exists().where(
        Alumnus.id == bindparam("a_id"),
        Alumnus.erased_at.is_(None),
        Alumnus.consent_withdrawn_at.is_(None),
    ),
    # Two lookups, each on its own index (an OR in one would scan the channel's opt-outs).
    ~exists().where(
        OptOut.channel == bindparam("m_channel"), OptOut.address == bindparam("m_address")
    ),
    ~exists().where(
        OptOut.alumnus_id == bindparam("a_id"), OptOut.channel == bindparam("m_channel")
    ),
    ~exists().where(
        Response.wave_id == bindparam("w_id"),  # NULL for a broadcast: never true
        Response.alumnus_id == bindparam("a_id"),
        Response.status == "complete",
    ),
)


def claim_params(row: Any) -> dict[str, Any]:
    """STILL_WANTED's parameters, from a row of BATCH."""
    return {"m_id": row.id, "c_id": row.campaign_id, "a_id": row.alumnus_id,
            "m_channel": row.channel, "m_address": row.address, "w_id": row.wave_id}


# The send claim: `queued` → `sending` only if the message may still go, committed before
# the provider sees it (exactly once: a duplicate task finds nothing queued). One
# conditional `UPDATE … RETURNING attempts` in place of a read, the checks and a write,
# built once (bench/README.md, outreach, "What changed": with the batch read, the outcome in
# the next claim's transaction and the plain emails, a sent message's Python CPU went from
# 13.0 to 0.9–1.0 ms; 0.55 ms on a quiet machine after the four changes below it; 0.86–0.93
# ms on the loaded machine of 2026-12-07, main's 1.04–1.15 ms in the same sitting).
CLAIM = (
    update(_messages)
    .where(*STILL_WANTED)
    .values(status="sending", attempts=_messages.c.attempts + 1, queued_at=bindparam("at"))
    .returning(_messages.c.attempts)
)
# A template that does not render for this message: failed without a send, under the
# same conditions as the claim (an unwanted message is settled as such instead).
FAIL_TEMPLATE = (
    update(_messages).where(*STILL_WANTED).values(status="failed", failed_reason=bindparam("why"))
)
# Back in line (quiet hours, a paused campaign): `queued` → `planned`.
PUT_BACK = (
    update(_messages)
    .where(_messages.c.id == bindparam("m_id"), _messages.c.status == "queued")
    .values(status="planned", queued_at=None)
)
# Settled without a send: skipped (opted out) or cancelled (answered, erased, withdrawn).
STOP = (
    update(_messages)
    .where(_messages.c.id == bindparam("m_id"), _messages.c.status == "queued")
    .values(status=bindparam("new_status"), cancel_reason=bindparam("why"))
)

# --- A send's outcome ----------------------------------------------------------------
# Three writes: the delivery attempt, the message's new status, and (when final) its
# `message.status` event. SQLite, and a retry on either database: separate statements
# (ATTEMPT, then SENT / FAILED / RETRY; the event through `shared.events.publish`).
# PostgreSQL, for a final outcome: the three as data-modifying CTEs of one statement
# (PG_RECORD), or in front of the next message's claim (PG_RECORD_AND_CLAIM).

ATTEMPT = insert(DeliveryAttempt.__table__)
SENT = (
    update(_messages)
    .where(_messages.c.id == bindparam("m_id"))
    .values(status="sent", sent_at=bindparam("at"), provider_message_id=bindparam("provider_id"))
)
RETRY = (
    update(_messages)
    .where(_messages.c.id == bindparam("m_id"))
    .values(status="planned", queued_at=None, failed_reason=bindparam("why"),
            next_attempt_at=bindparam("retry_at"))
)
FAILED = (
    update(_messages)
    .where(_messages.c.id == bindparam("m_id"))
    .values(status="failed", failed_reason=bindparam("why"))
)


def _outcome_ctes(status: str) -> tuple[Any, Any, Any]:
    """PostgreSQL: the delivery attempt, the `message.status` event and the outcome update of
    a message (`r_*` and `ev_*` parameters), as three data-modifying CTEs."""
    attempt = insert(DeliveryAttempt.__table__).values(
        message_id=bindparam("r_id"), attempted_at=bindparam("r_at"),
        outcome=bindparam("r_kind"), detail=bindparam("r_detail"),
    )
    event = insert(OUTBOX).values(
        id=bindparam("ev_id", type_=OUTBOX.c.id.type), type=bindparam("ev_type"),
        payload=bindparam("ev_payload", type_=OUTBOX.c.payload.type),
        created_at=bindparam("ev_at"), attempts=0,
    )
    if status == "sent":
        values = {"sent_at": bindparam("r_at"), "provider_message_id": bindparam("r_provider_id")}
    else:
        values = {"failed_reason": bindparam("r_why")}
    outcome = (update(_messages).where(_messages.c.id == bindparam("r_id"))
               .values(status=literal(status), **values))
    return attempt.cte("attempt"), event.cte("event"), outcome.cte("outcome")


def _with_outcome(statement: Any, status: str) -> Any:
    for cte in _outcome_ctes(status):
        statement = statement.add_cte(cte)
    return statement


# PostgreSQL, keyed by the final status (`sent`, `failed`): a message's outcome as one
# statement, `WITH attempt AS (INSERT …), event AS (INSERT …), outcome AS (UPDATE …)
# SELECT 1` (the last outcome of a batch, or one followed by no claim). Same transaction,
# same rows as the three statements; Python CPU per sent message 0.79 → 0.71 ms
# (bench/README.md, outreach, change 2).
PG_RECORD = {status: _with_outcome(select(literal(1)), status) for status in ("sent", "failed")}
# PostgreSQL: the previous message's outcome as CTEs in front of the next message's CLAIM
# (different rows, one transaction as before): one round trip per message. Python CPU per
# sent message 0.72–0.74 → 0.54–0.61 ms, ratio to a plain smtplib loop 0.58–0.60 →
# 0.67–0.71 (bench/README.md, outreach, change 4).
PG_RECORD_AND_CLAIM = {status: _with_outcome(CLAIM, status) for status in ("sent", "failed")}

# A permanent failure reported after the message left (a bounce by mail): only a message
# that went (or may have: in doubt) is failed, once; a second report finds nothing to change.
FAILED_LATE = (
    update(_messages)
    .where(_messages.c.id == bindparam("m_id"),
           _messages.c.status.in_(("sent", "delivered", "in_doubt")))
    .values(status="failed", failed_reason=bindparam("why"))
    .returning(_messages.c.alumnus_id)
)
