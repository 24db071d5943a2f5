"""The call list of a wave: who staff should phone or message next, and what came of it.

Low response is the main problem of a tracer study, and centres close the gap by phoning and
messaging alumni from staff phones. The call list holds a wave's targets who have not
answered (the follow-up status of services/survey/followup.py, computed by the same query),
minus those a contact already settled (they refused, or are not eligible), in the order of
who most needs a contact:

1. `callback_due`: the latest attempt asked to call back, on a date that has come;
2. `reminders_done`: invited (or opened, or partial) and no message of the wave is still
   to be sent to them: the last reminder went, and no answer came;
3. `never_reached`: no message reached them (unreachable, or not invited);
4. `waiting`: the rest: reminders still to come, or a callback on a later date.

Within a group, fewer attempts first, then by registration number.

Attempts are rows that are only added (`contact_attempts`): an outcome from OUTCOMES, each
mapped to the AAPOR disposition code it is evidence of, and for a callback its date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, null, or_, select, union_all
from sqlalchemy.orm import Session

from services.survey import followup
from services.survey.followup import target_alumnus, wave_step_ids
from services.survey.waves import SurveyError
from shared.centre import centre
from shared.db import insert_for
from shared.i18n import translated as _
from shared.models import (
    Alumnus,
    CallState,
    Cohort,
    ContactAttempt,
    Program,
    Response,
    User,
    Wave,
    WaveTarget,
    utcnow,
)
from shared.web import MAX_ROW_ID

# outcome → the AAPOR disposition it is evidence of (docs/indicators.md, "Response rates"):
# I complete, P partial, R refusal, NC non-contact (reached, no interview yet),
# UH unknown: never reached, UO unknown: the channel failed, NE not eligible.
OUTCOMES: dict[str, str] = {
    "completed": "I",         # the interview was completed (entered by staff)
    "partial": "P",           # started, not finished
    "refused": "R",
    "callback": "NC",         # someone else answered, or not available now: call back on a date
    "cannot_take_part": "O",  # reached, cannot take part (illness, language)
    "no_answer": "UH",        # it rang, nobody answered
    "number_inactive": "UO",  # the number is not active
    "wrong_number": "UO",     # the number is not theirs
    "not_eligible": "NE",     # e.g. deceased, never completed the training
}
# What a staff phone's WhatsApp chat records when opened from the list: a try, no outcome yet.
CHAT_OPENED = "chat_opened"
CHANNELS = ("phone", "whatsapp")
# An attempt with one of these settles the alumnus for this wave: off the list.
SETTLED = ("completed", "refused", "not_eligible")
GROUPS = ("callback_due", "reminders_done", "never_reached", "waiting")
ON_LIST = ("invited", "opened", "partial", "unreachable", "not_invited")
# Messages of the wave still to go out to an alumnus (outreach's statuses, read here).
PENDING = ("planned", "queued")
PAGE_SIZE = 50
MAX_NOTE = 500
RECENT_ATTEMPTS = 3


@dataclass(frozen=True)
class CallFilters:
    """The list's filters; None means any. `assigned` is a user id, or 0 for nobody."""

    program_id: int | None = None
    cohort_id: int | None = None
    assigned: int | None = None
    group: str | None = None

    @classmethod
    def parse(cls, values: Any, *, me: int | None) -> CallFilters:
        """From query-string arguments (`program`, `cohort`, `assigned` = a user id, `me`
        or `none`, `group`); a bad value raises SurveyError naming the field."""
        def number(name: str, text: str) -> int | None:
            if not text:
                return None
            if not text.isdigit() or int(text) > MAX_ROW_ID:
                raise SurveyError(name, _("must be a number"))
            return int(text)

        assigned_text = (values.get("assigned") or "").strip()
        assigned = {"me": me, "none": 0}.get(assigned_text) if assigned_text in ("me", "none") \
            else number("assigned", assigned_text)
        group = (values.get("group") or "").strip() or None
        if group not in (None, *GROUPS):
            raise SurveyError("group", _("must be one of %(choices)s", choices=", ".join(GROUPS)))
        return cls(number("program", (values.get("program") or "").strip()),
                   number("cohort", (values.get("cohort") or "").strip()), assigned, group)

    def args(self, *, me: int | None = None) -> dict[str, Any]:
        assigned: Any = self.assigned
        if assigned == 0:
            assigned = "none"
        elif assigned is not None and assigned == me:
            assigned = "me"
        return {name: value for name, value in (
            ("program", self.program_id), ("cohort", self.cohort_id),
            ("assigned", assigned), ("group", self.group)) if value is not None}


class Attempt(NamedTuple):
    created_at: Any
    channel: str
    outcome: str
    callback_on: date | None
    note: str | None
    staff: str | None


class Entry(NamedTuple):
    alumnus_id: int
    registration_no: str
    full_name: str | None
    program: str
    cohort: str
    phone: str | None
    status: str
    group: str
    attempts: int
    assigned_to: str | None
    callback_on: date | None
    recent: list[Attempt]


def _listed(session: Session, wave_id: int, filters: CallFilters, today: date) -> Any:
    """THE call-list statement: every target on the list with its group, attempt count and
    assignee, as a CTE that the page's counts and its rows both read (so PostgreSQL
    computes each target's status once per request).

    Each target's status is followup's rule (`status_column`), fed by one pass over the
    wave's messages (`message_facts`) rather than a probe per target, since the list needs
    every target's status to count its groups; attempts are read from `call_states`, one
    row per target that was tried (bench/call_list.py)."""
    followup._no_jit(session)
    step_ids = wave_step_ids(session, wave_id)
    targets = None
    if filters.program_id is not None or filters.cohort_id is not None:
        targets = select(WaveTarget.alumnus_id).where(WaveTarget.wave_id == wave_id)
        if filters.program_id is not None:
            targets = targets.where(WaveTarget.program_id == filters.program_id)
        if filters.cohort_id is not None:
            targets = targets.where(WaveTarget.cohort_id == filters.cohort_id)
    facts = followup.message_facts(step_ids, targets) if step_ids else None
    status = followup.status_column(
        session, wave_id, facts.c.contact if facts is not None else None)
    pending = facts.c.pending == 1 if facts is not None else literal(False)
    group = case(
        (and_(CallState.last_outcome == "callback", CallState.callback_on <= today),
         "callback_due"),
        (and_(CallState.last_outcome == "callback", CallState.callback_on > today), "waiting"),
        (status.in_(("unreachable", "not_invited")), "never_reached"),
        (pending, "waiting"),
        else_="reminders_done",
    )
    query = (
        select(WaveTarget.alumnus_id, Alumnus.registration_no, status.label("status"),
               group.label("call_group"),
               func.coalesce(CallState.attempts, 0).label("tries"),
               CallState.assignee_id, CallState.callback_on)
        .select_from(WaveTarget)
        .join(Alumnus, Alumnus.id == WaveTarget.alumnus_id)
        .outerjoin(Response, and_(Response.wave_id == WaveTarget.wave_id,
                                  Response.alumnus_id == WaveTarget.alumnus_id))
        .outerjoin(CallState, and_(CallState.wave_id == WaveTarget.wave_id,
                                   CallState.alumnus_id == WaveTarget.alumnus_id))
        .where(WaveTarget.wave_id == wave_id,
               or_(CallState.last_outcome.is_(None), CallState.last_outcome.not_in(SETTLED)))
    )
    if facts is not None:
        query = query.outerjoin(facts, facts.c.alumnus_id == WaveTarget.alumnus_id)
    if filters.program_id is not None:
        query = query.where(WaveTarget.program_id == filters.program_id)
    if filters.cohort_id is not None:
        query = query.where(WaveTarget.cohort_id == filters.cohort_id)
    if filters.assigned == 0:
        query = query.where(CallState.assignee_id.is_(None))
    elif filters.assigned is not None:
        query = query.where(CallState.assignee_id == filters.assigned)
    found = query.cte("call_base")
    return (select(found).where(found.c.status.in_(ON_LIST))).cte("call_list")


def page(session: Session, wave_id: int, filters: CallFilters, number: int, *,
         today: date, size: int = PAGE_SIZE) -> tuple[list[Entry], bool, dict[str, int]]:
    """One page (1-based) of the list in call order, whether another follows, and how many
    are in each group (under the filters other than group): one statement, the counts and
    the page's rows as a UNION ALL over the list's CTE, then the page's details by id."""
    listed = _listed(session, wave_id, filters, today)
    order = case({name: index for index, name in enumerate(GROUPS)}, value=listed.c.call_group)
    tally = select(listed.c.call_group, func.count().label("n"), null().label("alumnus_id"),
                   null().label("registration_no"), null().label("tries"),
                   null().label("assignee_id"), null().label("callback_on"),
                   null().label("status"), null().label("rank")).group_by(listed.c.call_group)
    wanted = select(listed.c.call_group, literal(0).label("n"), listed.c.alumnus_id,
                    listed.c.registration_no, listed.c.tries, listed.c.assignee_id,
                    listed.c.callback_on, listed.c.status, order.label("rank"))
    if filters.group is not None:
        wanted = wanted.where(listed.c.call_group == filters.group)
    wanted_rows = (wanted.order_by(order, listed.c.tries, listed.c.registration_no)
                   .offset((number - 1) * size).limit(size + 1)).subquery("wanted")
    # The page's rows first: the union takes its column types (a date) from them.
    rows = session.execute(union_all(select(*wanted_rows.c), tally)).all()
    counted = {name: 0 for name in GROUPS}
    counted.update({row.call_group: row.n for row in rows if row.alumnus_id is None})
    counted["all"] = sum(counted[name] for name in GROUPS)
    picked = sorted((row for row in rows if row.alumnus_id is not None),
                    key=lambda row: (row.rank, row.tries, row.registration_no))
    return _entries(session, wave_id, picked[:size]), len(picked) > size, counted


def _entries(session: Session, wave_id: int, rows: list[Any]) -> list[Entry]:
    """The page's rows with names, programs, phones, assignees and recent attempts: read by
    id for the page only."""
    ids = [row.alumnus_id for row in rows]
    if not ids:
        return []
    details = {row.id: row for row in session.execute(
        select(Alumnus.id, Alumnus.full_name, Alumnus.phone, Program.name.label("program"),
               Cohort.label.label("cohort"))
        .join(WaveTarget, and_(WaveTarget.alumnus_id == Alumnus.id, WaveTarget.wave_id == wave_id))
        .join(Program, Program.id == WaveTarget.program_id)
        .join(Cohort, Cohort.id == WaveTarget.cohort_id)
        .where(Alumnus.id.in_(ids)))}
    names = dict(session.execute(select(User.id, User.username).where(
        User.id.in_({row.assignee_id for row in rows if row.assignee_id is not None}))).all())
    recent = history(session, wave_id, ids, limit=RECENT_ATTEMPTS)
    return [Entry(row.alumnus_id, row.registration_no, details[row.alumnus_id].full_name,
                  details[row.alumnus_id].program, details[row.alumnus_id].cohort,
                  details[row.alumnus_id].phone, row.status, row.call_group, row.tries,
                  names.get(row.assignee_id), row.callback_on, recent.get(row.alumnus_id, []))
            for row in rows]


def history(session: Session, wave_id: int, alumnus_ids: list[int],
            limit: int | None = None) -> dict[int, list[Attempt]]:
    """Each alumnus's attempts in the wave, newest first (at most `limit` each)."""
    ranked = (
        select(ContactAttempt.alumnus_id, ContactAttempt.created_at, ContactAttempt.channel,
               ContactAttempt.outcome, ContactAttempt.callback_on, ContactAttempt.note,
               User.username,
               func.row_number().over(partition_by=ContactAttempt.alumnus_id,
                                      order_by=ContactAttempt.id.desc()).label("rank"))
        .outerjoin(User, User.id == ContactAttempt.user_id)
        .where(ContactAttempt.wave_id == wave_id, ContactAttempt.alumnus_id.in_(alumnus_ids))
    ).subquery()
    query = select(ranked).order_by(ranked.c.alumnus_id, ranked.c.rank)
    if limit is not None:
        query = query.where(ranked.c.rank <= limit)
    found: dict[int, list[Attempt]] = {}
    for row in session.execute(query):
        found.setdefault(row.alumnus_id, []).append(Attempt(
            row.created_at, row.channel, row.outcome, row.callback_on, row.note, row.username))
    return found


def centre_today(session: Session) -> date:
    """Today where the centre is (a callback "today" is the centre's today, not UTC's)."""
    return datetime.now(ZoneInfo(centre(session).timezone)).date()


def record_attempt(session: Session, wave: Wave, alumnus_id: int, *, user_id: int | None,
                   channel: str, outcome: str, callback_on: date | None = None,
                   note: str | None = None, today: date) -> ContactAttempt:
    """Add one attempt (never changes an earlier one). A callback needs a date from today
    on; other outcomes take none. SurveyError names the field."""
    if channel not in CHANNELS:
        raise SurveyError("channel", _("must be one of %(choices)s", choices=", ".join(CHANNELS)))
    if outcome not in OUTCOMES and not (outcome == CHAT_OPENED and channel == "whatsapp"):
        raise SurveyError("outcome", _("must be one of %(choices)s", choices=", ".join(OUTCOMES)))
    if outcome == "callback":
        if callback_on is None:
            raise SurveyError("callback_on", _("a callback needs a date"))
        if callback_on < today:
            raise SurveyError("callback_on", _("the date has passed: choose today or later"))
    elif callback_on is not None:
        raise SurveyError("callback_on", _("only a callback takes a date"))
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise SurveyError("note", _("at most %(count)d characters", count=MAX_NOTE))
    alumnus = target_alumnus(session, wave, alumnus_id)
    if alumnus.erased_at is not None:
        raise SurveyError("alumnus", _("this alumnus was erased"), 409)
    attempt = ContactAttempt(wave_id=wave.id, alumnus_id=alumnus_id, user_id=user_id,
                             channel=channel, outcome=outcome, callback_on=callback_on, note=note)
    session.add(attempt)
    # The target's state moves with it, in the same transaction; an upsert, so two staff
    # recording at once both count (the later one's outcome stands).
    insert = insert_for(session)
    now = utcnow()
    state = insert(CallState).values(wave_id=wave.id, alumnus_id=alumnus_id, attempts=1,
                                     last_outcome=outcome, callback_on=callback_on,
                                     last_attempt_at=now)
    session.execute(state.on_conflict_do_update(
        index_elements=[CallState.wave_id, CallState.alumnus_id],
        set_={"attempts": CallState.attempts + 1, "last_outcome": outcome,
              "callback_on": callback_on, "last_attempt_at": now}))
    return attempt


def assign(session: Session, wave: Wave, alumnus_ids: list[int], user_id: int | None) -> int:
    """Assign the alumni to a staff member (None: unassign); how many changed. Ids that
    are not targets of the wave are ignored."""
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or not user.active or user.role not in ("operator", "admin"):
            raise SurveyError("user", _("not an active operator or admin"))
    targets = list(session.scalars(select(WaveTarget.alumnus_id).where(
        WaveTarget.wave_id == wave.id, WaveTarget.alumnus_id.in_(alumnus_ids))))
    if not targets:
        return 0
    existing = {row.alumnus_id: row for row in session.scalars(select(CallState).where(
        CallState.wave_id == wave.id, CallState.alumnus_id.in_(targets)))}
    changed = 0
    for alumnus_id in targets:
        row = existing.get(alumnus_id)
        if row is None:
            if user_id is None:
                continue
            row = CallState(wave_id=wave.id, alumnus_id=alumnus_id, attempts=0)
            session.add(row)
        if row.assignee_id != user_id:
            row.assignee_id = user_id
            changed += 1
    return changed


def staff(session: Session) -> list[tuple[int, str]]:
    """Who can be assigned: active operators and admins, by name."""
    return [tuple(row) for row in session.execute(
        select(User.id, User.username).where(User.active.is_(True),
                                             User.role.in_(("operator", "admin")))
        .order_by(User.username))]
