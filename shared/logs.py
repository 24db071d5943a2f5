"""Logs never carry phone numbers, email addresses or credentials (issue 6 and 13, UU PDP).

`install()` wraps the logging module's record factory, so every record any logger makes in
the process — Jejak's, Celery's, SQLAlchemy's, smtplib's, gunicorn's access log, a provider
client's — has its message, arguments and traceback masked before a handler, a formatter or
pytest's caplog sees it. A filter on a handler would miss handlers added later (gunicorn's,
Celery's); the record factory is the one place every record passes. Every app factory calls
it (shared.web.create_service_app, which the web services and the workers all use), the CLI
calls it before starting a worker, the relay or the embedded launcher, and gunicorn's master
calls it through `GunicornLogger` (`--logger-class shared.logs.GunicornLogger`), before it
loads the app.

What is masked:
- email addresses and phone numbers become `[email]` and `[phone]`;
- a credential becomes its fingerprint, `[token:` + the first 6 hex of its SHA-256 + `]`, so
  support can still tell which lines are about the same link (`fingerprint()` of the link a
  centre holds gives the same text). Credentials are: the token of a personal survey link
  (`/survey/s/<token>`, or `/s/<token>` as the service sees it), of an employer contact's
  link (`/survey/e/<token>`) and of an unsubscribe link (`/outreach/u/<token>`, an employer
  contact's `/outreach/eu/<token>`), their
  slashes plain or percent-encoded (a `next=` carrying a link); the value of a query
  parameter whose name ends in token, key, secret, password, signature or sig (`?token=`,
  `hub.verify_token=`, `api_key=`); and anywhere else, a run
  of 32 or more URL-safe characters mixing upper and lower case, which is what a random
  token looks like (every link token is 43; hex digests, UUIDs and identifiers stay).

`MaskingFilter` does the same for a handler configured by hand (dictConfig in production).
Masking is idempotent: a record masked twice reads the same.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from typing import Any

from gunicorn.glogging import Logger as _GunicornBaseLogger

EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"

_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Indonesian mobiles however written (+62 812-3456-7890, 6281234567890, 0812 3456 7890) and
# any international number in E.164 (+ and 8–15 digits). Not inside a longer run of word
# characters, a decimal or a hyphenated id, so ids, hashes and timings stay readable.
_PHONE = re.compile(
    r"(?<![\w+.-])(?:"
    r"(?:\(?\+62\)?|62|0)[\s.-]?8\d(?:[\s.-]?\d){6,11}"
    r"|\+[1-9](?:[\s.-]?\d){7,14}"
    r")(?![\w])"
)

# A slash as written in a path, in a query value (`next=%2Fsurvey%2Fs%2F…`) or in a query
# value that was encoded twice (a `next=` inside a `next=`).
_SLASH = r"(?:/|%2[Ff]|%252[Ff])"
# /s/<token> (personal survey link), /u/<token> (unsubscribe link), /e/<token> (an
# employer contact's link, docs/employers.md) and /eu/<token> (their unsubscribe link);
# the mask's own `[token:…]` does not match, so masking twice changes nothing.
_LINK_TOKEN = re.compile(rf"({_SLASH}(?:[sue]|eu){_SLASH})([A-Za-z0-9_-]+)")
_QUERY_SECRET = re.compile(
    r"([?&;][\w.-]*?(?:token|key|secret|password|passwd|signature|sig)=)(?!\[token:)"
    r"([^&;\s\"'#<>]+)",
    re.IGNORECASE,
)
_RANDOM_RUN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])")


def fingerprint(secret: str) -> str:
    """What a log line shows instead of `secret`: `[token:` + the first 6 hex of its SHA-256
    + `]`. Six hex tell the lines of one link from another's, and 24 bits of a hash say
    nothing that helps rebuild a 256-bit link token."""
    return f"[token:{hashlib.sha256(secret.encode()).hexdigest()[:6]}]"


def _fingerprint_value(match: re.Match[str]) -> str:
    """Keep what names the credential (a path, a parameter), fingerprint the credential."""
    return match.group(1) + fingerprint(match.group(2))


def _random_run(match: re.Match[str]) -> str:
    run = match.group(0)
    looks_random = any(char.isupper() for char in run) and any(char.islower() for char in run)
    return fingerprint(run) if looks_random else run


def mask_credentials(text: str) -> str:
    """`text` with every link token, query-string secret and random-looking run of 32 or more
    characters replaced by its fingerprint."""
    if "/" in text or "%2" in text:
        text = _LINK_TOKEN.sub(_fingerprint_value, text)
    if "=" in text:
        text = _QUERY_SECRET.sub(_fingerprint_value, text)
    return _RANDOM_RUN.sub(_random_run, text)


def mask(text: str) -> str:
    """`text` with every credential replaced by its fingerprint and every email address and
    phone number by a placeholder."""
    text = mask_credentials(text)
    if "@" in text:
        text = _EMAIL.sub(EMAIL_MASK, text)
    return _PHONE.sub(PHONE_MASK, text)


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask a record in place: its message (arguments merged in) and any traceback."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: let logging report it as it always has
        return record
    record.msg, record.args = mask(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = mask(record.exc_text)
    if record.stack_info:
        record.stack_info = mask(record.stack_info)
    return record


class MaskingFilter(logging.Filter):
    """For a handler configured by hand: mask, never drop."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


_lock = threading.Lock()


def install() -> None:
    """Mask every log record made in this process from now on (idempotent)."""
    with _lock:
        current = logging.getLogRecordFactory()
        if getattr(current, "_jejak_masking", False):
            return

        def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return mask_record(current(*args, **kwargs))

        masking_factory._jejak_masking = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(masking_factory)


class GunicornLogger(_GunicornBaseLogger):
    """gunicorn's logger, masking from its first line (`--logger-class
    shared.logs.GunicornLogger`, in `jejak up` and `jejak web`).

    The access log is a logging call (`access_log.info(format, atoms)`), so the masking
    record factory covers it: the request line, the Referer, any header a custom
    `--access-logformat` names. Installing it here, in the master before it forks, covers the
    master's own lines and a worker's lines before the app (which installs it again) loads.
    """

    def setup(self, cfg: Any) -> None:
        install()
        super().setup(cfg)
