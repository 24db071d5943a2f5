"""Survey waves: creating, opening (fixing the population), closing; the intake's wave cache."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from services.survey.questionnaire import Questionnaire, load_definition
from shared.errors import DomainError
from shared.events import publish
from shared.models import Alumnus, Cohort, Wave, WaveTarget, utcnow
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
_questionnaire_cache: dict[int, Questionnaire] = {}


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
    """A questionnaire version, parsed once per process (versions never change)."""
    found = _questionnaire_cache.get(questionnaire_id)
    if found is None:
        row = session.get(QuestionnaireRow, questionnaire_id)
        if row is None:
            raise SurveyError("questionnaire", "unknown questionnaire", 404)
        found = _questionnaire_cache[questionnaire_id] = load_definition(row.definition)
    return found


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
    if session.get(QuestionnaireRow, questionnaire_id) is None:
        raise SurveyError("questionnaire_id", "no questionnaire with this id")
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
    wave.status = "open"
    wave.opened_at = utcnow()
    population = session.scalar(
        select(func.count()).select_from(WaveTarget).where(WaveTarget.wave_id == wave.id)
    )
    publish(session, "wave.opened", {"wave_id": wave.id})
    _wave_cache.pop(wave.slug, None)
    return population or 0


def close_wave(session: Session, wave: Wave) -> None:
    if wave.status != "open":
        raise SurveyError("status", f"the wave is {wave.status}, not open", 409)
    wave.status = "closed"
    wave.closed_at = utcnow()
    publish(session, "wave.closed", {"wave_id": wave.id})
    _wave_cache.pop(wave.slug, None)


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
