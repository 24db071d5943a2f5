"""indicator_answers, analytics' narrow projection of the complete responses, kept in step.

The fill statement (`statements`) does not read the answers out of each response's JSON but
out of indicator_answers: one row per complete response with its ~31 coded answers as small
integers. Every fill first reconciles the projection for its scope (the wave, one cell, or
one alumnus), set-based: rows whose response is gone, no longer complete or changed since
(another id or updated_at) are deleted, and every complete response without a row is
projected from its JSON. A full refresh therefore reads the JSON of the responses that
changed since the previous fill only, and the time it takes counts that work.
`Cell.of_response` is the reference for every projected column; the JSON is read by the
dialect-specific expressions of `answer_sql`.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    delete,
    insert,
    select,
)
from sqlalchemy.orm import Session

from services.analytics.answer_sql import AnswerCode, AnswerRaw, AnswerTyped, ArrayHasString
from services.analytics.cells import (
    CERTIFICATE_CODES,
    COMPETENCIES,
    EMPLOYED_STATUSES,
    JOB_SEARCH_CHANNELS,
    LOCATION_CODES,
    PLACE_AND_CONTRACT_KEYS,
    RATINGS,
    RELEVANCE_CODES,
    STATUS_CODES,
    TRAINING_EVAL_ITEMS,
    CellKey,
)
from shared.models import IndicatorAnswer, Response, WaveTarget

# Answers read as codes (NULL unless a JSON integer among them), as integers, as an array.
CODE_KEYS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("f8", STATUS_CODES),
    ("f504", (1, 2)),  # found the first job within 6 months (1) or after (2)
    ("f14", RELEVANCE_CODES),
    ("f5a2", LOCATION_CODES),
    ("blk_cert", CERTIFICATE_CODES),
    *((key, RATINGS) for pair in COMPETENCIES for key in pair),
    *((key, RATINGS) for key in TRAINING_EVAL_ITEMS),
    *PLACE_AND_CONTRACT_KEYS,
)
INTEGER_KEYS = ("f502", "f506", "f505")  # waiting months (two questions), income
ARRAY_KEY = "f4"  # job search channels
# Bit of each job search channel in indicator_answers.channels.
CHANNEL_BITS = {code: 1 << index for index, code in enumerate(JOB_SEARCH_CHANNELS)}
PROJECTED_COLUMNS = ("wave_id", "alumnus_id", "response_id", "response_updated_at",
                     *(key for key, _ in CODE_KEYS), "waiting", "income", "channels")


def reconcile_answers(session: Session, wave_id: int, key: CellKey | None = None) -> None:
    """Make indicator_answers match the complete responses of the wave (or of one cell).

    Set-based, two statements: delete the rows whose response is gone, no longer complete,
    or changed since (another id or updated_at), then project every complete response that
    has no row. Unchanged responses are not read beyond their id, status and updated_at.
    """
    params: dict[str, Any] = {"wave_id": wave_id}
    if key is not None:
        params.update(key._asdict())
    for statement in reconcile_statements("wave" if key is None else "cell"):
        session.execute(statement, params)


def reconcile_alumnus(session: Session, wave_id: int, alumnus_id: int) -> None:
    """The same for one alumnus's row (the live update: the event says whose response
    changed, and every other row was reconciled by an earlier fill)."""
    for statement in reconcile_statements("alumnus"):
        session.execute(statement, {"wave_id": wave_id, "alumnus_id": alumnus_id})


def projection(scope: Sequence[ColumnElement[bool]]) -> Select[Any]:
    """indicator_answers rows of the complete responses in scope, read from their JSON.

    Each key is looked up once per response, in a subquery kept apart by OFFSET 0 (see
    answer_sql); `Cell.of_response` is the reference for every column.
    """
    responses = Response.__table__
    read = (
        select(
            responses.c.wave_id, responses.c.alumnus_id, responses.c.id.label("response_id"),
            responses.c.updated_at.label("response_updated_at"),
            *(AnswerCode(responses.c.answers, key, values).label(key)
              for key, values in CODE_KEYS),
            *(AnswerRaw(responses.c.answers, key, "integer").label(key)
              for key in INTEGER_KEYS),
            AnswerRaw(responses.c.answers, ARRAY_KEY, "array").label(ARRAY_KEY),
        )
        .where(responses.c.status == "complete", *scope)
        .offset(0)
        .subquery()
    )
    typed = {key: AnswerTyped(read.c[key], "integer") for key in INTEGER_KEYS}
    employed = read.c.f8.in_(EMPLOYED_STATUSES)
    # engine.waiting_months: f502 when f504 = 1, f506 when f504 = 2, employed only.
    waiting = case((employed, case((read.c.f504 == 1, typed["f502"]),
                                   (read.c.f504 == 2, typed["f506"]))))
    income = case((and_(employed, typed["f505"] > 0), typed["f505"]))
    ticked = AnswerTyped(read.c[ARRAY_KEY], "array")
    channels = functools.reduce(operator.add, (
        case((ArrayHasString(ticked, code), bit), else_=0)
        for code, bit in CHANNEL_BITS.items()))
    return select(read.c.wave_id, read.c.alumnus_id, read.c.response_id,
                  read.c.response_updated_at, *(read.c[key] for key, _ in CODE_KEYS),
                  waiting.label("waiting"), income.label("income"),
                  channels.label("channels"))


@functools.cache
def reconcile_statements(scope: str) -> tuple[Any, Any]:
    """(delete stale rows, project missing ones) for the "wave", a "cell" or an "alumnus"."""
    responses, projected = Response.__table__, IndicatorAnswer.__table__
    wave_targets = WaveTarget.__table__
    wave_id = bindparam("wave_id", type_=Integer())
    if scope == "cell":
        alumni = [select(wave_targets.c.alumnus_id).where(
            wave_targets.c.wave_id == wave_id,
            wave_targets.c.program_id == bindparam("program_id", type_=Integer()),
            wave_targets.c.cohort_id == bindparam("cohort_id", type_=Integer()),
            wave_targets.c.gender == bindparam("gender", type_=String()))]
        projected_alumni = [projected.c.alumnus_id.in_(alumni[0])]
        response_alumni = [responses.c.alumnus_id.in_(alumni[0])]
    elif scope == "alumnus":
        alumnus_id = bindparam("alumnus_id", type_=Integer())
        projected_alumni = [projected.c.alumnus_id == alumnus_id]
        response_alumni = [responses.c.alumnus_id == alumnus_id]
    else:
        projected_alumni = response_alumni = []
    current = select(responses.c.id).where(
        responses.c.id == projected.c.response_id, responses.c.status == "complete",
        responses.c.updated_at == projected.c.response_updated_at)
    stale = delete(projected).where(projected.c.wave_id == wave_id, ~current.exists(),
                                    *projected_alumni)
    projected_already = select(projected.c.alumnus_id).where(
        projected.c.wave_id == responses.c.wave_id,
        projected.c.alumnus_id == responses.c.alumnus_id)
    missing = insert(projected).from_select(list(PROJECTED_COLUMNS), projection([
        responses.c.wave_id == wave_id, ~projected_already.exists(), *response_alumni]))
    return stale, missing

