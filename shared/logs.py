"""Logs never carry phone numbers or email addresses (issue 6, UU PDP).

`install()` wraps the logging module's record factory, so every record any logger makes in
the process — Jejak's, Celery's, SQLAlchemy's, smtplib's, a provider client's — has its
message, arguments and traceback masked before a handler, a formatter or pytest's caplog
sees it. A filter on a handler would miss handlers added later (gunicorn's, Celery's);
the record factory is the one place every record passes. Every app factory calls it
(shared.web.create_service_app, which the web services and the workers all use), and the
CLI calls it before starting a worker or the embedded launcher.

`MaskingFilter` does the same for a handler configured by hand (dictConfig in production).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

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


def mask(text: str) -> str:
    """`text` with every email address and phone number replaced by a placeholder."""
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
