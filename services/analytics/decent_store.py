"""The decent-work presets and a wave's wages as stored, and the refresh their changes need.

`plan_of_wave` is what a fill weighs respondents with (`decent.Plan`): the wages of the
wave's year and the presets, read at every fill (three small queries), so a live update
uses the settings of its moment. Decent work is a fill-time figure (the weights are summed
into the cells), unlike above_minimum_wage, which is resolved when the figures are read: so
saving a wage or a preset queues a full refresh of the waves it affects
(`queue_refreshes`), and the pages say the figures are being recomputed.

Presets missing from the table (a database made without migrations, e.g. tests) are the
built-in values the migration seeds (`decent.DEFAULT_PRESETS`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.analytics.decent import (
    DEFAULT_PRESETS,
    EDITABLE,
    PRESET_NAMES,
    Plan,
    Preset,
    check_preset,
)
from services.analytics.wages import wages_of_year, wave_year
from shared.models import DecentWorkPreset, Wave, utcnow

log = logging.getLogger(__name__)
REFRESHED_STATUSES = ("open", "closed")  # as refresh.REFRESHED_STATUSES
DEFAULT_TIMEZONE = "Asia/Makassar"  # shared.config's default, outside an app
# As migration decent0001 seeds them.
DEFAULT_SOURCES = {"iku2": "Kepmendiktisaintek 358/M/KEP/2025, IKU 2",
                   "blk": "BLK (awalnya sama dengan IKU 2; dapat disesuaikan lembaga)"}


def presets(session: Session) -> tuple[Preset, ...]:
    """Every preset, in `PRESET_NAMES` order, as stored (else the built-in values)."""
    stored = {row.name: row for row in session.scalars(select(DecentWorkPreset))}
    return tuple(Preset.from_json(name, stored[name].rules) if name in stored
                 else DEFAULT_PRESETS[name] for name in PRESET_NAMES)


def preset_rows(session: Session) -> list[tuple[Preset, bool, str]]:
    """(preset, editable, source) of every preset, for the staff page."""
    stored = {row.name: row for row in session.scalars(select(DecentWorkPreset))}
    return [(preset, preset.name in EDITABLE,
             stored[preset.name].source if preset.name in stored
             else DEFAULT_SOURCES.get(preset.name, ""))
            for preset in presets(session)]


def timezone() -> str:
    """The time zone a wave's year is read in: the app's (as the indicators API), else the
    default (a worker without an app)."""
    from flask import current_app, has_app_context

    if has_app_context() and "JEJAK_SETTINGS" in current_app.config:
        return str(current_app.config["JEJAK_SETTINGS"].timezone)
    return DEFAULT_TIMEZONE


def plan_of_wave(session: Session, wave_id: int) -> Plan | None:
    """The wave's wages and presets; None when the wave has no minimum wage of its own
    region (decent work is then not weighed, as above_minimum_wage has no count)."""
    wave = session.get(Wave, wave_id)
    if wave is None:
        return None
    wages = wages_of_year(session, wave_year(wave, timezone()))
    if wages.centre is None:
        return None
    return Plan(wages, presets(session))


def save_preset(session: Session, name: str, values: dict[str, Any], actor: str
                ) -> dict[str, str]:
    """Check and save an editable preset (audited); returns the problems (field: English
    text), empty when saved. The caller commits and then queues the refresh."""
    if name not in EDITABLE:
        return {"name": "this preset cannot be changed"}
    data, errors = check_preset(values)
    if errors:
        return errors
    row = session.get(DecentWorkPreset, name)
    previous = row.rules if row is not None else None
    if row is None:
        row = DecentWorkPreset(name=name, editable=True, source="")
        session.add(row)
    row.rules = data
    row.updated_at = utcnow()
    session.flush()
    from shared.auth import audit

    audit(session, actor, "decent_work.preset_set", name, rules=data, previous=previous)
    return {}


def waves_of_year(session: Session, year: int | None) -> list[int]:
    """The open and closed waves whose wage year is `year` (None: all of them)."""
    waves = session.scalars(select(Wave).where(Wave.status.in_(REFRESHED_STATUSES))
                            .order_by(Wave.id))
    zone = timezone()
    return [wave.id for wave in waves if year is None or wave_year(wave, zone) == year]


def queue_refreshes(wave_ids: Iterable[int]) -> bool:
    """Queue a full refresh of each wave (the app's Celery); False when the queue cannot be
    reached: the nightly refresh then catches up, and the setting is saved regardless."""
    from flask import current_app

    celery = current_app.extensions.get("celery")
    if celery is None:
        return False
    try:
        for wave_id in wave_ids:
            celery.send_task("analytics.refresh", kwargs={"wave_id": wave_id, "run_id": None},
                             retry=False)
    except Exception as exc:  # broker down: the saved setting stands
        log.warning("could not queue the refresh after a settings change: %s", exc)
        return False
    return True
