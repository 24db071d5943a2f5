"""Reading the audit log: one filter for the admin page and the API.

Writing is `shared.auth.audit` (append-only; the database refuses changes, see migration
c6e1c0de0006). Dates are the centre's calendar days (Asia/Makassar by default): "until
27 November" includes all of 27 November local time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from shared.models import AuditEntry

# Days outside these bounds filter nothing out, and would overflow datetime arithmetic.
_FIRST_DAY, _LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


def entries(
    *,
    actor: str | None = None,
    action: str | None = None,
    since: date | None = None,
    until: date | None = None,
    timezone: str = "Asia/Makassar",
) -> Select[tuple[AuditEntry]]:
    """Newest first. `action` matches exactly or as a family ("campaign" finds
    campaign.launch and campaign.pause); `actor` matches exactly."""
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(or_(AuditEntry.action == action,
                                AuditEntry.action.startswith(action.rstrip(".") + ".",
                                                             autoescape=True)))
    zone = ZoneInfo(timezone)
    since = since if since is not None and since > _FIRST_DAY else None
    until = until if until is not None and until < _LAST_DAY else None
    if since is not None:
        query = query.where(AuditEntry.at >= datetime.combine(since, time(), tzinfo=zone))
    if until is not None:
        query = query.where(
            AuditEntry.at < datetime.combine(until + timedelta(days=1), time(), tzinfo=zone))
    return query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


def known_actions(session: Session) -> list[str]:
    """Every action the log holds, for the filter's choices."""
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
