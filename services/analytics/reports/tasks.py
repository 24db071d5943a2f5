"""The Celery task behind report exports: a stable name, the export's id in.

Stable names and ids in: docs/architecture.md §2.
"""

from __future__ import annotations

import uuid

from celery import shared_task
from flask import current_app

from services.analytics.reports.export import run_export
from shared.db import get_db


@shared_task(name="analytics.export", ignore_result=True)
def export(export_id: str) -> str:
    """Write the file of one Export row, committing its progress as it goes."""
    return run_export(get_db().session_factory, uuid.UUID(export_id),
                      current_app.config["JEJAK_SETTINGS"])
