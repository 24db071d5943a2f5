"""AAPOR response rates of a wave: each target's final disposition, from the tables.

Every target of the wave (or of a program, cohort or gender of it) gets the one final
disposition `aapor.disposition` gives its evidence (docs/indicators.md, "Response rates from
dispositions"): its response (status, and `source`, the mode), consent withdrawn or an
opt-out (refusal), the messages of the wave's campaigns (sent or delivered: contacted;
failed for good, as `statements.failed_for_good` says; anything else: pending) and the
contact attempts of the wave (`contact_attempts`, every outcome ever recorded: an attempt is
never overwritten). The counts go to `aapor.rates`.

How: one statement reads, per target, only what the rule looks at (a complete or partial
response, refused, delivered, any failure for good, anything pending, and which kinds of
call outcome it has), then groups the targets by that evidence. A wave has a few dozen
distinct kinds of evidence whatever its size, so Python applies `aapor.disposition` (the
one copy of the rule) to each kind once and weighs it by its count: the rule stays in one
place and the work in Python does not grow with the wave.

When: the readers (API, dashboard) take `current_response_rates`, summed from the wave's
dispositions by cell (`dispositions_by_cell`: the same statement grouped by program, cohort
and gender as well), one read for every filter and breakdown, which the app keeps
(`indicator_cache.KeptReads`), fresh for the wave's snapshot view (a refresh, or a live
update after a response or a message status) and the newest contact attempt (a call is not
an event the snapshots follow; its id is one index lookup). A wave whose read takes longer
than a request should wait (7 s at 1M responses on a loaded 2-core machine, 2.8 s at
100,000 targets and 300,000 attempts: bench/analytics.py, bench/response_rates.py) answers
the kept rates while one background thread reads them again; every wave a centre runs reads
in milliseconds, in the request. An opt-out or a withdrawn consent shows with the next
change of the snapshot, as in the snapshot's own dispositions.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from services.analytics.aapor import CALL_EVIDENCE, CHANNEL_FAILED, CODES, Evidence, Rates
from services.analytics.aapor import disposition as disposition_of
from services.analytics.aapor import rates as aapor_rates
from services.analytics.cells import CellKey
from services.analytics.indicator_cache import kept_read
from services.analytics.indicators import select as select_cells
from services.analytics.measures import count_where
from services.analytics.statements import CONTACTED_STATUSES, failed_for_good
from shared.models import (
    Alumnus,
    Campaign,
    CampaignStep,
    ContactAttempt,
    Message,
    OptOut,
    Response,
    WaveTarget,
)

# The modes a response records (Response.source), always reported, in this order.
MODES = ("web", "api", "paper", "phone", "event")
# A complete interview known only from a call outcome ("completed", no complete response
# stored yet) was obtained by phone.
CALL_MODE = "phone"
# The call outcomes the rule tells apart; any other outcome (no answer, a chat opened) is
# only a try, and is read as one.
_TOLD_APART = (*CALL_EVIDENCE, *CHANNEL_FAILED)
_ANOTHER_TRY = "no_answer"
RATE_NAMES = ("rr1", "rr2", "rr3", "rr4", "coop1", "ref1", "con1")  # keys of the API


@dataclass(frozen=True)
class ResponseRates:
    """The disposition counts of a selection of targets, their rates, and the completes
    per mode (`by_mode`: mode → I of that mode; rate_by_mode: that / D)."""

    counts: dict[str, int]
    rates: Rates
    completes_by_mode: dict[str, int]

    @property
    def d(self) -> int:
        """D: every target of known or unknown eligibility (all but NE)."""
        return sum(count for code, count in self.counts.items() if code != "NE")

    @property
    def rate_by_mode(self) -> dict[str, Fraction | None]:
        d = self.d
        return {mode: Fraction(count, d) if d else None
                for mode, count in self.completes_by_mode.items()}

    def as_json(self) -> dict[str, Any]:
        """The indicators API's keys (floats; null: no denominator)."""
        def number(value: Fraction | None) -> float | None:
            return None if value is None else float(value)

        rates = self.rates
        return {
            **{name: number(getattr(rates, name)) for name in RATE_NAMES},
            "aapor_e": {"value": number(rates.e), "basis": rates.e_basis},
            "aapor_dispositions": dict(self.counts),
            "response_rate_by_mode": {mode: number(rate)
                                      for mode, rate in self.rate_by_mode.items()},
        }

    def hidden(self) -> dict[str, Any]:
        """`as_json` with no number: the selection is hidden by the small-group rule."""
        shown = self.as_json()
        return {
            **dict.fromkeys(RATE_NAMES),
            "aapor_e": {"value": None, "basis": shown["aapor_e"]["basis"]},
            "aapor_dispositions": dict.fromkeys(self.counts),
            "response_rate_by_mode": dict.fromkeys(shown["response_rate_by_mode"]),
        }


def response_rates(session: Session, wave_id: int, *, program: int | None = None,
                   cohort: int | None = None, gender: str | None = None) -> ResponseRates:
    """The wave's (or the filtered part's) dispositions and AAPOR rates, read now."""
    counts: Counter[str] = Counter()
    by_mode: Counter[str] = Counter()
    for row in _hashed(session, _evidence_statement(wave_id, program, cohort, gender)):
        _count(row, counts, by_mode)
    return _rates(counts, by_mode)


def response_rates_by_program(session: Session, wave_id: int, *, cohort: int | None = None,
                              gender: str | None = None) -> dict[int, ResponseRates]:
    """`response_rates` of each program of the wave (or of its cohort or gender), from one
    read of the wave's dispositions by cell, not one read per program."""
    return dispositions_by_cell(session, wave_id).by_program(cohort=cohort, gender=gender)


# A cell of the wave's targets → its targets per final disposition and its completes per mode.
CellCounts = dict[CellKey, tuple[Counter[str], Counter[str]]]
_RATES_KEEP = 4096  # filters whose rates a read keeps


class Dispositions:
    """Every cell's final dispositions, from one read (`dispositions_by_cell`), and the
    rates of each filter summed from them, kept with them: the whole wave's sum runs over
    2,000 cells at 1M responses (~7 ms), and the readers ask the same few filters again
    and again while the read is current. Never changed once read."""

    def __init__(self, cells: CellCounts) -> None:
        self.cells = cells
        self._rates: dict[tuple[int | None, int | None, str | None], ResponseRates] = {}
        self._lock = threading.Lock()

    def rates(self, *, program: int | None = None, cohort: int | None = None,
              gender: str | None = None) -> ResponseRates:
        """`response_rates` of the filtered part, summed from its cells."""
        key = (program, cohort, gender)
        with self._lock:
            found = self._rates.get(key)
        if found is not None:
            return found
        counts: Counter[str] = Counter()
        by_mode: Counter[str] = Counter()
        for _key, (cell_counts, cell_modes) in select_cells(
                self.cells.items(), program=program, cohort=cohort, gender=gender):
            counts.update(cell_counts)
            by_mode.update(cell_modes)
        found = _rates(counts, by_mode)
        with self._lock:
            if len(self._rates) >= _RATES_KEEP:
                self._rates.clear()
            self._rates[key] = found
        return found

    def by_program(self, *, cohort: int | None = None,
                   gender: str | None = None) -> dict[int, ResponseRates]:
        """The rates of each program holding targets of this cohort and gender."""
        programs = sorted({key.program_id for key, _ in select_cells(
            self.cells.items(), cohort=cohort, gender=gender)})
        return {program_id: self.rates(program=program_id, cohort=cohort, gender=gender)
                for program_id in programs}


def dispositions_by_cell(session: Session, wave_id: int) -> Dispositions:
    """Every cell's final dispositions, read now by the evidence statement grouped by cell
    as well: one read from which the rates of any filter or breakdown are sums. At 1M
    responses the read costs what the whole wave's alone did (the same rows, a few more
    groups), and a program's rates no longer cost a read of their own (4 s before, the
    same scan of the wave's messages)."""
    cells: CellCounts = {}
    for row in _hashed(session, _evidence_statement(wave_id, None, None, None, by_cell=True)):
        counts, by_mode = cells.setdefault(CellKey(row.program_id, row.cohort_id, row.gender),
                                           (Counter(), Counter()))
        _count(row, counts, by_mode)
    return Dispositions(cells)


def _hashed(session: Session, statement: Any) -> list[Any]:
    """The rows of an evidence statement, on PostgreSQL grouped by hashing: the planner
    takes each grouping expression for as many groups as targets (1.3M at 1M responses;
    there are a few dozen kinds of evidence per cell) and sorted every target on disk
    first: 20 s by cell, 7 s for the whole wave at 1M, against 4.4 s and 3.7 s hashed
    (bench/README.md). The setting holds for this statement only; the transaction's
    other statements keep the server's."""
    if session.get_bind().dialect.name != "postgresql":
        return list(session.execute(statement))
    before = session.scalar(select(func.current_setting("enable_sort")))
    session.execute(select(func.set_config("enable_sort", "off", True)))
    try:
        return list(session.execute(statement))
    finally:
        session.execute(select(func.set_config("enable_sort", before, True)))


def _count(row: Any, counts: Counter[str], by_mode: Counter[str]) -> None:
    """Add one row of the evidence statement (a kind of evidence with the number of targets
    holding it) to the counts per disposition and the completes per mode."""
    evidence = Evidence(
        response=row.response if row.response in ("complete", "partial") else None,
        refused=bool(row.refused), delivered=bool(row.delivered),
        failed_for_good=int(bool(row.failed)), pending=int(bool(row.pending)),
        calls=tuple(outcome for outcome in _TOLD_APART if row._mapping[f"call_{outcome}"])
        + ((_ANOTHER_TRY,) if row.other_calls else ()),
    )
    code = disposition_of(evidence)
    counts[code] += row.targets
    if code == "I":
        by_mode[row.source if row.response == "complete" else CALL_MODE] += row.targets


def _rates(counts: Counter[str], by_mode: Counter[str]) -> ResponseRates:
    tallied = {code: counts.get(code, 0) for code in CODES}
    return ResponseRates(tallied, aapor_rates(tallied),
                         {**dict.fromkeys(MODES, 0), **by_mode})


def current_response_rates(session: Session, wave_id: int, snapshot: Any, *,
                           program: int | None = None, cohort: int | None = None,
                           gender: str | None = None) -> ResponseRates:
    """`response_rates`, from the wave's dispositions by cell as the app keeps them
    (`indicator_cache.KeptReads`): fresh for this view of the wave's snapshot and the
    newest contact attempt (see the module docstring). Every filter shares the one read."""
    return _kept(session, wave_id, snapshot).rates(program=program, cohort=cohort,
                                                   gender=gender)


def current_response_rates_by_program(session: Session, wave_id: int, snapshot: Any, *,
                                      cohort: int | None = None, gender: str | None = None
                                      ) -> dict[int, ResponseRates]:
    """`response_rates_by_program`, from the same kept read as `current_response_rates`."""
    return _kept(session, wave_id, snapshot).by_program(cohort=cohort, gender=gender)


def _kept(session: Session, wave_id: int, snapshot: Any) -> Dispositions:
    newest_attempt = session.scalar(select(func.max(ContactAttempt.id)))
    return kept_read(session, (str(session.get_bind().url), wave_id, "dispositions_by_cell"),
                     snapshot, newest_attempt,
                     lambda reader: dispositions_by_cell(reader, wave_id))


def _flag(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return case((condition, 1), else_=0)


def _evidence_statement(wave_id: int, program: int | None, cohort: int | None,
                        gender: str | None, *, by_cell: bool = False) -> Any:
    targets = WaveTarget.__table__
    conditions = [targets.c.wave_id == wave_id]
    for column, value in (("program_id", program), ("cohort_id", cohort), ("gender", gender)):
        if value is not None:
            conditions.append(targets.c[column] == value)

    messages = Message.__table__
    steps_of_wave = (select(CampaignStep.id).join(Campaign, Campaign.id == CampaignStep.campaign_id)
                     .where(Campaign.wave_id == wave_id))
    # Per alumnus, before the join (messages and attempts would otherwise multiply).
    message_counts = (
        select(messages.c.alumnus_id, func.count().label("total"),
               count_where(messages.c.status.in_(CONTACTED_STATUSES)).label("contacted"),
               count_where(failed_for_good(messages)).label("failed"))
        .where(messages.c.campaign_step_id.in_(steps_of_wave))
        .group_by(messages.c.alumnus_id)
        .subquery("message_counts")
    )
    attempts = ContactAttempt.__table__
    call_flags = (
        select(attempts.c.alumnus_id,
               *(func.max(_flag(attempts.c.outcome == outcome)).label(f"call_{outcome}")
                 for outcome in _TOLD_APART),
               func.max(_flag(attempts.c.outcome.not_in(_TOLD_APART))).label("other_calls"))
        .where(attempts.c.wave_id == wave_id)
        .group_by(attempts.c.alumnus_id)
        .subquery("call_flags")
    )
    responses = Response.__table__
    alumni = Alumnus.__table__
    refused = or_(alumni.c.consent_withdrawn_at.is_not(None),
                  exists().where(OptOut.alumnus_id == targets.c.alumnus_id))
    zero = func.coalesce
    per_target = (
        select(
            responses.c.status.label("response"),
            # The mode matters for complete responses only.
            case((responses.c.status == "complete", responses.c.source)).label("source"),
            _flag(refused).label("refused"),
            _flag(zero(message_counts.c.contacted, 0) > 0).label("delivered"),
            _flag(zero(message_counts.c.failed, 0) > 0).label("failed"),
            _flag(zero(message_counts.c.total, 0) - zero(message_counts.c.contacted, 0)
                  - zero(message_counts.c.failed, 0) > 0).label("pending"),
            *(zero(call_flags.c[f"call_{outcome}"], 0).label(f"call_{outcome}")
              for outcome in _TOLD_APART),
            zero(call_flags.c.other_calls, 0).label("other_calls"),
            *((targets.c.program_id, targets.c.cohort_id, targets.c.gender) if by_cell
              else ()),
        )
        .select_from(
            targets.join(alumni, alumni.c.id == targets.c.alumnus_id)
            .outerjoin(responses, and_(responses.c.wave_id == wave_id,
                                       responses.c.alumnus_id == targets.c.alumnus_id))
            .outerjoin(message_counts, message_counts.c.alumnus_id == targets.c.alumnus_id)
            .outerjoin(call_flags, call_flags.c.alumnus_id == targets.c.alumnus_id)
        )
        .where(*conditions)
        .subquery("evidence")
    )
    columns = [column for column in per_target.c]
    return (select(*columns, func.count().cast(Integer).label("targets"))
            .group_by(*columns))
