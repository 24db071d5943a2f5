"""shared.logs: phone numbers and email addresses never reach a log line."""

from __future__ import annotations

import logging

import pytest

from shared.logs import MaskingFilter, install, mask


@pytest.mark.parametrize("text", [
    "+6281234567890", "6281234567890", "081234567890", "0812-3456-7890", "0812 3456 7890",
    "+62 812-3456-7890", "(+62) 812.3456.7890", "+14155552671", "tel:+6281234567890",
])
def test_phone_numbers_are_masked_however_written(text: str) -> None:
    masked = mask(f"send to {text} now")
    assert not any(char.isdigit() for char in masked), masked


@pytest.mark.parametrize("text", ["ani@example.com", "Ani.B+x@sub.contoh.co.id",
                                  "<budi_1@mail.example.org>"])
def test_email_addresses_are_masked(text: str) -> None:
    assert "@" not in mask(f"rejected {text}: 550")


@pytest.mark.parametrize("text", [
    "message 123456 of campaign 7", "2026-11-27T21:30:00+08:00", "wave ts-2026",
    "event 6f1a92f0-55aa-4b1b-9e1e-6281234567890", "took 0.081234567 s", "count=62812",
])
def test_ids_times_and_numbers_stay_readable(text: str) -> None:
    assert mask(text) == text


def test_a_record_is_masked_in_its_arguments_and_its_traceback() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "to %s and %s",
                               ("ani@example.com", "+6281234567890"), None)
    try:
        raise ValueError("550 <ani@example.com>")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    MaskingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "ani@example.com" not in formatted and "6281234567890" not in formatted
    assert "to [email] and [phone]" in formatted and "550 <[email]>" in formatted


def test_install_masks_every_logger_once(caplog: pytest.LogCaptureFixture) -> None:
    install()
    install()  # idempotent: one wrapper, not two
    factory = logging.getLogRecordFactory()
    assert getattr(factory, "_jejak_masking", False)
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info("user %s", "ani@example.com")
    assert caplog.records[-1].getMessage() == "user [email]"
