"""Taking answers in: identify the alumnus, validate, store once, announce completion.

Used by both edges, the JSON intake API and the web form. The caller owns the transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.survey.links import read_token
from services.survey.questionnaire import Questionnaire, is_visible, validate_answers
from services.survey.waves import SurveyError, WaveInfo
from shared.db import is_postgres
from shared.events import publish
from shared.models import Alumnus, Response, ResponseEdit, WaveTarget, utcnow


class AnswersInvalid(Exception):
    """The answers break the questionnaire; `errors` maps each bad key to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid answers")
        self.errors = errors


@dataclass(frozen=True)
class Respondent:
    alumnus_id: int
    full_name: str | None


def respondent_by_registration(session: Session, wave: WaveInfo, registration_no: str,
                               birth_date: date | None = None) -> Respondent:
    """The targeted alumnus with this registration number (and birth date, when asked)."""
    row = session.execute(
        select(Alumnus.id, Alumnus.full_name, Alumnus.birth_date, WaveTarget.wave_id)
        .outerjoin(WaveTarget, (WaveTarget.alumnus_id == Alumnus.id)
                   & (WaveTarget.wave_id == wave.id))
        .where(Alumnus.registration_no == registration_no, Alumnus.erased_at.is_(None))
    ).first()
    if row is None or (birth_date is not None and row.birth_date != birth_date):
        raise SurveyError("registration_no", "no alumnus with this registration number"
                          + (" and birth date" if birth_date is not None else ""))
    if row.wave_id is None:
        raise SurveyError("registration_no", "this alumnus is not part of this survey wave")
    return Respondent(row.id, row.full_name)


# Built once: the intake runs these for every submission (statement construction is
# measurable CPU at hundreds of requests per second).
_TARGETED_ALUMNUS = (
    select(Alumnus.full_name)
    .join(WaveTarget, WaveTarget.alumnus_id == Alumnus.id)
    .where(Alumnus.id == bindparam("alumnus_id"), WaveTarget.wave_id == bindparam("wave_id"),
           Alumnus.erased_at.is_(None))
)
_INSERT_NEW_RESPONSE = {
    dialect: insert(Response).on_conflict_do_nothing().returning(Response.id)
    for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def respondent_by_token(session: Session, secret_key: str, token: str,
                        wave: WaveInfo | None = None) -> tuple[int, Respondent]:
    """(wave_id, respondent) for a personal link token."""
    ids = read_token(secret_key, token)
    if ids is None:
        raise SurveyError("token", "this link is not valid", 404)
    wave_id, alumnus_id = ids
    if wave is not None and wave.id != wave_id:
        raise SurveyError("token", "this link belongs to another survey wave")
    row = session.execute(_TARGETED_ALUMNUS, {"alumnus_id": alumnus_id, "wave_id": wave_id}).first()
    if row is None:
        raise SurveyError("token", "this link is not valid", 404)
    return wave_id, Respondent(alumnus_id, row.full_name)


def response_of(session: Session, wave_id: int, alumnus_id: int) -> Response | None:
    return session.scalar(
        select(Response).where(Response.wave_id == wave_id, Response.alumnus_id == alumnus_id)
    )


def submit(
    session: Session,
    *,
    submission_id: uuid.UUID,
    wave: WaveInfo,
    questionnaire: Questionnaire,
    alumnus_id: int,
    answers: Any,
    complete: bool = True,
    source: str = "api",
) -> tuple[Response, bool]:
    """Store a submission; (response, True) when new, (stored response, False) on a replay.

    A replay (the same submission id again) returns what is stored and changes nothing.
    A new submission for an alumnus who already answered replaces the earlier answers: one
    response per alumnus per wave.
    """
    result = validate_answers(questionnaire, answers, complete=complete)
    now = utcnow()
    if not result.errors:
        # The common case, a first submission, is one INSERT that does nothing on conflict.
        status = "complete" if complete else "partial"
        values = {"id": submission_id, "wave_id": wave.id, "alumnus_id": alumnus_id,
                  "questionnaire_id": wave.questionnaire_id, "answers": result.answers,
                  "source": source, "status": status, "started_at": now, "updated_at": now,
                  "submitted_at": now if complete else None}
        statement = _INSERT_NEW_RESPONSE["postgresql" if is_postgres(session) else "sqlite"]
        inserted = session.execute(statement, values).first()
        if inserted is not None:
            response = Response(**values)  # what was stored, for the reply (not re-read)
            if complete:
                _announce(session, response)
            return response, True
    # A replay, an edit of an earlier response, or invalid answers.
    existing = response_of(session, wave.id, alumnus_id)
    if existing is not None and (
        existing.id == submission_id or session.get(ResponseEdit, submission_id) is not None
    ):
        return existing, False
    if result.errors:
        raise AnswersInvalid(result.errors)
    if existing is None:
        # The id is taken by another alumnus's response.
        raise SurveyError("id", "this id is already used for another response", 409)
    if existing.status == "complete" and not complete:
        raise SurveyError("complete", "a complete response can only be replaced by a "
                          "complete one")
    response = existing
    response.answers = result.answers
    response.draft = None
    response.status = "complete" if complete else "partial"
    response.source = source
    if complete:
        response.submitted_at = now
    session.add(ResponseEdit(id=submission_id, response_id=existing.id, received_at=now))
    if complete:
        _announce(session, response)
    return response, True


def _announce(session: Session, response: Response) -> None:
    publish(session, "response.submitted", {
        "response_id": str(response.id), "wave_id": response.wave_id,
        "alumnus_id": response.alumnus_id,
    })


def prune(questionnaire: Questionnaire, answers: dict[str, Any]) -> dict[str, Any]:
    """Drop answers whose question no longer applies (the web form's branching)."""
    kept = dict(answers)
    for section in questionnaire.sections:
        for question in section.questions:
            if not is_visible(question, kept):
                for key in question.answer_keys:
                    kept.pop(key, None)
    return kept


def save_draft(
    session: Session,
    *,
    wave: WaveInfo,
    questionnaire: Questionnaire,
    alumnus_id: int,
    answers: dict[str, Any],
) -> Response:
    """Save the web form's work in progress; a partial response is started on first save."""
    response = response_of(session, wave.id, alumnus_id)
    if response is None:
        response = Response(
            id=uuid.uuid4(), wave_id=wave.id, alumnus_id=alumnus_id,
            questionnaire_id=wave.questionnaire_id, answers={}, status="partial", source="web",
        )
        session.add(response)
    pruned = prune(questionnaire, answers)
    response.draft = pruned
    if response.status == "partial":
        response.answers = pruned  # staff see partial work; it counts as partial (P)
    return response


def finish(session: Session, response: Response, questionnaire: Questionnaire) -> None:
    """The web form's final submit: the draft becomes the response, or errors come back."""
    draft = prune(questionnaire, response.draft if response.draft is not None
                  else response.answers)
    result = validate_answers(questionnaire, draft, complete=True)
    if result.errors:
        raise AnswersInvalid(result.errors)
    response.answers = result.answers
    response.draft = None
    response.status = "complete"
    response.submitted_at = utcnow()
    _announce(session, response)
