"""indicator_answers, analytics' narrow projection of the complete responses, kept in step.

The fill statement (`statements`) does not read the answers out of each response's JSON but
out of indicator_answers: one row per complete response with its coded answers as small
integers, in columns named by indicator input (shared.indicator_inputs), not by item: the
wave's questionnaire says which of its items feeds which input, so a v1 and a v2 wave fill
the same columns, and the statements are built once per mapping. Every fill first
reconciles the projection for its scope (the wave, one cell, or one alumnus), set-based:
rows whose response is gone, no longer complete or changed since (another id or
updated_at) are deleted, and every complete response without a row is projected from its
JSON. A full refresh therefore reads the JSON of the responses that
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
    literal,
    null,
    select,
)
from sqlalchemy.orm import Session

from services.analytics.answer_sql import AnswerCode, AnswerRaw, AnswerTyped, ArrayHasString
from services.analytics.cells import EMPLOYED_STATUSES, RATINGS, CellKey
from services.analytics.inputs import wave_inputs
from shared.indicator_inputs import (
    COMPETENCY_SLOTS,
    TRAINING_EVAL_SLOTS,
    Coded,
    IndicatorInputs,
)
from shared.models import IndicatorAnswer, Response, WaveTarget
from shared.regions import ABROAD, province_of

# Columns of list inputs, by position in the mapping (slot i: the i-th competency, ...).
COMPETENCY_COLUMNS = tuple((f"competency_{i}_a", f"competency_{i}_b")
                           for i in range(1, COMPETENCY_SLOTS + 1))
TRAINING_EVAL_COLUMNS = tuple(f"training_eval_{i}" for i in range(1, TRAINING_EVAL_SLOTS + 1))


def code_columns(inputs: IndicatorInputs) -> tuple[str, ...]:
    """The indicator_answers code columns this mapping fills (the others stay NULL)."""
    pairs = COMPETENCY_COLUMNS[:len(inputs.competencies)]
    derived = ("work_location",) if "work_location" in _derived(inputs) else ()
    return (*(name for name, _ in inputs.coded), *derived,
            *(column for pair in pairs for column in pair),
            *TRAINING_EVAL_COLUMNS[:len(inputs.training_eval)])


def _derived(inputs: IndicatorInputs) -> frozenset[str]:
    """Code columns computed from other inputs rather than read from an item: work_location
    from the work place ("from_place")."""
    if inputs.local_city is not None and inputs.code("work_province") is not None:
        return frozenset({"work_location"})
    return frozenset()


def channel_bits(inputs: IndicatorInputs) -> dict[str, int]:
    """Bit of each job-search channel (option code) in indicator_answers.channels."""
    options = inputs.job_search_channels.options if inputs.job_search_channels else ()
    return {code: 1 << index for index, code in enumerate(options)}


def projected_columns(inputs: IndicatorInputs) -> tuple[str, ...]:
    return ("wave_id", "alumnus_id", "response_id", "response_updated_at",
            *code_columns(inputs), "waiting", "income", "channels")


def reconcile_answers(session: Session, wave_id: int, key: CellKey | None = None, *,
                      inputs: IndicatorInputs | None = None) -> None:
    """Make indicator_answers match the complete responses of the wave (or of one cell).

    Set-based, two statements: delete the rows whose response is gone, no longer complete,
    or changed since (another id or updated_at), then project every complete response that
    has no row. Unchanged responses are not read beyond their id, status and updated_at.
    `inputs`: the wave's mapping (looked up when not given).
    """
    if inputs is None:
        inputs = wave_inputs(session, wave_id)
    params: dict[str, Any] = {"wave_id": wave_id}
    if key is not None:
        params.update(key._asdict())
    for statement in reconcile_statements("wave" if key is None else "cell", inputs):
        session.execute(statement, params)


def reconcile_alumnus(session: Session, wave_id: int, alumnus_id: int,
                      inputs: IndicatorInputs | None = None) -> None:
    """The same for one alumnus's row (the live update: the event says whose response
    changed, and every other row was reconciled by an earlier fill)."""
    if inputs is None:
        inputs = wave_inputs(session, wave_id)
    for statement in reconcile_statements("alumnus", inputs):
        session.execute(statement, {"wave_id": wave_id, "alumnus_id": alumnus_id})


def projection(scope: Sequence[ColumnElement[bool]], inputs: IndicatorInputs) -> Select[Any]:
    """indicator_answers rows of the complete responses in scope, read from their JSON
    through the questionnaire's indicator inputs (columns named by input, list inputs by
    slot; codes translated to canonical ones).

    Each item is looked up once per response, in a subquery kept apart by OFFSET 0 (see
    answer_sql); `Cell.of_response` is the reference for every column.
    """
    responses = Response.__table__
    document = responses.c.answers
    reads: list[Any] = []
    for name, coded in inputs.coded:
        reads.append(_canonical(AnswerCode(document, coded.item, coded.item_codes), coded)
                     .label(name))
    slots = COMPETENCY_COLUMNS[:len(inputs.competencies)]
    for (a_column, b_column), competency in zip(slots, inputs.competencies, strict=True):
        reads += [AnswerCode(document, competency.a, RATINGS).label(a_column),
                  AnswerCode(document, competency.b, RATINGS).label(b_column)]
    evaluated = TRAINING_EVAL_COLUMNS[:len(inputs.training_eval)]
    for column, item in zip(evaluated, inputs.training_eval, strict=True):
        reads.append(AnswerCode(document, item, RATINGS).label(column))
    waiting_rule = inputs.waiting_months
    if waiting_rule is not None:
        if waiting_rule.rule == "split_at_6":
            reads.append(AnswerCode(document, waiting_rule.items[0], (1, 2))
                         .label("raw_within_6"))
            months_items = waiting_rule.items[1:]
        else:
            months_items = waiting_rule.items
        reads += [AnswerRaw(document, item, "integer").label(f"raw_months_{index}")
                  for index, item in enumerate(months_items)]
    if inputs.income is not None:
        reads.append(AnswerRaw(document, inputs.income, "integer").label("raw_income"))
    if inputs.job_search_channels is not None:
        reads.append(AnswerRaw(document, inputs.job_search_channels.item, "array")
                     .label("raw_channels"))
    read = (
        select(
            responses.c.wave_id, responses.c.alumnus_id, responses.c.id.label("response_id"),
            responses.c.updated_at.label("response_updated_at"), *reads,
        )
        .where(responses.c.status == "complete", *scope)
        .offset(0)
        .subquery()
    )
    waiting: ColumnElement[Any] = null()
    income: ColumnElement[Any] = null()
    if inputs.code("status") is not None:
        employed = read.c.status.in_(EMPLOYED_STATUSES)
        if waiting_rule is not None and waiting_rule.rule == "split_at_6":
            # waiting_months: the first months item when within_6 = 1, the second when 2.
            waiting = case((employed, case(
                (read.c.raw_within_6 == 1, AnswerTyped(read.c.raw_months_0, "integer")),
                (read.c.raw_within_6 == 2, AnswerTyped(read.c.raw_months_1, "integer")))))
        elif waiting_rule is not None:
            waiting = case((employed, AnswerTyped(read.c.raw_months_0, "integer")))
        if inputs.income is not None:
            typed_income = AnswerTyped(read.c.raw_income, "integer")
            income = case((and_(employed, typed_income > 0), typed_income))
    channels: ColumnElement[Any] = literal(0)
    if inputs.job_search_channels is not None:
        ticked = AnswerTyped(read.c.raw_channels, "array")
        channels = functools.reduce(operator.add, (
            case((ArrayHasString(ticked, code), bit), else_=0)
            for code, bit in channel_bits(inputs).items()))
    derived = {"work_location": _location_from_place(read, inputs)} if _derived(inputs) else {}
    return select(read.c.wave_id, read.c.alumnus_id, read.c.response_id,
                  read.c.response_updated_at,
                  *(derived[column].label(column) if column in derived else read.c[column]
                    for column in code_columns(inputs)),
                  waiting.label("waiting"), income.label("income"),
                  channels.label("channels"))


def _location_from_place(read: Any, inputs: IndicatorInputs) -> ColumnElement[Any]:
    """shared.indicator_inputs.work_location_of in SQL, over the projected province and city
    codes (NULL when the province is unanswered, or is the centre's with no city)."""
    assert inputs.local_city is not None
    province = read.c.work_province
    city = read.c.work_city if inputs.code("work_city") is not None else null()
    home = province == province_of(inputs.local_city)
    return case(
        (province == ABROAD, 4),
        (province != province_of(inputs.local_city), 3),
        (and_(home, city == inputs.local_city), 1),
        (and_(home, city.is_not(None)), 2),
    )


def _canonical(code: ColumnElement[Any], coded: Coded) -> ColumnElement[Any]:
    """An item's code as the input's canonical code (the same column when they agree)."""
    if coded.identity:
        return code
    return case(*((code == item_code, canonical) for item_code, canonical in coded.codes))


@functools.cache
def reconcile_statements(scope: str, inputs: IndicatorInputs) -> tuple[Any, Any]:
    """(delete stale rows, project missing ones) for the "wave", a "cell" or an "alumnus",
    built once per scope and mapping."""
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
    missing = insert(projected).from_select(list(projected_columns(inputs)), projection([
        responses.c.wave_id == wave_id, ~projected_already.exists(), *response_alumni], inputs))
    return stale, missing

