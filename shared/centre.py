"""The training centre's settings: the one place to ask for its name, address, head, logo,
public URL, quiet hours, time zone and retention (docs/operations.md, "Centre settings").

An admin sets them on the settings page or through the API (both call `save_centre`); a
setting never set falls back to the environment (`JEJAK_BASE_URL`, `JEJAK_QUIET_HOURS`,
`JEJAK_TIMEZONE`, `JEJAK_PERSONAL_FILES_DAYS`, and `centre_name`/`centre_contact` when
shared.config has them) and then to the defaults below. Nothing else in the code writes a
centre's name: PDF, workbook, messages and posters read `centre(session)`.

The rows live in `centre_settings`, written only here (shared owns it, like users and the
audit log: docs/architecture.md §1). `centre()` keeps what it read for CACHE_SECONDS per
database, so a page that names the centre five times reads it once; `save_centre` clears
the cache of this process, others see a change within CACHE_SECONDS (the settings page
reads past the cache: `centre(..., fresh=True)`).
"""

from __future__ import annotations

import base64
import io
import ipaddress
import threading
import time
from dataclasses import dataclass, field, fields, replace
from datetime import time as clock
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.models import CentreSetting, utcnow

CACHE_SECONDS = 10.0
LOGO_MAX_BYTES = 512 * 1024
LOGO_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}
# Text settings and their longest length; the logo and the retention days are apart.
TEXT_LIMITS = {
    "name": 120, "short_name": 60, "address": 300, "contact": 200, "head_name": 120,
    "head_nip": 30, "city": 60, "region_code": 16, "region_name": 120,
    "province_code": 16, "province_name": 120, "base_url": 300, "quiet_hours": 20,
    "timezone": 60,
}


@dataclass(frozen=True)
class Centre:
    """The centre as every module sees it. `logo` is (media type, bytes) or None."""

    name: str = "UPTD BLKI Bontang"
    short_name: str = "BLKI Bontang"
    address: str = ""
    contact: str = ""
    head_name: str = ""
    head_nip: str = ""
    city: str = "Bontang"  # where the PDF's signature block is dated
    region_code: str = "6474"  # BPS code of the city or regency whose UMK applies
    region_name: str = "Kota Bontang"
    province_code: str = "64"
    province_name: str = "Kalimantan Timur"
    base_url: str = "http://127.0.0.1:8000"
    quiet_hours: str = "20:00-07:00"
    timezone: str = "Asia/Makassar"
    retention_days: int = 7
    logo: tuple[str, bytes] | None = None

    @property
    def base_url_warning(self) -> str | None:
        return base_url_warning(self.base_url)


SETTING_NAMES = tuple(item.name for item in fields(Centre))


def defaults(settings: Settings) -> Centre:
    """The centre before an admin set anything: the environment's values."""
    centre = Centre(base_url=settings.base_url, quiet_hours=settings.quiet_hours,
                    timezone=settings.timezone, retention_days=settings.personal_files_days)
    # Added by another branch (consent notice); read when present.
    for env_name, name in (("centre_name", "name"), ("centre_contact", "contact")):
        value = getattr(settings, env_name, None)
        if value:
            centre = replace(centre, **{name: value})
    return centre


_cache: dict[str, tuple[float, Centre]] = {}
_lock = threading.Lock()


def centre(session: Session, settings: Settings | None = None, *,
           fresh: bool = False) -> Centre:
    """The centre's settings: what an admin set, else the environment's, else the default.

    `settings` defaults to the Flask app's (JEJAK_SETTINGS); tasks pass theirs. `fresh`
    reads past this process's cache: the settings page does, because `jejak up` serves it
    from two gunicorn workers and the page after "Settings saved." may come from the one
    that did not save (it showed the old values)."""
    if settings is None:
        from flask import current_app

        settings = current_app.config["JEJAK_SETTINGS"]
    key = f"{session.get_bind().url}|{id(settings)}"
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
    if cached is not None and now - cached[0] < CACHE_SECONDS and not fresh:
        return cached[1]
    stored = {row.key: row.value for row in session.scalars(select(CentreSetting))}
    chosen = {name: stored[name] for name in SETTING_NAMES
              if name in stored and stored[name] not in (None, "")}
    if "logo" in chosen:
        logo = chosen.pop("logo")
        chosen["logo"] = (logo["media_type"], base64.b64decode(logo["data"]))
    result = replace(defaults(settings), **chosen)
    with _lock:
        _cache[key] = (now, result)
    return result


@dataclass(frozen=True)
class CentreSettings(Settings):
    """The app's Settings with what the admin set applied (`applied`): the public URL,
    quiet hours, time zone and retention, and the centre itself for message templates."""

    centre: Centre = field(default_factory=Centre)


def applied(settings: Settings | None = None, session: Session | None = None) -> CentreSettings:
    """The environment's Settings with the centre's settings over them: what code that
    builds links, sends messages or keeps files should use. Without a session: the
    request's when it is open, else one short one of its own."""
    if settings is None:
        from flask import current_app

        settings = current_app.config["JEJAK_SETTINGS"]
    if isinstance(settings, CentreSettings):
        return settings
    if session is None:
        from flask import g, has_app_context

        from shared import db

        if has_app_context() and "jejak_session" in g:
            # The request's (or task's) open session: on SQLite a second connection would
            # wait for the write lock its transaction may hold.
            current = centre(db.session(), settings)
        else:
            # None open yet: a short one of our own, closed before the caller's work (opening
            # the request's session here would hold SQLite's lock against the view's own
            # session factories, as the roster import uses).
            with db.get_db().session_factory() as own:
                current = centre(own, settings)
    else:
        current = centre(session, settings)
    values = {item.name: getattr(settings, item.name) for item in fields(Settings)}
    values.update(base_url=current.base_url, quiet_hours=current.quiet_hours,
                  timezone=current.timezone, personal_files_days=current.retention_days)
    return CentreSettings(**values, centre=current)


def centre_of(settings: Settings) -> Centre:
    """The centre carried by `applied` settings; the defaults for plain Settings."""
    return settings.centre if isinstance(settings, CentreSettings) else defaults(settings)


def forget() -> None:
    """Drop what `centre()` remembers (after a change, and between tests)."""
    with _lock:
        _cache.clear()


def base_url_warning(url: str) -> str | None:
    """Why a public base URL would not reach anyone else, or None when it may."""
    host = (urlsplit(url).hostname or "").lower()
    if host in ("localhost", "") or host.endswith(".localhost"):
        return "loopback"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return "loopback"
    except ValueError:
        pass
    return None


def check_logo(data: bytes) -> tuple[str, bytes]:
    """(media type, bytes) of a PNG or JPEG logo, judged by its content, not its name.
    Raises ValueError with the reason otherwise."""
    if not data:
        raise ValueError("empty file")
    if len(data) > LOGO_MAX_BYTES:
        raise ValueError(f"larger than {LOGO_MAX_BYTES // 1024} KB")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError("not a PNG or JPEG image") from exc
    if kind not in LOGO_TYPES:
        raise ValueError("not a PNG or JPEG image")
    return LOGO_TYPES[kind], data


def check(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Clean the settings an admin sends: (clean values, errors per field).

    Only the given names are checked and returned; an empty text clears the setting (the
    environment's value applies again). `logo` is raw bytes (b"" clears it)."""
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, raw in values.items():
        if name not in SETTING_NAMES:
            errors[name] = ["unknown setting"]
            continue
        try:
            clean[name] = _clean(name, raw)
        except ValueError as exc:
            errors[name] = [str(exc)]
    return clean, errors


def _clean(name: str, raw: Any) -> Any:
    if name == "logo":
        if raw in (None, b""):
            return None
        media_type, data = check_logo(raw)
        return {"media_type": media_type, "data": base64.b64encode(data).decode()}
    if name == "retention_days":
        if raw in (None, ""):
            return None
        if isinstance(raw, bool) or not str(raw).strip().isdigit() or not 1 <= int(raw) <= 3650:
            raise ValueError("a whole number of days from 1 to 3650")
        return int(raw)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValueError("not a text")
    text = " ".join(raw.split()) if name != "address" else raw.strip()
    if len(text) > TEXT_LIMITS[name]:
        raise ValueError(f"longer than {TEXT_LIMITS[name]} characters")
    if not text:
        return None
    if name == "base_url":
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an address starting with http:// or https://")
        return text.rstrip("/")
    if name == "timezone":
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("not a time zone, e.g. Asia/Makassar") from exc
    if name == "quiet_hours":
        try:
            start, end = (clock.fromisoformat(part.strip().zfill(5))
                          for part in text.split("-", 1))
        except ValueError as exc:
            raise ValueError("two times, e.g. 20:00-07:00") from exc
        return f"{start:%H:%M}-{end:%H:%M}"
    if name == "head_nip" and not text.replace(" ", "").isdigit():
        raise ValueError("digits only")
    return text


def save_centre(session: Session, clean: dict[str, Any], actor: str) -> None:
    """Store checked settings (from `check`), audited; None removes a setting."""
    from shared.auth import audit

    for name, value in clean.items():
        row = session.get(CentreSetting, name)
        if value is None:
            if row is not None:
                session.delete(row)
            continue
        if row is None:
            session.add(CentreSetting(key=name, value=value, updated_by=actor,
                                      updated_at=utcnow()))
        else:
            row.value, row.updated_by, row.updated_at = value, actor, utcnow()
    shown = {name: ("(logo)" if name == "logo" and value else value)
             for name, value in clean.items()}
    audit(session, actor, "centre.settings", "centre", **shown)
    forget()


def logo_data_url(logo: tuple[str, bytes] | None) -> str | None:
    if logo is None:
        return None
    return f"data:{logo[0]};base64,{base64.b64encode(logo[1]).decode()}"

