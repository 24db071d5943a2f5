"""Survey waves: creating, opening (fixing the population), adding late alumni, closing and
reopening; the intake's wave cache.

A wave's targets are fixed when it opens; alumni imported later are added on purpose
(`add_targets`), never silently. A closed wave can be reopened until a report of it was
published, meaning a PDF or XLSX export of it finished after it closed (`published_report`):
figures that went out on paper must not change under the reader.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from services.survey.questionnaire import Questionnaire, load_definition
from shared.errors import DomainError
from shared.event_types import WaveClosed, WaveOpened, WaveTargetsAdded
from shared.events import publish
from shared.i18n import translated as _
from shared.indicator_inputs import (
    INDICATOR_TITLES,
    InputsError,
    indicators_having,
    indicators_lacking,
)
from shared.indicator_mapping import input_problems, inputs_of, items_of
from shared.models import Alumnus, Cohort, Export, Wave, WaveTarget, utcnow
from shared.models import Questionnaire as QuestionnaireRow

WAVE_CACHE_SECONDS = 5.0


class SurveyError(DomainError):
    """A request the survey cannot honour; `field` names what to fix (422 / a form error)."""


@dataclass(frozen=True)
class WaveInfo:
    """What the intake needs of a wave, cached in memory for a few seconds."""

    id: int
    slug: str
    title: str
    questionnaire_id: int
    status: str
    opens_at: datetime | None
    closes_at: datetime | None

    def refusal(self, now: datetime) -> str | None:
        """Why this wave takes no answers now, or None when it does."""
        if self.status == "draft" or (self.opens_at and now < self.opens_at):
            return "this survey is not open yet"
        if self.status == "closed" or (self.closes_at and now >= self.closes_at):
            return "this survey is closed"
        return None


_wave_cache: dict[str, tuple[float, WaveInfo]] = {}
# Parsed questionnaire versions by (database engine, id): a version never changes, so one
# parse per process serves every request (the intake validates each submission with it).
# The engine object, not its URL rendered as text: this runs on every submission.
_questionnaire_cache: dict[tuple[object, int], Questionnaire] = {}


def wave_info(session: Session, slug: str, *, fresh: bool = False) -> WaveInfo | None:
    cached = _wave_cache.get(slug)
    if cached and not fresh and time.monotonic() - cached[0] < WAVE_CACHE_SECONDS:
        return cached[1]
    wave = session.scalar(select(Wave).where(Wave.slug == slug))
    if wave is None:
        return None
    info = WaveInfo(wave.id, wave.slug, wave.title, wave.questionnaire_id, wave.status,
                    wave.opens_at, wave.closes_at)
    _wave_cache[slug] = (time.monotonic(), info)
    return info


def wave_info_by_id(session: Session, wave_id: int) -> WaveInfo | None:
    slug = session.scalar(select(Wave.slug).where(Wave.id == wave_id))
    return wave_info(session, slug) if slug else None


def questionnaire(session: Session, questionnaire_id: int) -> Questionnaire:
    """A questionnaire version, parsed once per process and database (versions never
    change)."""
    cache_key = (session.get_bind(), questionnaire_id)
    found = _questionnaire_cache.get(cache_key)
    if found is None:
        row = session.get(QuestionnaireRow, questionnaire_id)
        if row is None:
            raise SurveyError("questionnaire", "unknown questionnaire", 404)
        found = _questionnaire_cache[cache_key] = load_definition(row.definition)
    return found


def forget_questionnaires() -> None:
    """Drop the parsed versions: for a database whose rows were deleted and ids reused (the
    tests' clean schema, a restore into a running process's database)."""
    _questionnaire_cache.clear()


@dataclass(frozen=True)
class IndicatorCoverage:
    """Which indicators a wave on this questionnaire will have, and which its questionnaire
    does not collect (API names, docs/indicators.md)."""

    collected: tuple[str, ...]
    not_collected: tuple[str, ...]

    def as_json(self) -> dict[str, list[str]]:
        return {"collected": list(self.collected), "not_collected": list(self.not_collected)}

    def sentence(self) -> str:
        """In the request's language: "It will have 14 indicators." and, when some are not
        collected, which (by name)."""
        have = _("It will have %(n)d of %(total)d indicators.", n=len(self.collected),
                 total=len(self.collected) + len(self.not_collected))
        if not self.not_collected:
            return have
        names = ", ".join(_(INDICATOR_TITLES[name]) for name in self.not_collected)
        return have + " " + _("Not collected by this questionnaire: %(names)s.", names=names)


def indicator_coverage(definition: dict[str, Any]) -> IndicatorCoverage:
    """The indicators a questionnaire's mapping gives (shared.indicator_inputs), after
    checking it against the questionnaire's items: SurveyError naming the input and the
    item when it names an item the questionnaire lacks or one of the wrong type (a version
    stored before the mapping existed is read as blk-tracer v1's, restricted to its items)."""
    try:
        inputs = inputs_of(definition)
    except InputsError as error:
        raise SurveyError("questionnaire_id", "; ".join(
            message for _path, message in error.problems)) from None
    problems = input_problems(inputs, items_of(definition))
    if problems:
        raise SurveyError("questionnaire_id", "; ".join(
            _(problem.template, **dict(problem.params)) for problem in problems))
    return IndicatorCoverage(indicators_having(inputs), indicators_lacking(inputs))


def create_wave(
    session: Session,
    *,
    slug: str,
    title: str,
    questionnaire_id: int,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
    program_ids: list[int] | None = None,
    cohort_ids: list[int] | None = None,
) -> Wave:
    if session.scalar(select(Wave.id).where(Wave.slug == slug)) is not None:
        raise SurveyError("slug", f"a wave called {slug!r} exists already", 409)
    questionnaire_row = session.get(QuestionnaireRow, questionnaire_id)
    if questionnaire_row is None:
        raise SurveyError("questionnaire_id", "no questionnaire with this id")
    indicator_coverage(questionnaire_row.definition)  # refuses a mapping it cannot use
    if opens_at and closes_at and closes_at <= opens_at:
        raise SurveyError("closes_at", "must be after opens_at")
    if not program_ids and not cohort_ids:
        raise SurveyError("program_ids", "choose at least one program or cohort")
    wave = Wave(slug=slug, title=title, questionnaire_id=questionnaire_id, opens_at=opens_at,
                closes_at=closes_at,
                scope={"program_ids": program_ids or [], "cohort_ids": cohort_ids or []})
    session.add(wave)
    session.flush()
    return wave


def open_wave(session: Session, wave: Wave) -> int:
    """Fix the wave's targets (its population N) and announce it; returns N."""
    if wave.status != "draft":
        raise SurveyError("status", f"the wave is {wave.status}, not draft", 409)
    program_ids = wave.scope.get("program_ids") or []
    cohort_ids = wave.scope.get("cohort_ids") or []
    in_scope = or_(Cohort.program_id.in_(program_ids), Cohort.id.in_(cohort_ids))
    targets = (
        select(wave.id, Alumnus.id, Cohort.program_id, Cohort.id, Alumnus.gender)
        .join(Cohort, Cohort.id == Alumnus.cohort_id)
        .where(and_(in_scope, Alumnus.erased_at.is_(None)))
    )
    session.execute(delete(WaveTarget).where(WaveTarget.wave_id == wave.id))
    session.execute(
        insert(WaveTarget).from_select(
            ["wave_id", "alumnus_id", "program_id", "cohort_id", "gender"], targets
        )
    )
    _call_states(session, wave.id, None)
    wave.status = "open"
    wave.opened_at = utcnow()
    population = session.scalar(
        select(func.count()).select_from(WaveTarget).where(WaveTarget.wave_id == wave.id)
    )
    publish(session, WaveOpened(wave_id=wave.id))
    _wave_cache.pop(wave.slug, None)
    return population or 0


def close_wave(session: Session, wave: Wave) -> None:
    if wave.status != "open":
        raise SurveyError("status", f"the wave is {wave.status}, not open", 409)
    wave.status = "closed"
    wave.closed_at = utcnow()
    publish(session, WaveClosed(wave_id=wave.id))
    _wave_cache.pop(wave.slug, None)


# Reports that count as published: what leaves the building as a document.
PUBLISHED_KINDS = ("pdf", "xlsx")


def published_report(session: Session, wave: Wave) -> Export | None:
    """The first PDF or XLSX export of this wave that finished after the wave closed, if any.

    That is what "published" means for reopening: a report made while the wave was open was
    a draft; one made after closing is the wave's result, and reopening would change it.
    """
    if wave.closed_at is None:
        return None
    rows = session.scalars(
        select(Export).where(Export.kind.in_(PUBLISHED_KINDS), Export.status == "done",
                             Export.created_at >= wave.closed_at)
        .order_by(Export.created_at)
    )
    # params is JSON; the exports table is small, so the wave is matched here.
    return next((row for row in rows if (row.params or {}).get("wave_id") == wave.id), None)


def reopen_wave(session: Session, wave: Wave, *, closes_at: datetime | None = None) -> None:
    """Undo a close: the wave takes answers again, until `closes_at` (kept when not given).

    Refused once a report was published (`published_report`), and when the closing date has
    passed and no new one is given (the wave would refuse every answer).
    """
    if wave.status != "closed":
        raise SurveyError("status", f"the wave is {wave.status}, not closed", 409)
    if published_report(session, wave) is not None:
        raise SurveyError("status", "a report of this wave was published after it closed; "
                          "it cannot be reopened", 409)
    now = utcnow()
    if closes_at is not None and closes_at <= now:
        raise SurveyError("closes_at", "must be in the future")
    if closes_at is None and wave.closes_at is not None and wave.closes_at <= now:
        raise SurveyError("closes_at", "the closing date has passed: give a new one")
    if closes_at is not None:
        wave.closes_at = closes_at
    wave.status = "open"
    wave.closed_at = None
    publish(session, WaveOpened(wave_id=wave.id))
    _wave_cache.pop(wave.slug, None)


# --- alumni added after opening ------------------------------------------------------------


def _late_candidates(
    wave: Wave, *, program_ids: list[int], cohort_ids: list[int], alumnus_ids: list[int],
) -> Any:
    """The alumni a request would add: in the chosen programs, cohorts or list, on the
    roster (not erased) and not yet targets of the wave. Columns as WaveTarget's."""
    if not (program_ids or cohort_ids or alumnus_ids):
        raise SurveyError("program_ids", "choose programs, cohorts or alumni to add")
    chosen = or_(Cohort.program_id.in_(program_ids), Cohort.id.in_(cohort_ids),
                 Alumnus.id.in_(alumnus_ids))
    already = select(WaveTarget.alumnus_id).where(WaveTarget.wave_id == wave.id)
    return (
        select(Alumnus.id, Cohort.program_id, Cohort.id, Alumnus.gender)
        .join(Cohort, Cohort.id == Alumnus.cohort_id)
        .where(chosen, Alumnus.erased_at.is_(None), Alumnus.id.not_in(already))
    )


def preview_targets(
    session: Session, wave: Wave, *, program_ids: list[int] | None = None,
    cohort_ids: list[int] | None = None, alumnus_ids: list[int] | None = None,
) -> dict[str, Any]:
    """How many alumni `add_targets` would add now, and how many of them are already
    targets of another open wave (traced twice)."""
    _must_take_targets(wave)
    candidates = _late_candidates(wave, program_ids=program_ids or [],
                                  cohort_ids=cohort_ids or [],
                                  alumnus_ids=alumnus_ids or []).subquery()
    count = session.scalar(select(func.count()).select_from(candidates)) or 0
    elsewhere = session.scalar(
        select(func.count(func.distinct(WaveTarget.alumnus_id)))
        .join(Wave, Wave.id == WaveTarget.wave_id)
        .where(WaveTarget.alumnus_id.in_(select(candidates.c[0])), Wave.id != wave.id,
               Wave.status == "open")
    ) or 0
    return {"count": count, "in_other_open_waves": elsewhere}


def _must_take_targets(wave: Wave) -> None:
    if wave.status != "open":
        # A draft fixes its targets when it opens; a closed wave's population is final.
        raise SurveyError("status", f"the wave is {wave.status}: only an open wave takes "
                          "late alumni", 409)


def add_targets(
    session: Session, wave: Wave, *, program_ids: list[int] | None = None,
    cohort_ids: list[int] | None = None, alumnus_ids: list[int] | None = None,
) -> list[int]:
    """Add alumni imported after the wave opened to its targets (the population grows);
    returns the ids added, announced as `wave.targets_added` so outreach invites them.

    Alumni already targeted are left alone, so adding twice adds nobody the second time.
    """
    _must_take_targets(wave)
    candidates = _late_candidates(wave, program_ids=program_ids or [],
                                  cohort_ids=cohort_ids or [], alumnus_ids=alumnus_ids or [])
    rows = session.execute(candidates.order_by(Alumnus.id)).all()
    if rows:
        session.execute(insert(WaveTarget), [
            {"wave_id": wave.id, "alumnus_id": alumnus_id, "program_id": program_id,
             "cohort_id": cohort_id, "gender": gender}
            for alumnus_id, program_id, cohort_id, gender in rows
        ])
        _call_states(session, wave.id, [row[0] for row in rows])
        publish(session, WaveTargetsAdded(wave_id=wave.id, alumnus_ids=[row[0] for row in rows]))
    return [row[0] for row in rows]


def alumni_by_registration(session: Session, numbers: list[str]) -> tuple[list[int], list[str]]:
    """Ids of the alumni with these registration numbers (a chosen list), and the numbers
    that match nobody (said back to staff, never silently dropped)."""
    wanted = list(dict.fromkeys(number.strip() for number in numbers if number.strip()))
    if not wanted:
        return [], []
    found = dict(session.execute(select(Alumnus.registration_no, Alumnus.id)
                                 .where(Alumnus.registration_no.in_(wanted))).all())
    return [found[n] for n in wanted if n in found], [n for n in wanted if n not in found]


def waves_of_alumnus(session: Session, alumnus_id: int) -> list[Wave]:
    """The waves that target this alumnus, newest first (the alumnus page)."""
    return list(session.scalars(
        select(Wave).join(WaveTarget, WaveTarget.wave_id == Wave.id)
        .where(WaveTarget.alumnus_id == alumnus_id).order_by(Wave.created_at.desc())))


def overlapping_waves(
    session: Session, *, program_ids: list[int], cohort_ids: list[int],
    exclude_wave_id: int | None = None,
) -> list[dict[str, Any]]:
    """Draft and open waves that would trace some of the same alumni as a wave over these
    programs and cohorts: for each, its slug, title, status and how many alumni it shares.

    An open wave shares its targets; a draft its scope (its targets are not fixed yet).
    A warning for staff, not a refusal: a follow-up wave may trace a cohort again on purpose.
    """
    in_scope = (
        select(Alumnus.id).join(Cohort, Cohort.id == Alumnus.cohort_id)
        .where(or_(Cohort.program_id.in_(program_ids), Cohort.id.in_(cohort_ids)),
               Alumnus.erased_at.is_(None))
    )
    found = []
    others = select(Wave).where(Wave.status.in_(("draft", "open"))).order_by(Wave.created_at)
    if exclude_wave_id is not None:
        others = others.where(Wave.id != exclude_wave_id)
    for other in session.scalars(others):
        if other.status == "open":
            shared = select(func.count()).select_from(WaveTarget).where(
                WaveTarget.wave_id == other.id, WaveTarget.alumnus_id.in_(in_scope))
        else:
            scope = other.scope or {}
            shared = select(func.count()).select_from(Alumnus).join(
                Cohort, Cohort.id == Alumnus.cohort_id).where(
                or_(Cohort.program_id.in_(scope.get("program_ids") or []),
                    Cohort.id.in_(scope.get("cohort_ids") or [])),
                Alumnus.id.in_(in_scope))
        count = session.scalar(shared) or 0
        if count:
            found.append({"slug": other.slug, "title": other.title, "status": other.status,
                          "alumni": count})
    return found


def overlaps_of(session: Session, wave: Wave) -> list[dict[str, Any]]:
    """overlapping_waves for an existing wave: the others sharing alumni with its scope
    (what its staff page and its API answer both warn about)."""
    scope = wave.scope or {}
    return overlapping_waves(session, program_ids=scope.get("program_ids") or [],
                             cohort_ids=scope.get("cohort_ids") or [],
                             exclude_wave_id=wave.id)


def mark_opened(session: Session, wave_id: int, alumnus_id: int) -> None:
    """Remember the first time an alumnus opened the personal form (the "opened" status).

    One UPDATE on the primary key that changes nothing after the first time; the first
    time, the call list's state of the target follows (opened counts as reached).
    """
    opened = session.execute(
        update(WaveTarget)
        .where(WaveTarget.wave_id == wave_id, WaveTarget.alumnus_id == alumnus_id,
               WaveTarget.opened_at.is_(None))
        .values(opened_at=utcnow())
    ).rowcount
    if opened:
        _call_states(session, wave_id, [alumnus_id])


def _call_states(session: Session, wave_id: int, alumnus_ids: list[int] | None) -> None:
    """The call list's rows of these targets (all of the wave: None), made or recomputed in
    the caller's transaction (services/survey/call_list_state.py)."""
    from services.survey import call_list_state  # it reads followup, which reads this module

    call_list_state.refresh(session, wave_id, alumnus_ids)


def wave_summary(session: Session, wave: Wave) -> dict[str, Any]:
    from shared.models import Response

    population = session.scalar(
        select(func.count()).select_from(WaveTarget).where(WaveTarget.wave_id == wave.id)
    )
    counts = dict(
        session.execute(
            select(Response.status, func.count()).where(Response.wave_id == wave.id)
            .group_by(Response.status)
        ).all()
    )
    return {"population": population or 0, "complete": counts.get("complete", 0),
            "partial": counts.get("partial", 0)}
