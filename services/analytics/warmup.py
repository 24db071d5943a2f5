"""The first indicators request after a restart: answered ahead as the app starts.

A new process (a gunicorn worker after a deploy or a restart) had nothing parsed: its first
indicators request parsed the wave's whole snapshot (0.5–2.5 s at 1M responses) and, by
cohort, computed a thousand groups. Analytics' `create_app` starts `warm_in_background`: a
daemon thread that, in the app's context, reads the snapshot of every open and closed wave
into the app's `IndicatorCache` and answers the queries clients ask first (`api.warm`).

Nothing waits for it: a request that comes first computes what it needs itself, as before,
and the two only share the CPU. (Waiting would risk a deadlock on SQLite, where a reader
holds the write lock for its transaction.) `cache.warmed` is set when the thread is done or
gave up; a failure (a database not migrated yet, unreachable) is logged and changes nothing
else. Not under TESTING unless `JEJAK_WARM_INDICATORS` asks for it: tests measure and clear
the cache themselves.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from services.analytics import api
from services.analytics.indicator_cache import IndicatorCache
from shared import db

log = logging.getLogger(__name__)


def wanted(app: Flask) -> bool:
    return bool(app.config.get("JEJAK_WARM_INDICATORS", not app.testing))


def warm_in_background(app: Flask, cache: IndicatorCache) -> threading.Thread:
    """Start the thread; returns it (it is a daemon: it never holds a process up)."""

    def run() -> None:
        started = time.perf_counter()
        try:
            with app.app_context():
                waves = api.warm(db.session())
        except Exception:
            log.warning("could not answer the indicators ahead", exc_info=True)
        else:
            log.info("indicators of %d waves answered ahead in %.2f s", waves,
                     time.perf_counter() - started)
        finally:
            cache.warmed.set()

    thread = threading.Thread(target=run, name="jejak-warm-indicators", daemon=True)
    thread.start()
    return thread
