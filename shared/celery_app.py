"""The one Celery app, configured from Flask config (Flask's examples/celery)."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import timedelta
from typing import Any

import redis
from celery import Celery, Task
from celery.beat import PersistentScheduler
from celery.schedules import crontab
from flask import Flask

from shared.config import Settings

# One queue per service, plus `events` for the outbox relay that any worker may run.
SERVICE_QUEUES = ("survey", "outreach", "analytics")
EVENTS_QUEUE = "events"

# Beat jobs. "Due at" times live in the database: these only wake the code that looks.
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "relay-outbox": {"task": "events.relay", "schedule": timedelta(seconds=5)},
    "outreach-dispatch": {"task": "outreach.dispatch", "schedule": timedelta(seconds=10)},
    "outreach-employers": {"task": "outreach.send_employer_messages",
                           "schedule": timedelta(seconds=30)},
    # Hard bounces that come back by mail (JEJAK_BOUNCE_IMAP_URL; nothing when unset).
    "outreach-read-bounces": {"task": "outreach.read_bounces",
                              "schedule": timedelta(minutes=5)},
    # Celery's timezone is the centre's (Asia/Makassar): 02:00 WITA, after the day's answers.
    "analytics-nightly": {"task": "analytics.refresh", "schedule": crontab(hour=2, minute=0)},
    # Events a subscriber never got (a task lost between Redis and a worker): shared.events.
    "redeliver-events": {"task": "events.redeliver", "schedule": timedelta(seconds=60)},
    # Retention of relayed outbox rows and processed_events (JEJAK_EVENT_RETENTION_DAYS).
    "prune-events": {"task": "events.prune", "schedule": crontab(hour=3, minute=30)},
    # Personal-data files past JEJAK_PERSONAL_FILES_DAYS (shared.personal_files): each
    # service deletes its own (survey: rejected rows and backups; analytics: raw exports).
    "survey-expire-personal-files": {"task": "survey.expire_personal_files",
                                     "schedule": timedelta(hours=1)},
    "analytics-expire-personal-files": {"task": "analytics.expire_personal_files",
                                        "schedule": timedelta(hours=1)},
}


def route_task(name: str, *_args: Any, **_kwargs: Any) -> dict[str, str]:
    """`outreach.send_batch` goes to the `outreach` queue; anything else to `events`."""
    prefix = name.split(".", 1)[0]
    return {"queue": prefix if prefix in SERVICE_QUEUES else EVENTS_QUEUE}


def broker_url(redis_url: str) -> str:
    """kombu spells a unix-socket Redis URL differently from redis-py."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


def broker_client(celery: Celery) -> redis.Redis:
    """A plain redis-py client on the broker (for leases and queue lengths); close it."""
    url = str(celery.conf.broker_url).replace("redis+socket://", "unix://", 1)
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


log = logging.getLogger(__name__)

# Compare-and-renew / compare-and-release, so a beat never extends or drops another's lease.
_RENEW_LEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
_RELEASE_LEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class LeaderScheduler(PersistentScheduler):
    """Celery beat that sends only while it holds a lease in Redis (docs/decisions.md).

    Two beats (a second `jejak beat` container, or `jejak worker --beat` beside one) both
    keep their schedule moving, but only the holder of the lease sends: every scheduled job
    runs once per tick. The leader renews the lease well before it expires; a standby checks
    every second and takes over within LEASE_SECONDS when the leader dies (at once when it
    stops cleanly, because it releases the lease). While Redis is down nobody leads, which
    costs nothing: nothing could be sent anyway.
    """

    LEASE_KEY = "jejak:beat:leader"
    LEASE_SECONDS = 30.0
    STANDBY_POLL_SECONDS = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._leading: bool | None = None  # not decided yet
        self._checked_at = float("-inf")
        self._lease_client: redis.Redis | None = None
        super().__init__(*args, **kwargs)

    def _client(self) -> redis.Redis:
        if self._lease_client is None:
            self._lease_client = broker_client(self.app)
        return self._lease_client

    def leading(self) -> bool:
        """Renew (or try to take) the lease when it is time to; True while we hold it."""
        now = time.monotonic()
        recheck = self.LEASE_SECONDS / 3 if self._leading else self.STANDBY_POLL_SECONDS
        if self._leading is not None and now - self._checked_at < recheck:
            return self._leading
        try:
            held = bool(self._client().eval(_RENEW_LEASE, 1, self.LEASE_KEY, self._identity,
                                            int(self.LEASE_SECONDS * 1000)))
        except redis.RedisError as exc:
            held = False
            if self._leading:
                log.warning("beat: cannot renew the leader lease (%s); pausing", exc)
        self._checked_at = now
        if held != self._leading:
            log.warning("beat %s: %s", self._identity,
                        "leading: sending scheduled jobs" if held
                        else "standing by: another beat leads")
        self._leading = held
        return held

    def tick(self, *args: Any, **kwargs: Any) -> float:
        self.leading()
        delay = super().tick(*args, **kwargs)
        return min(delay, self.LEASE_SECONDS / 3 if self._leading else self.STANDBY_POLL_SECONDS)

    def apply_entry(self, entry: Any, producer: Any = None) -> None:
        # The entry was already moved to its next run: a standby follows the schedule
        # without sending, so on takeover it sends what is due from then on, not a backlog.
        if self.leading():
            super().apply_entry(entry, producer=producer)

    def close(self) -> None:
        try:
            if self._leading:
                self._client().eval(_RELEASE_LEASE, 1, self.LEASE_KEY, self._identity)
        except redis.RedisError:
            pass  # it expires by itself
        finally:
            super().close()


def celery_init_app(app: Flask, settings: Settings) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=broker_url(settings.redis_url or "redis://127.0.0.1:6379/0"),
        broker_connection_retry_on_startup=True,
        # Fail fast when publishing: the outbox keeps the event and the relay retries.
        broker_transport_options={
            "visibility_timeout": 3600,
            "socket_connect_timeout": 2,
            "socket_timeout": 5,
            # One connection attempt when a publisher (the relay) finds no connection: kombu
            # would otherwise retry for broker_connection_timeout (about 6 s on a refused
            # port), holding the relay's transaction, and on SQLite the write lock every
            # request waits for. The worker's own reconnect loop passes its retries itself.
            "max_retries": 0,
        },
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_routes=(route_task,),
        task_default_queue=EVENTS_QUEUE,
        timezone=settings.timezone,
        beat_schedule=dict(BEAT_SCHEDULE),
        beat_scheduler="shared.celery_app:LeaderScheduler",
        worker_hijack_root_logger=False,
    )
    celery.conf.update(app.config.get("CELERY", {}))
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


__all__ = ["celery_init_app", "route_task", "broker_url", "broker_client", "SERVICE_QUEUES",
           "LeaderScheduler"]
