"""The measures of a cell: what the fill statement aggregates over a cell's answers.

One registry, `MEASURES`: (name, aggregate over the answers subquery's columns), in the order
of the JSON array the answer rows of the fill statement carry (`answer_sql.MeasureList`),
and `apply_measures`, which writes such an array into a `Cell`. A name is a `Cell` attribute
(`respondents`), `status_<code>` (a key of `Cell.status`) or `<table>.<key>` (a key of one
of the Cell's count tables). Adding a measure is one line here and the Cell field it fills.
The decent-work measures depend on the wave's wages and presets (`decent.measures`): they
follow `MEASURES` in the array, and their names are passed to `apply_measures` with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func

from services.analytics.cells import (
    CERTIFIED_CODE,
    COMPETENCIES,
    LOCAL_CODE,
    RELEVANT_CODES,
    STATUS_CODES,
    TRAINING_EVAL_ITEMS,
    Cell,
)
from services.analytics.projection import CHANNEL_BITS


def count_where(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    """COUNT(*) FILTER (WHERE condition)."""
    return func.count().filter(condition)


def _both_rated(a: Any, a_key: str, b_key: str) -> ColumnElement[bool]:
    return and_(a[a_key].is_not(None), a[b_key].is_not(None))



# (name, aggregate over the answers subquery's columns) for the answer rows, in order. The
# code columns are already NULL unless they hold one of their codes.
MEASURES: list[tuple[str, Any]] = [
    ("respondents", lambda a: func.count()),
    *((f"status_{code}", lambda a, code=code: count_where(a.f8 == code)) for code in STATUS_CODES),
    ("employed_within_6_months", lambda a: count_where(a.waiting <= 6)),
    ("relevance_answered", lambda a: count_where(and_(a.employed, a.f14.is_not(None)))),
    ("relevant", lambda a: count_where(and_(a.employed, a.f14.in_(RELEVANT_CODES)))),
    ("location_answered", lambda a: count_where(and_(a.employed, a.f5a2.is_not(None)))),
    ("local", lambda a: count_where(and_(a.employed, a.f5a2 == LOCAL_CODE))),
    ("certificate_answered", lambda a: func.count(a.blk_cert)),
    ("certified", lambda a: count_where(a.blk_cert == CERTIFIED_CODE)),
    *(item for a_key, b_key in COMPETENCIES for item in (
        (f"competency_answered.{a_key}",
         lambda a, a_key=a_key, b_key=b_key: count_where(_both_rated(a, a_key, b_key))),
        (f"competency_a_sum.{a_key}",
         lambda a, a_key=a_key, b_key=b_key: func.sum(a[a_key]).filter(a[b_key].is_not(None))),
        (f"competency_b_sum.{a_key}",
         lambda a, a_key=a_key, b_key=b_key: func.sum(a[b_key]).filter(a[a_key].is_not(None))),
    )),
    *(item for key in TRAINING_EVAL_ITEMS for item in (
        (f"training_eval_answered.{key}", lambda a, key=key: func.count(a[key])),
        (f"training_eval_sum.{key}", lambda a, key=key: func.sum(a[key])),
    )),
    *((f"channels.{code}",
       lambda a, bit=bit: count_where(and_(a.employed, a.channels.op("&")(bit) != 0)))
      for code, bit in CHANNEL_BITS.items()),
]


MEASURE_NAMES: tuple[str, ...] = tuple(name for name, _ in MEASURES)


def apply_measures(cell: Cell, measures: Sequence[Any],
                   names: Sequence[str] = MEASURE_NAMES) -> None:
    """Write one answer row's `measures` (the aggregates, in the order of `names`: those of
    `MEASURES`, then any of the statement's plan) into `cell`."""
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

