"""The indicator inputs of a wave: its questionnaire's mapping (shared.indicator_inputs).

Analytics reads the questionnaires table (it does not import the survey service). A
questionnaire version never changes, so a mapping is parsed once per process and database
and kept by (engine, questionnaire id, created_at): the creation time tells apart two rows
that reuse an id after the tests' clean schema or a restore. Finding a wave's questionnaire
is one primary-key lookup, cheap beside a live update's one-cell fill.
"""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.indicator_inputs import V1_INPUTS, IndicatorInputs
from shared.indicator_mapping import inputs_of
from shared.models import Questionnaire, Wave

_parsed: dict[tuple[object, int, object], IndicatorInputs] = {}
_lock = threading.Lock()


def wave_inputs(session: Session, wave_id: int) -> IndicatorInputs:
    """The mapping of the wave's questionnaire (blk-tracer v1's for an unknown wave, which
    has no responses to read anyway)."""
    found = session.execute(
        select(Questionnaire.id, Questionnaire.created_at)
        .join(Wave, Wave.questionnaire_id == Questionnaire.id).where(Wave.id == wave_id)
    ).first()
    if found is None:
        return V1_INPUTS
    return questionnaire_inputs(session, found.id, found.created_at)


def questionnaire_inputs(session: Session, questionnaire_id: int,
                         created_at: object = None) -> IndicatorInputs:
    """The mapping of one questionnaire version, parsed once."""
    key = (session.get_bind(), questionnaire_id, created_at)
    with _lock:
        cached = _parsed.get(key)
    if cached is not None:
        return cached
    definition = session.scalar(
        select(Questionnaire.definition).where(Questionnaire.id == questionnaire_id))
    inputs = inputs_of(definition or {})
    with _lock:
        _parsed[key] = inputs
    return inputs
