"""The measures of a cell: what the fill statement aggregates over a cell's answers.

One registry per questionnaire mapping, `measures_of(inputs)`: (name, aggregate over the
answers subquery's columns), in the order of the JSON array the answer rows of the fill
statement carry (`answer_sql.MeasureList`), and `apply_measures`, which writes such an
array into a `Cell`. A name is a `Cell` attribute (`respondents`), `status_<code>` (a key
of `Cell.status`) or `<table>.<key>` (a key of one of the Cell's count tables). A measure of
an input the mapping lacks is left out (it would only count zeros; the indicator is then
reported as not collected). Adding a measure is one line here, under the inputs it reads,
and the Cell field it fills. The decent-work measures depend on the wave's wages and
presets (`decent.measures`): they follow the mapping's in the array, and the names of both
are passed to `apply_measures` (`statements.measure_names`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func

from services.analytics.cells import (
    CERTIFIED_CODE,
    LOCAL_CODE,
    RELEVANT_CODES,
    STATUS_CODES,
    Cell,
)
from services.analytics.projection import COMPETENCY_COLUMNS, TRAINING_EVAL_COLUMNS, channel_bits
from shared.indicator_inputs import IndicatorInputs


def count_where(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    """COUNT(*) FILTER (WHERE condition)."""
    return func.count().filter(condition)


def _both_rated(a: Any, a_key: str, b_key: str) -> ColumnElement[bool]:
    return and_(a[a_key].is_not(None), a[b_key].is_not(None))


Measure = tuple[str, Any]


@functools.cache
def measures_of(inputs: IndicatorInputs) -> tuple[Measure, ...]:
    """(name, aggregate over the answers subquery's columns) for the answer rows, in order,
    for the inputs this mapping collects (a measure of an input it lacks would only count
    zeros). The code columns are already NULL unless they hold one of their codes; columns
    are named by input (list inputs by slot), names by what the API reports."""
    collected = inputs.collected
    measures: list[Measure] = [("respondents", lambda a: func.count())]
    if "status" in collected:
        measures += [(f"status_{code}", lambda a, code=code: count_where(a.status == code))
                     for code in STATUS_CODES]
        if "waiting_months" in collected:
            measures.append(("employed_within_6_months", lambda a: count_where(a.waiting <= 6)))
        if "relevance" in collected:
            measures += [
                ("relevance_answered",
                 lambda a: count_where(and_(a.employed, a.relevance.is_not(None)))),
                ("relevant",
                 lambda a: count_where(and_(a.employed, a.relevance.in_(RELEVANT_CODES)))),
            ]
        if "work_location" in collected:
            measures += [
                ("location_answered",
                 lambda a: count_where(and_(a.employed, a.work_location.is_not(None)))),
                ("local", lambda a: count_where(and_(a.employed, a.work_location == LOCAL_CODE))),
            ]
    if "certificate" in collected:
        measures += [("certificate_answered", lambda a: func.count(a.certificate)),
                     ("certified", lambda a: count_where(a.certificate == CERTIFIED_CODE))]
    for (a_key, b_key), competency in zip(COMPETENCY_COLUMNS[:len(inputs.competencies)],
                                          inputs.competencies, strict=True):
        name = competency.name
        measures += [
            (f"competency_answered.{name}",
             lambda a, a_key=a_key, b_key=b_key: count_where(_both_rated(a, a_key, b_key))),
            (f"competency_a_sum.{name}",
             lambda a, a_key=a_key, b_key=b_key: func.sum(a[a_key]).filter(a[b_key].is_not(None))),
            (f"competency_b_sum.{name}",
             lambda a, a_key=a_key, b_key=b_key: func.sum(a[b_key]).filter(a[a_key].is_not(None))),
        ]
    for column, item in zip(TRAINING_EVAL_COLUMNS[:len(inputs.training_eval)],
                            inputs.training_eval, strict=True):
        measures += [
            (f"training_eval_answered.{item}", lambda a, column=column: func.count(a[column])),
            (f"training_eval_sum.{item}", lambda a, column=column: func.sum(a[column])),
        ]
    if "status" in collected:
        measures += [(f"channels.{code}", lambda a, bit=bit: count_where(
                          and_(a.employed, a.channels.op("&")(bit) != 0)))
                     for code, bit in channel_bits(inputs).items()]
    return tuple(measures)


def apply_measures(cell: Cell, measures: Sequence[Any], names: Sequence[str]) -> None:
    """Write one answer row's `measures` (the aggregates, in the order of `names`:
    `statements.measure_names`) into `cell`."""
    for name, raw in zip(names, measures, strict=True):
        value = int(raw or 0)  # SUM of nothing is NULL
        if name.startswith("status_"):
            if value:
                cell.status[int(name.removeprefix("status_"))] = value
        elif "." in name:
            table, key = name.split(".", 1)
            if value:  # zero entries are absent, as Cell keeps them
                getattr(cell, table)[key] = value
        else:
            setattr(cell, name, value)

