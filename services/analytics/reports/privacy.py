"""Analytics' part of an erasure: raw-response workbooks made before it are deleted.

A raw workbook (`raw_xlsx`) holds the registration number of everyone who answered the wave;
one made before an alumnus was erased would keep theirs after the erasure. Those files are
removed and their rows say why; an operator exports again (the new file has no identity for
the erased person). Aggregate reports hold no identifiers and stay.

The same files also expire: the beat job `analytics.expire_personal_files` deletes raw
workbooks last written more than JEJAK_PERSONAL_FILES_DAYS days ago (shared.personal_files).
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.models import Export, Response, utcnow
from shared.personal_files import DAY_SECONDS

PERSONAL_KINDS = ("raw_xlsx",)
REMOVED = "removed after a personal-data erasure; export again"
EXPIRED = "deleted after {days} days (JEJAK_PERSONAL_FILES_DAYS); export again"


def remove_raw_exports_of(session: Session, alumnus_id: int) -> int:
    """Delete the raw workbooks of every wave the alumnus answered; how many."""
    wave_ids = set(session.scalars(select(Response.wave_id)
                                   .where(Response.alumnus_id == alumnus_id)))
    if not wave_ids:
        return 0
    removed = 0
    for export in session.scalars(select(Export).where(Export.kind.in_(PERSONAL_KINDS),
                                                       Export.status == "done")):
        if export.params.get("wave_id") not in wave_ids:
            continue
        if export.path:
            Path(export.path).unlink(missing_ok=True)
        export.status, export.path, export.error = "failed", None, REMOVED
        export.finished_at = utcnow()
        removed += 1
    session.flush()
    return removed


def expire_raw_exports(session: Session, days: int, *, now: float | None = None) -> int:
    """Delete the raw workbooks written more than `days` days ago; how many.

    Their rows say why, as after an erasure; a file already gone counts as expired too.
    """
    cutoff = (time.time() if now is None else now) - days * DAY_SECONDS
    expired = 0
    for export in session.scalars(select(Export).where(Export.kind.in_(PERSONAL_KINDS),
                                                       Export.status == "done")):
        path = Path(export.path) if export.path else None
        if path is not None and path.exists() and path.stat().st_mtime >= cutoff:
            continue
        if path is not None:
            path.unlink(missing_ok=True)
        export.status, export.path = "failed", None
        export.error = EXPIRED.format(days=days)
        expired += 1
    session.flush()
    return expired
