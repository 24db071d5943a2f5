"""Follow-up of a wave's alumni: who has answered, who has not, and what staff do about it.

One status per (wave, alumnus), computed by ONE query (`listing`) that the follow-up page,
its download and the API all use. The status, first match wins:

- `erased`: the alumnus was erased (UU PDP);
- `complete`: a complete response in this wave (it counts, whatever happened after);
- `opted_out`: consent withdrawn, or an opt-out from any channel;
- `partial`: a response saved but not finished;
- `opened`: the personal form was opened (wave_targets.opened_at), nothing saved;
- `invited`: a message of one of the wave's campaigns reached them (sending, sent,
  delivered, or in doubt: as outreach counts a message that reached someone);
- `unreachable`: no phone and no email, or the wave's messages to them all failed or were
  skipped;
- `not_invited`: none of the above.

"Belum menjawab" (`not_answered`) gathers everyone invited who has not completed:
invited, opened and partial.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from services.survey.roster import PROBLEM_TEXTS, parse_contact
from services.survey.waves import SurveyError
from shared.csvsafe import safe_cell
from shared.db import is_postgres
from shared.event_types import InvitationRequested
from shared.events import publish
from shared.i18n import translated
from shared.models import (
    Alumnus,
    Campaign,
    CampaignStep,
    Cohort,
    Message,
    OptOut,
    Program,
    Response,
    Wave,
    WaveTarget,
)
from shared.tokens import survey_link
from shared.web import MAX_ROW_ID

STATUSES = ("not_invited", "invited", "opened", "partial", "complete", "opted_out",
            "unreachable", "erased")
NOT_ANSWERED = "not_answered"
NOT_ANSWERED_STATUSES = ("invited", "opened", "partial")
# A message that reached its alumnus, and one that did not (outreach's statuses, read here).
REACHED = ("sending", "sent", "delivered", "in_doubt")
NOT_REACHED = ("failed", "skipped")
CHANNELS = ("email", "sms", "whatsapp")
PAGE_SIZE = 50
# The download's headers and status names: Indonesian, as the centre's staff read them.
STATUS_ID = {
    "not_invited": "belum diundang", "invited": "diundang", "opened": "membuka formulir",
    "partial": "sebagian", "complete": "lengkap", "opted_out": "menolak dihubungi",
    "unreachable": "tidak terjangkau", "erased": "dihapus",
}
HEADERS_ID = ("no_registrasi", "nama", "jenis_kelamin", "kejuruan", "angkatan", "no_hp",
              "email", "status")


@dataclass(frozen=True)
class Filters:
    """What the page, the API and the download filter by; None means any."""

    program_id: int | None = None
    cohort_id: int | None = None
    gender: str | None = None
    status: str | None = None  # one of STATUSES, or NOT_ANSWERED

    @classmethod
    def parse(cls, values: Any) -> Filters:
        """From query-string arguments (`program`, `cohort`, `gender`, `status`); a value
        that is not one of the choices raises SurveyError naming the field."""
        def number(name: str) -> int | None:
            text = (values.get(name) or "").strip()
            if not text:
                return None
            if not text.isdigit() or int(text) > MAX_ROW_ID:  # past it: no row, and an
                raise SurveyError(name, "must be a number")    # overflow in the driver
            return int(text)

        gender = (values.get("gender") or "").strip().upper() or None
        if gender not in (None, "L", "P"):
            raise SurveyError("gender", "must be L or P")
        status = (values.get("status") or "").strip() or None
        if status not in (None, NOT_ANSWERED, *STATUSES):
            raise SurveyError("status", f"must be one of {NOT_ANSWERED}, {', '.join(STATUSES)}")
        return cls(number("program"), number("cohort"), gender, status)

    def args(self) -> dict[str, Any]:
        """Back to query-string arguments (for paging and download links)."""
        return {name: value for name, value in (
            ("program", self.program_id), ("cohort", self.cohort_id),
            ("gender", self.gender), ("status", self.status)) if value is not None}


def wave_step_ids(session: Session, wave_id: int) -> list[int]:
    """The steps of the wave's campaigns: a handful, read once so the status probes the
    messages' unique key (step, alumnus) directly."""
    return list(session.scalars(
        select(CampaignStep.id).join(Campaign, Campaign.id == CampaignStep.campaign_id)
        .where(Campaign.wave_id == wave_id)))


# How far the wave's messages got to an alumnus: 2 one reached them, 1 all failed, 0 none sent.
CONTACT = case((Message.status.in_(REACHED), 2), (Message.status.in_(NOT_REACHED), 1), else_=0)


def message_facts(step_ids: list[int], alumni: Select[Any] | None = None) -> Any:
    """Per alumnus, over the wave's messages: `contact` (CONTACT's maximum) and `pending`
    (1 when a message is still to go out). One pass over the wave's messages (only those
    to `alumni`, a select of ids, when given: a filtered list reads its own), for a query
    that needs every target's status (the call list)."""
    query = (select(Message.alumnus_id, func.max(CONTACT).label("contact"),
                    func.max(case((Message.status.in_(("planned", "queued")), 1), else_=0))
                    .label("pending"))
             .where(Message.campaign_step_id.in_(step_ids)))
    if alumni is not None:
        query = query.where(Message.alumnus_id.in_(alumni))
    return query.group_by(Message.alumnus_id).subquery("message_facts")


def status_column(session: Session, wave_id: int,
                  contact: ColumnElement[Any] | None = None) -> ColumnElement[str]:
    """The status as one SQL expression over Alumnus, WaveTarget and the outer-joined
    Response of the wave (the order of the module docstring).

    The wave's messages are probed last, through the inner "simple" CASE, which reads the
    probe once: only targets not already erased, complete, opted out, partial or opened
    pay for it (bench/followup.py). A caller that joined `message_facts` passes its
    `contact` column instead of the probe.
    """
    step_ids = wave_step_ids(session, wave_id)
    no_address = and_(func.coalesce(Alumnus.phone, "") == "",
                      func.coalesce(Alumnus.email, "") == "")
    by_address = case((no_address, literal("unreachable", String)),
                      else_=literal("not_invited", String))
    if step_ids and contact is None:
        contact = (
            select(func.max(CONTACT))
            .where(Message.alumnus_id == Alumnus.id, Message.campaign_step_id.in_(step_ids))
            .correlate(Alumnus).scalar_subquery()
        )
    if step_ids:
        by_messages: Any = case({2: literal("invited", String),
                                 1: literal("unreachable", String)},
                                value=contact, else_=by_address)
    else:
        by_messages = by_address
    opted_out = or_(Alumnus.consent_withdrawn_at.is_not(None),
                    exists().where(OptOut.alumnus_id == Alumnus.id))
    return case(
        (Alumnus.erased_at.is_not(None), literal("erased", String)),
        (Response.status == "complete", literal("complete", String)),
        (opted_out, literal("opted_out", String)),
        (Response.status == "partial", literal("partial", String)),
        (WaveTarget.opened_at.is_not(None), literal("opened", String)),
        else_=by_messages,
    )


def statuses(session: Session, wave_id: int, filters: Filters,
             alumnus_id: int | None = None) -> Any:
    """THE follow-up query: (alumnus_id, registration_no, status) of every target matching
    the filters other than status, as a CTE. The page, its download, the API and one
    alumnus's status all read it; nothing else computes a status."""
    _no_jit(session)
    query = (
        select(WaveTarget.alumnus_id, Alumnus.registration_no,
               status_column(session, wave_id).label("status"))
        .select_from(WaveTarget)
        .join(Alumnus, Alumnus.id == WaveTarget.alumnus_id)
        .outerjoin(Response, and_(Response.wave_id == WaveTarget.wave_id,
                                  Response.alumnus_id == WaveTarget.alumnus_id))
        .where(WaveTarget.wave_id == wave_id)
    )
    if filters.program_id is not None:
        query = query.where(WaveTarget.program_id == filters.program_id)
    if filters.cohort_id is not None:
        query = query.where(WaveTarget.cohort_id == filters.cohort_id)
    if filters.gender is not None:
        query = query.where(WaveTarget.gender == filters.gender)
    if alumnus_id is not None:
        query = query.where(WaveTarget.alumnus_id == alumnus_id)
    return query.cte("followup_status")


def _status_filter(column: Any, status: str | None) -> Any:
    if status == NOT_ANSWERED:
        return column.in_(NOT_ANSWERED_STATUSES)
    return column == status if status is not None else true()


def _no_jit(session: Session) -> None:
    """PostgreSQL's JIT would compile this query for seconds: its estimate counts every
    per-row probe of messages at full cost, so it passes the JIT threshold, while the query
    itself runs in tens of milliseconds (bench/followup.py). Off for this transaction."""
    if is_postgres(session):
        session.execute(text("SET LOCAL jit = off"))


DETAILS = (Alumnus.id.label("alumnus_id"), Alumnus.registration_no, Alumnus.full_name,
           WaveTarget.gender, Program.name.label("program"), Cohort.label.label("cohort"),
           Alumnus.phone, Alumnus.email)


def _details(wave_id: int) -> Select[Any]:
    return (select(*DETAILS).select_from(WaveTarget)
            .join(Alumnus, Alumnus.id == WaveTarget.alumnus_id)
            .join(Program, Program.id == WaveTarget.program_id)
            .join(Cohort, Cohort.id == WaveTarget.cohort_id)
            .where(WaveTarget.wave_id == wave_id))


def listing(session: Session, wave_id: int, filters: Filters) -> Select[Any]:
    """Every target matching `filters` with its details and status, in registration-number
    order (the download)."""
    found = statuses(session, wave_id, filters)
    return (_details(wave_id).add_columns(found.c.status)
            .join(found, found.c.alumnus_id == WaveTarget.alumnus_id)
            .where(_status_filter(found.c.status, filters.status))
            .order_by(Alumnus.registration_no))


def _tally(found: dict[str, int]) -> dict[str, int]:
    result = {name: int(found.get(name, 0)) for name in STATUSES}
    result[NOT_ANSWERED] = sum(result[name] for name in NOT_ANSWERED_STATUSES)
    result["all"] = sum(result[name] for name in STATUSES)
    return result


def counts(session: Session, wave_id: int, filters: Filters) -> dict[str, int]:
    """How many targets have each status under the filters other than status, with the
    `not_answered` total and `all`."""
    found = statuses(session, wave_id, filters)
    return _tally(dict(session.execute(
        select(found.c.status, func.count()).group_by(found.c.status)).all()))


class Row(NamedTuple):
    alumnus_id: int
    registration_no: str
    full_name: str | None
    gender: str
    program: str
    cohort: str
    phone: str | None
    email: str | None
    status: str


def page_and_counts(session: Session, wave_id: int, filters: Filters, number: int,
                    size: int = PAGE_SIZE) -> tuple[list[Row], bool, dict[str, int]]:
    """One page of the list (1-based), whether another follows, and the counts per status:
    the statuses computed once, in one statement, then the page's details by id."""
    found = statuses(session, wave_id, filters)
    tally = select(found.c.status, func.count().label("n"), null().label("alumnus_id"),
                   null().label("registration_no")).group_by(found.c.status)
    wanted = (select(found.c.status, literal(0).label("n"), found.c.alumnus_id,
                     found.c.registration_no)
              .where(_status_filter(found.c.status, filters.status))
              .order_by(found.c.registration_no)
              .offset((number - 1) * size).limit(size + 1)).subquery("wanted")
    rows = session.execute(union_all(tally, select(*wanted.c))).all()
    counted = {row.status: row.n for row in rows if row.alumnus_id is None}
    picked = sorted((row for row in rows if row.alumnus_id is not None),
                    key=lambda row: row.registration_no)
    status_by_id = {row.alumnus_id: row.status for row in picked[:size]}
    details = session.execute(
        _details(wave_id).where(WaveTarget.alumnus_id.in_(list(status_by_id)))
        .order_by(Alumnus.registration_no)).all() if status_by_id else []
    return ([Row(*detail, status_by_id[detail.alumnus_id]) for detail in details],
            len(picked) > size, _tally(counted))


def page(session: Session, wave_id: int, filters: Filters, number: int,
         size: int = PAGE_SIZE) -> tuple[list[Row], bool]:
    """One page of the list (1-based) and whether another follows."""
    rows, has_next, _ = page_and_counts(session, wave_id, filters, number, size)
    return rows, has_next


def status_of(session: Session, wave_id: int, alumnus_id: int) -> str | None:
    """One alumnus's status in the wave (None when not a target), by the same query."""
    found = statuses(session, wave_id, Filters(), alumnus_id)
    return session.scalar(select(found.c.status))


# --- the download -----------------------------------------------------------------------


def _cells(row: Any) -> list[str]:
    return [safe_cell(value) for value in (
        row.registration_no, row.full_name, row.gender, row.program, row.cohort, row.phone,
        row.email, STATUS_ID[row.status])]


def download(session: Session, wave_id: int, filters: Filters, kind: str) -> tuple[bytes, int]:
    """The filtered list as CSV or XLSX with Indonesian headers, every cell formula-safe
    (shared/csvsafe.py); returns the file and how many alumni it lists."""
    rows = session.execute(listing(session, wave_id, filters))
    if kind == "csv":
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(HEADERS_ID)
        count = 0
        for row in rows:
            writer.writerow(_cells(row))
            count += 1
        return ("\ufeff" + text.getvalue()).encode(), count  # BOM: Excel reads it as UTF-8
    from openpyxl import Workbook  # only XLSX downloads pay for loading openpyxl

    book = Workbook(write_only=True)
    sheet = book.create_sheet("alumni")
    sheet.append(list(HEADERS_ID))
    count = 0
    for row in rows:
        sheet.append(_cells(row))
        count += 1
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue(), count


# --- one alumnus: contacts, invitation, link ---------------------------------------------


def target_alumnus(session: Session, wave: Wave, alumnus_id: int) -> Alumnus:
    """The alumnus, when a target of the wave; else SurveyError 404."""
    alumnus = session.get(Alumnus, alumnus_id)
    targeted = session.scalar(select(WaveTarget.alumnus_id).where(
        WaveTarget.wave_id == wave.id, WaveTarget.alumnus_id == alumnus_id))
    if alumnus is None or targeted is None:
        raise SurveyError("alumnus", "this alumnus is not a target of this wave", 404)
    return alumnus


def correct_contact(session: Session, alumnus: Alumnus, *, phone: str | None = None,
                    email: str | None = None) -> dict[str, dict[str, str | None]]:
    """Set the phone and/or email (None: leave as is; "" clears it), checked as the roster
    import checks them. Returns what changed, each with its old and new value (the audit
    entry keeps the old one)."""
    if alumnus.erased_at is not None:
        raise SurveyError("alumnus", "this alumnus was erased", 409)
    wanted: dict[str, str | None] = {}
    errors = []
    for column, value in (("phone", phone), ("email", email)):
        if value is None:
            continue
        try:
            wanted[column] = parse_contact(column, value)
        except ValueError as exc:
            # The import's own sentence for it, in the request's language (PROBLEM_TEXTS
            # entries are msgids; the import pages translate them the same way).
            problem = getattr(exc, "problem", None)
            message = (problem.text(None, translated(PROBLEM_TEXTS[problem.code]))
                       if problem is not None else str(exc))
            errors.append(SurveyError(column, message))
    if errors:
        raise errors[0]
    changes = {}
    for column, new in wanted.items():
        old = getattr(alumnus, column)
        if old != new:
            changes[column] = {"old": old, "new": new}
            setattr(alumnus, column, new)
    return changes


def request_invitation(session: Session, wave: Wave, alumnus_id: int, channel: str) -> None:
    """Ask outreach to send the invitation again on `channel` (event `invitation.requested`;
    outreach sends exactly one message per request)."""
    if channel not in CHANNELS:
        raise SurveyError("channel", f"must be one of {', '.join(CHANNELS)}")
    if wave.status != "open":
        raise SurveyError("status", f"the wave is {wave.status}, not open", 409)
    alumnus = target_alumnus(session, wave, alumnus_id)
    if alumnus.erased_at is not None or alumnus.consent_withdrawn_at is not None:
        raise SurveyError("alumnus", "this alumnus may not be contacted", 409)
    address = alumnus.email if channel == "email" else alumnus.phone
    if not address:
        raise SurveyError("channel", f"no address for {channel}: correct the contact first")
    publish(session, InvitationRequested(wave_id=wave.id, alumnus_id=alumnus_id, channel=channel))


def personal_link(session: Session, wave: Wave, alumnus_id: int, *, base_url: str,
                  secret_key: str) -> str:
    """The alumnus's personal link for the wave (the same as the messages carry)."""
    alumnus = target_alumnus(session, wave, alumnus_id)
    if alumnus.erased_at is not None:
        raise SurveyError("alumnus", "this alumnus was erased", 409)
    return survey_link(base_url, secret_key, wave.id, alumnus_id)


def answers_of(session: Session, wave_id: int, alumnus_id: int) -> Response | None:
    return session.scalar(select(Response).where(Response.wave_id == wave_id,
                                                 Response.alumnus_id == alumnus_id))
