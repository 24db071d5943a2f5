"""Analytics' Celery tasks: consumers of survey and outreach events, and the refresh."""

from __future__ import annotations

from celery import shared_task
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.analytics.refresh import (
    full_refresh,
    message_wave,
    refresh_all,
    update_alumnus_cell,
)
from services.analytics.reports.privacy import expire_raw_exports, remove_raw_exports_of
from shared.centre import applied
from shared.db import get_db
from shared.event_types import (
    AlumnusErased,
    ConsentWithdrawn,
    MessageStatus,
    ResponseSubmitted,
    WaveTargetsAdded,
)
from shared.events import Event, consumer
from shared.models import WaveTarget


@consumer("analytics.on_response_submitted")
def on_response_submitted(db_session: Session, event: Event) -> None:
    """A complete response (new or edited): recompute the alumnus's cell."""
    data = event.data
    assert isinstance(data, ResponseSubmitted)
    update_alumnus_cell(db_session, data.wave_id, data.alumnus_id)


@consumer("analytics.on_message_status")
def on_message_status(db_session: Session, event: Event) -> None:
    """A message sent, delivered or failed: the alumnus's disposition may have changed."""
    data = event.data
    assert isinstance(data, MessageStatus)
    wave_id = message_wave(db_session, data.message_id)
    if wave_id is None:  # a broadcast: no wave, no disposition
        return
    update_alumnus_cell(db_session, wave_id, data.alumnus_id)


@consumer("analytics.on_wave_targets_added")
def on_wave_targets_added(db_session: Session, event: Event) -> None:
    """Alumni added to a wave: the population of their cells grew. One recompute per cell
    (an alumnus's cell is recomputed whole, so one alumnus per cell is enough)."""
    data = event.data
    assert isinstance(data, WaveTargetsAdded)
    wave_id, ids = data.wave_id, data.alumnus_ids
    one_per_cell = db_session.execute(
        select(func.min(WaveTarget.alumnus_id))
        .where(WaveTarget.wave_id == wave_id, WaveTarget.alumnus_id.in_(ids))
        .group_by(WaveTarget.program_id, WaveTarget.cohort_id, WaveTarget.gender)
    ).scalars()
    for alumnus_id in list(one_per_cell):
        update_alumnus_cell(db_session, wave_id, alumnus_id)


@consumer("analytics.on_consent_withdrawn")
def on_consent_withdrawn(db_session: Session, event: Event) -> None:
    """Withdrawn consent ("Tidak setuju" on the form, staff, API) is a refusal in every
    wave that targets the alumnus and holds no response of theirs: recompute those cells."""
    data = event.data
    assert isinstance(data, ConsentWithdrawn)
    alumnus_id = data.alumnus_id
    for wave_id in db_session.scalars(
            select(WaveTarget.wave_id).where(WaveTarget.alumnus_id == alumnus_id)).all():
        update_alumnus_cell(db_session, wave_id, alumnus_id)


@consumer("analytics.on_alumnus_erased")
def on_alumnus_erased(db_session: Session, event: Event) -> None:
    """Raw-response workbooks made before the erasure still name the person: remove them."""
    data = event.data
    assert isinstance(data, AlumnusErased)
    remove_raw_exports_of(db_session, data.alumnus_id)


@shared_task(name="analytics.refresh", ignore_result=True)
def refresh(wave_id: int | None = None, run_id: int | None = None) -> list[int | None]:
    """Full refresh of one wave, or of every open and closed wave (the nightly beat job).

    Returns the new snapshot ids (None: skipped, another refresh of the wave was running).
    Not retried on failure: the run row records the error and the next night tries again.
    """
    session_factory = get_db().session_factory
    if wave_id is None:
        return [outcome.snapshot.id if outcome.snapshot else None
                for outcome in refresh_all(session_factory)]
    snapshot = full_refresh(session_factory, wave_id, run_id=run_id)
    return [snapshot.id if snapshot else None]


@shared_task(name="analytics.expire_personal_files", ignore_result=True)
def expire_personal_files() -> int:
    """Beat job: delete raw-response workbooks older than JEJAK_PERSONAL_FILES_DAYS."""
    days = applied().personal_files_days  # the admin's retention days (shared/centre.py)
    with get_db().session_factory() as session:
        expired = expire_raw_exports(session, days)
        session.commit()
    return expired


# The report task lives beside its writers; importing it registers `analytics.export`.
from services.analytics.reports import tasks as _report_tasks  # noqa: E402, F401
