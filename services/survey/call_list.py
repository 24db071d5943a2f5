"""The call list of a wave: who staff should phone or message next, and what came of it.

Low response is the main problem of a tracer study, and centres close the gap by phoning and
messaging alumni from staff phones. The call list holds a wave's targets who have not
answered (the follow-up status of services/survey/followup.py, whose facts call_states
keeps per target: services/survey/call_list_state.py), minus those a contact already
settled (they refused, or are not eligible), in the order of who most needs a contact:

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

from sqlalchemy import and_, case, exists, func, literal, or_, select, update
from sqlalchemy.orm import Session

from services.survey import call_list_state
from services.survey.followup import target_alumnus
from services.survey.waves import SurveyError
from shared.centre import centre
from shared.i18n import translated as _
from shared.models import (
    Alumnus,
    CallState,
    Cohort,
    ContactAttempt,
    OptOut,
    Program,
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
PAGE_SIZE = 50
MAX_NOTE = 500
RECENT_ATTEMPTS = 3
MEND_PASSES = 4  # pages read at most, when the first shows rows that drifted


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


def _rank(today: date) -> Any:
    """A target's group as its index in GROUPS: the stored facts, and the callback date
    compared with `today` (a callback is due from its date on, so "due" is never stored)."""
    callback = CallState.last_outcome == "callback"
    return case(
        (and_(callback, CallState.callback_on <= today), GROUPS.index("callback_due")),
        (callback, GROUPS.index("waiting")),
        (CallState.reached.is_(False), GROUPS.index("never_reached")),
        (CallState.pending.is_(True), GROUPS.index("waiting")),
        else_=GROUPS.index("reminders_done"),
    )


def _in_group(index: int, today: date) -> Any:
    """The condition of one group, as `_rank` would give it, written as plain conditions on
    the columns: so PostgreSQL sees that a callback group reads only callbacks, and walks
    `ix_call_states_callbacks` (a few percent of the wave) instead of the whole order."""
    callback = CallState.last_outcome == "callback"
    other = or_(CallState.last_outcome.is_(None), CallState.last_outcome != "callback")
    due = CallState.callback_on <= today
    later = or_(CallState.callback_on > today, CallState.callback_on.is_(None))
    return {
        GROUPS.index("callback_due"): and_(callback, due),
        GROUPS.index("reminders_done"): and_(other, CallState.reached.is_(True),
                                             CallState.pending.is_(False)),
        GROUPS.index("never_reached"): and_(other, CallState.reached.is_(False)),
        GROUPS.index("waiting"): or_(and_(callback, later),
                                     and_(other, CallState.reached.is_(True),
                                          CallState.pending.is_(True))),
    }[index]


def _on_list(wave_id: int, filters: CallFilters) -> list[Any]:
    """Who is on the list under the filters (but the group): the wave's call_states rows
    (services/survey/call_list_state.py keeps their facts) not closed, not settled by an
    attempt, and not opted out. Opt-outs are read here, not stored: no event announces one
    sent by SMS reply, and the list must not offer to call someone who said stop."""
    where = [CallState.wave_id == wave_id, CallState.closed.is_(False),
             or_(CallState.last_outcome.is_(None), CallState.last_outcome.not_in(SETTLED)),
             ~exists().where(OptOut.alumnus_id == CallState.alumnus_id)]
    if filters.program_id is not None:
        where.append(CallState.program_id == filters.program_id)
    if filters.cohort_id is not None:
        where.append(CallState.cohort_id == filters.cohort_id)
    if filters.assigned == 0:
        where.append(CallState.assignee_id.is_(None))
    elif filters.assigned is not None:
        where.append(CallState.assignee_id == filters.assigned)
    return where


class Listed(NamedTuple):
    """A row of the list's page: its place, and the call_states columns the card shows."""

    alumnus_id: int
    registration_no: str
    tries: int
    rank: int
    assignee_id: int | None
    callback_on: date | None
    closed: bool
    reached: bool
    pending: bool

    @property
    def call_group(self) -> str:
        return GROUPS[self.rank]


def _page_rows(session: Session, wave_id: int, filters: CallFilters, number: int,
               today: date, size: int) -> tuple[list[Listed], dict[str, int]]:
    """The page's rows (one more than `size`, to tell whether another page follows) and
    the count of each group.

    The counts are one pass over the wave's rows. They say which groups the page falls in
    (usually one): each is then read in call order (fewer attempts, then registration
    number) down `ix_call_states_order` (`ix_call_states_callbacks` for the callbacks),
    skipping the rows of the pages before, so the page costs tens or hundreds of index
    entries instead of sorting every row on the list. Two
    statements: an attempt recorded between them can move one alumnus across the page's
    edge, the next page shows it."""
    where = _on_list(wave_id, filters)
    rank = _rank(today)
    found = dict(session.execute(select(rank, func.count()).where(*where).group_by(rank)).all())
    counted = {name: int(found.get(index, 0)) for index, name in enumerate(GROUPS)}
    counted["all"] = sum(counted[name] for name in GROUPS)
    ranks = range(len(GROUPS)) if filters.group is None else [GROUPS.index(filters.group)]
    skip, wanted = (number - 1) * size, size + 1
    picked: list[Listed] = []
    for index in ranks:
        in_group = counted[GROUPS[index]]
        if skip >= in_group:
            skip -= in_group
            continue
        rows = session.execute(
            select(CallState.alumnus_id, CallState.registration_no, CallState.attempts,
                   literal(index), CallState.assignee_id, CallState.callback_on,
                   CallState.closed, CallState.reached, CallState.pending)
            .where(*where, _in_group(index, today))
            .order_by(CallState.attempts, CallState.registration_no)
            .offset(skip).limit(wanted - len(picked))).all()
        picked.extend(Listed(*row) for row in rows)
        skip = 0
        if len(picked) >= wanted:
            break
    return picked, counted


def page(session: Session, wave_id: int, filters: CallFilters, number: int, *,
         today: date, size: int = PAGE_SIZE) -> tuple[list[Entry], bool, dict[str, int]]:
    """One page (1-based) of the list in call order, whether another follows, and how many
    are in each group (under the filters other than group), then the page's details by id.

    The page's rows are re-checked against the follow-up rule (their exact status is shown
    on each card anyway); rows whose stored facts drifted (a change no event announced) are
    recomputed and the page read again, until none of its rows drifted (each pass mends at
    least one row; after MEND_PASSES the page shows what it has, without the rows the rule
    closed): what staff see is never stale. The caller commits (the mended rows)."""
    for _pass in range(MEND_PASSES):
        picked, counted = _page_rows(session, wave_id, filters, number, today, size)
        statuses, wrong = call_list_state.drifted(session, wave_id, picked[:size])
        if not wrong:
            break
        call_list_state.refresh(session, wave_id, wrong)
    shown = [row for row in picked[:size]
             if statuses.get(row.alumnus_id) not in call_list_state.CLOSED]
    return _entries(session, wave_id, shown, statuses), len(picked) > size, counted


def _entries(session: Session, wave_id: int, rows: list[Listed],
             statuses: dict[int, str]) -> list[Entry]:
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
                  details[row.alumnus_id].phone, statuses[row.alumnus_id], row.call_group,
                  row.tries, names.get(row.assignee_id), row.callback_on,
                  recent.get(row.alumnus_id, []))
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
    # The target's state moves with it, in the same transaction: its facts recomputed (the
    # row made if missing), then the count added to in the row, so two staff recording at
    # once both count (the later one's outcome stands).
    call_list_state.refresh(session, wave.id, [alumnus_id])
    session.execute(update(CallState).where(
        CallState.wave_id == wave.id, CallState.alumnus_id == alumnus_id).values(
        attempts=CallState.attempts + 1, last_outcome=outcome, callback_on=callback_on,
        last_attempt_at=utcnow()).execution_options(synchronize_session=False))
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
    missing = set(targets) - set(session.scalars(select(CallState.alumnus_id).where(
        CallState.wave_id == wave.id, CallState.alumnus_id.in_(targets))))
    call_list_state.refresh(session, wave.id, sorted(missing))
    changed = session.execute(update(CallState).where(
        CallState.wave_id == wave.id, CallState.alumnus_id.in_(targets),
        or_(CallState.assignee_id.is_(None), CallState.assignee_id != user_id)
        if user_id is not None else CallState.assignee_id.is_not(None))
        .values(assignee_id=user_id).execution_options(synchronize_session=False)).rowcount
    return changed


def staff(session: Session) -> list[tuple[int, str]]:
    """Who can be assigned: active operators and admins, by name."""
    return [tuple(row) for row in session.execute(
        select(User.id, User.username).where(User.active.is_(True),
                                             User.role.in_(("operator", "admin")))
        .order_by(User.username))]
