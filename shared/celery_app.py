"""The one Celery app, configured from Flask config (Flask's examples/celery)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Celery, Task
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
    # Celery's timezone is the centre's (Asia/Makassar): 02:00 WITA, after the day's answers.
    "analytics-nightly": {"task": "analytics.refresh", "schedule": crontab(hour=2, minute=0)},
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
        worker_hijack_root_logger=False,
    )
    celery.conf.update(app.config.get("CELERY", {}))
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


__all__ = ["celery_init_app", "route_task", "broker_url", "SERVICE_QUEUES"]
