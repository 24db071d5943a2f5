"""Taking answers in: identify the alumnus, validate, store once, announce completion.

Used by both edges, the JSON intake API and the web form. `submit` (the API's, the demo's)
is a unit of work of its own: it commits what it stored, or its one statement committed
itself, and settles a race with a concurrent twin, so its caller never asks whether the
session is still in a transaction. The web form's steps (`save_draft`, `finish`) are part
of the page's own work, which the form commits. The hand-tuned statements are in
`services/survey/statements.py`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from services.survey.links import read_token
from services.survey.questionnaire import Questionnaire, applying, validate_answers
from services.survey.statements import (
    STORE_FIRST,
    STORE_FIRST_WITH_EVENT,
    STORE_FIRST_WITH_EVENT_SQL,
    TARGETED_ALUMNUS,
    StoredResponse,
)
from services.survey.waves import SurveyError, WaveInfo
from shared.db import is_postgres
from shared.event_types import ResponseSubmitted
from shared.events import outbox_row, publish
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


def registration_key(registration_no: str) -> str:
    """A registration number as the open link compares it: no case, spaces or dashes."""
    return "".join(registration_no.split()).replace("-", "").upper()


_registration_key_sql = func.upper(func.replace(func.replace(Alumnus.registration_no, " ", ""),
                                            "-", ""))


def respondent_by_identity(session: Session, wave: WaveInfo, birth_date: date, *,
                           registration_no: str | None = None, phone: str | None = None
                           ) -> Respondent:
    """The open link's identification: the targeted, not erased alumnus with this birth
    date and either this registration number (compared by `registration_key`) or this
    phone number (E.164, as the roster stores it).

    One error for every miss (no such number, another birth date, not in this wave, two
    people matching), so the answer tells a guesser nothing about which part was wrong.
    The roster is a few thousand rows: comparing the normalised number scans it, which
    is cheap next to the page, and the rate limits bound how often anyone can.
    """
    if registration_no:
        which = _registration_key_sql == registration_key(registration_no)
    elif phone:
        which = Alumnus.phone == phone
    else:
        raise SurveyError("registration_no", "no registration number or phone number")
    rows = session.execute(
        select(Alumnus.id, Alumnus.full_name)
        .join(WaveTarget, (WaveTarget.alumnus_id == Alumnus.id)
              & (WaveTarget.wave_id == wave.id))
        .where(which, Alumnus.birth_date == birth_date, Alumnus.erased_at.is_(None))
        .limit(2)
    ).all()
    if len(rows) != 1:
        raise SurveyError("registration_no", "no single alumnus of this wave matches")
    return Respondent(rows[0].id, rows[0].full_name)


def _stored_with_event(session: Session, params: dict[str, Any]) -> bool:
    """Run STORE_FIRST_WITH_EVENT; True when it stored (and committed) the response and its
    event.

    The statement is atomic by itself, so unless the session has begun a transaction it
    runs in autocommit on a pooled connection of its own (`_autocommitted`). Otherwise it
    joins the session's transaction (whose earlier work it may need to see), which is
    committed when it stored something.
    """
    if not session.in_transaction():
        return _autocommitted(session.get_bind(), params)
    if session.execute(STORE_FIRST_WITH_EVENT, params).first() is None:
        return False
    session.commit()
    return True


def _autocommitted(engine: Any, params: dict[str, Any]) -> bool:
    """The statement through psycopg, prepared, in autocommit: one round trip instead of
    three (BEGIN, statement, COMMIT; each costs ~0.2 ms of CPU on these machines) and none
    of the session's bookkeeping. The JSON columns are cast in the SQL."""
    driver_params = params | {"answers": json.dumps(params["answers"]),
                              "event_payload": json.dumps(params["event_payload"])}
    pooled = None
    try:
        pooled = engine.raw_connection()
        connection = pooled.driver_connection
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(STORE_FIRST_WITH_EVENT_SQL, driver_params, prepare=True)
                return cursor.fetchone() is not None
        finally:
            if not connection.closed:
                connection.autocommit = False
    except engine.dialect.loaded_dbapi.Error as exc:
        raise _as_sqlalchemy_error(engine, pooled, exc) from exc
    finally:
        if pooled is not None:
            pooled.close()  # back to the pool (unless invalidated)


def _as_sqlalchemy_error(engine: Any, pooled: Any, exc: Exception) -> Exception:
    """What SQLAlchemy would have made of a driver error: on a lost connection the pool is
    renewed (the server took every connection with it), and the error is SQLAlchemy's, so
    the web layer's database-outage handler answers 503."""
    disconnect = pooled is not None and engine.dialect.is_disconnect(
        exc, pooled.driver_connection, None)
    if disconnect:
        pooled.invalidate(exc)
        engine.dispose(close=False)
    return DBAPIError.instance(STORE_FIRST_WITH_EVENT_SQL, None, exc,
                               engine.dialect.loaded_dbapi.Error,
                               connection_invalidated=disconnect, dialect=engine.dialect)


def _token_ids(secret_key: str, token: str, wave: WaveInfo | None) -> tuple[int, int]:
    ids = read_token(secret_key, token)
    if ids is None:
        raise SurveyError("token", "this link is not valid", 404)
    if wave is not None and wave.id != ids[0]:
        raise SurveyError("token", "this link belongs to another survey wave")
    return ids


def alumnus_of_token(secret_key: str, token: str, wave: WaveInfo) -> int:
    """The alumnus a personal link token names, for this wave (no database look-up)."""
    return _token_ids(secret_key, token, wave)[1]


def respondent_by_token(session: Session, secret_key: str, token: str,
                        wave: WaveInfo | None = None) -> tuple[int, Respondent]:
    """(wave_id, respondent) for a personal link token."""
    wave_id, alumnus_id = _token_ids(secret_key, token, wave)
    row = session.execute(TARGETED_ALUMNUS, {"alumnus_id": alumnus_id, "wave_id": wave_id}).first()
    if row is None:
        raise SurveyError("token", "this link is not valid", 404)
    return wave_id, Respondent(alumnus_id, row.full_name)


class NotTargeted(SurveyError):
    """The wave does not target this alumnus (or the alumnus was erased)."""

    def __init__(self) -> None:
        super().__init__("alumnus", "this alumnus is not part of this survey wave", 404)


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
    before_repeat: Callable[[], None] | None = None,
) -> tuple[Response | StoredResponse, bool]:
    """Store a submission and commit it; (response, True) when new, (stored response,
    False) on a replay.

    A replay (the same submission id again) returns what is stored and changes nothing.
    A new submission for an alumnus who already answered replaces the earlier answers: one
    response per alumnus per wave. Raises NotTargeted when the wave does not target the
    alumnus, before looking at the answers, so callers need not check that first.
    `before_repeat` runs when the submission is anything but a valid first one (the
    intake API's rate limits count those), before anything else is read or stored.

    One unit of work, owned here: on return what was stored is committed (with whatever
    the session held before; a first submission on PostgreSQL may have committed in its
    own statement, see `_stored_with_event`); on an exception nothing of it is. When a
    concurrent request with the same id, or for the same alumnus, commits first (the
    commit fails on a unique key), the session is rolled back and the submission is taken
    again, which then finds the other one's response: a replay, or an edit of it. Losing
    that race twice means the id is taken (409).
    """
    for attempt in (1, 2):
        try:
            return _submit(session, submission_id, wave, questionnaire, alumnus_id, answers,
                           complete, source, before_repeat)
        except IntegrityError:
            session.rollback()
            if attempt == 2:
                raise SurveyError("id", "this id is already used for another response",
                                  409) from None
    raise AssertionError("unreachable")


def _submit(session: Session, submission_id: uuid.UUID, wave: WaveInfo,
            questionnaire: Questionnaire, alumnus_id: int, answers: Any, complete: bool,
            source: str, before_repeat: Callable[[], None] | None
            ) -> tuple[Response | StoredResponse, bool]:
    """One try of `submit`; commits what it stored."""
    result = validate_answers(questionnaire, answers, complete=complete)
    now = utcnow()
    if not result.errors:
        # The common case, a first submission: one statement, no look-up before it.
        response = _store_first(session, submission_id, wave, alumnus_id, result.answers,
                                complete, source, now)
        if response is not None:
            return response, True  # committed
    # A replay, an edit of an earlier response, invalid answers, or not a target at all.
    if before_repeat is not None:
        before_repeat()
    if session.execute(TARGETED_ALUMNUS, {"alumnus_id": alumnus_id, "wave_id": wave.id}
                       ).first() is None:
        raise NotTargeted()
    existing = response_of(session, wave.id, alumnus_id)
    if existing is not None and (
        existing.id == submission_id or session.get(ResponseEdit, submission_id) is not None
    ):
        session.commit()
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
    session.commit()
    return response, True


def _store_first(session: Session, submission_id: uuid.UUID, wave: WaveInfo, alumnus_id: int,
                 answers: dict[str, Any], complete: bool, source: str,
                 now: datetime) -> StoredResponse | None:
    """Insert the alumnus's first response (with its event when complete) and commit it, or
    None (nothing written) when there already is one, the id is taken, or the wave does not
    target the alumnus."""
    values = {"id": submission_id, "wave_id": wave.id, "alumnus_id": alumnus_id,
              "questionnaire_id": wave.questionnaire_id, "answers": answers, "source": source,
              "status": "complete" if complete else "partial", "started_at": now,
              "updated_at": now, "submitted_at": now if complete else None}
    response = StoredResponse(**values)  # what is stored, for the reply (not re-read)
    # The event rides in the insert's statement; with no subscriber there is none to write.
    event = outbox_row(_submitted(response)) if complete and is_postgres(session) else None
    if event is not None:
        params = values | {f"event_{name}": value for name, value in event.items()}
        return response if _stored_with_event(session, params) else None
    statement = STORE_FIRST["postgresql" if is_postgres(session) else "sqlite"]
    if session.execute(statement, values).first() is None:
        return None
    if complete:
        _announce(session, response)
    session.commit()
    return response


def _submitted(response: Response | StoredResponse) -> ResponseSubmitted:
    return ResponseSubmitted(response_id=str(response.id), wave_id=response.wave_id,
                             alumnus_id=response.alumnus_id)


def _announce(session: Session, response: Response | StoredResponse) -> None:
    publish(session, _submitted(response))


def prune(questionnaire: Questionnaire, answers: dict[str, Any]) -> dict[str, Any]:
    """Drop answers whose question no longer applies (the web form's branching)."""
    return applying(questionnaire, answers)


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
