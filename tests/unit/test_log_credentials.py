"""shared.logs: no log line holds a personal link token, an unsubscribe token or a secret from a
query string; each keeps a fingerprint (the first 6 hex of its SHA-256) for support to match
lines by (issue 13, point 4)."""

from __future__ import annotations

import hashlib
import logging

import pytest

from shared.logs import fingerprint, install, mask
from shared.tokens import seal

SURVEY_TOKEN = seal("a-test-secret-key-0123", "survey-link", 3, 41)
UNSUBSCRIBE_TOKEN = seal("a-test-secret-key-0123", "unsubscribe", 41, 2)
SURVEY_FP = hashlib.sha256(SURVEY_TOKEN.encode()).hexdigest()[:6]
UNSUBSCRIBE_FP = hashlib.sha256(UNSUBSCRIBE_TOKEN.encode()).hexdigest()[:6]


def test_the_fingerprint_is_the_first_six_hex_of_the_sha256() -> None:
    assert len(SURVEY_TOKEN) == 43  # two sealed numbers: the length of every link token
    assert fingerprint(SURVEY_TOKEN) == f"[token:{SURVEY_FP}]"
    assert fingerprint("abc") == "[token:ba7816]"  # sha256("abc") = ba7816bf…


@pytest.mark.parametrize("line", [
    # gunicorn's access log: request line and Referer, under `jejak up` or a service container
    f'10.0.0.7 - - [07/Dec/2026:14:02:11 +0800] "GET /survey/s/{SURVEY_TOKEN} HTTP/1.1" 200 '
    f'9120 "-" "Mozilla/5.0 (Linux; Android 13)"',
    f'10.0.0.7 - - [07/Dec/2026:14:02:19 +0800] "POST /survey/s/{SURVEY_TOKEN}?step=2 HTTP/1.1"'
    f' 303 0 "http://192.168.1.10:8000/survey/s/{SURVEY_TOKEN}?step=2" "Mozilla/5.0"',
    f'"GET /survey/s/{SURVEY_TOKEN}/terima-kasih HTTP/1.1" 200',
    # the application's own lines see the path inside the service (Flask's request.path)
    f"Exception on /s/{SURVEY_TOKEN} [POST]",
    f"database unavailable on GET /s/{SURVEY_TOKEN}: OperationalError",
    # a link in a message text, in a traceback or in a task argument
    f"Halo Ani, isi survei: https://tracer.blki-bontang.id/survey/s/{SURVEY_TOKEN} Terima kasih",
    f"ValueError('bad token {SURVEY_TOKEN}')",
    f"args=[[{{'link': 'http://127.0.0.1:8000/survey/s/{SURVEY_TOKEN}'}}]]",
    # a login redirect carrying the link, encoded or not
    f'"GET /survey/login?next=%2Fsurvey%2Fs%2F{SURVEY_TOKEN}%3Fstep%3D3 HTTP/1.1" 200',
    f'"GET /survey/login?next=/survey/s/{SURVEY_TOKEN} HTTP/1.1" 200',
    f'"GET /survey/login?next=%252Fsurvey%252Fs%252F{SURVEY_TOKEN} HTTP/1.1" 200',
])
def test_a_personal_survey_link_keeps_only_its_fingerprint(line: str) -> None:
    masked = mask(line)
    assert SURVEY_TOKEN not in masked
    assert f"[token:{SURVEY_FP}]" in masked, masked


@pytest.mark.parametrize("line", [
    f'"GET /outreach/u/{UNSUBSCRIBE_TOKEN} HTTP/1.1" 200',
    f'"POST /outreach/u/{UNSUBSCRIBE_TOKEN} HTTP/1.1" 200 "https://x.id/outreach/u/'
    f'{UNSUBSCRIBE_TOKEN}"',
    f"List-Unsubscribe: <http://127.0.0.1:8000/outreach/u/{UNSUBSCRIBE_TOKEN}>",
    # An employer contact's opt-out link (services/outreach/employer_web.py).
    f'"POST /outreach/eu/{UNSUBSCRIBE_TOKEN} HTTP/1.1" 200',
])
def test_an_unsubscribe_token_keeps_only_its_fingerprint(line: str) -> None:
    masked = mask(line)
    assert UNSUBSCRIBE_TOKEN not in masked
    assert f"[token:{UNSUBSCRIBE_FP}]" in masked, masked


def test_a_short_employer_opt_out_token_is_masked_by_its_path() -> None:
    """Shorter than a random run (32): only the path `/eu/` says it is a credential."""
    short = UNSUBSCRIBE_TOKEN[:20]
    masked = mask(f'"GET /eu/{short} HTTP/1.1" 404')
    assert short not in masked
    assert f"[token:{hashlib.sha256(short.encode()).hexdigest()[:6]}]" in masked


@pytest.mark.parametrize(("line", "secret"), [
    ('"GET /outreach/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=centre-verify-1'
     '&hub.challenge=1158201444 HTTP/1.1" 200', "centre-verify-1"),
    ('"GET /survey/api/v1/waves?token=jjk_5f2b8e0c91 HTTP/1.1" 401', "jjk_5f2b8e0c91"),
    ("GET /x?access_token=EAAGm0PX4ZCps&x=1", "EAAGm0PX4ZCps"),
    ("GET /x?a=1;api_key=k-778899&b=2", "k-778899"),
    ("GET /x?password=rahasia-sekali", "rahasia-sekali"),
    ("GET /x?client_secret=s3cr3t-value#frag", "s3cr3t-value"),
    ("GET /x?sig=a1b2c3d4e5&signature=f6a7b8c9", "a1b2c3d4e5"),
    ("GET /x?signature=f6a7b8c9", "f6a7b8c9"),
    ('"GET /x?TOKEN=UPPER-case-1 HTTP/1.1"', "UPPER-case-1"),
])
def test_query_string_secrets_keep_only_their_fingerprint(line: str, secret: str) -> None:
    masked = mask(line)
    assert secret not in masked
    assert fingerprint(secret) in masked, masked


def test_a_random_token_outside_a_url_keeps_only_its_fingerprint() -> None:
    """A staff API token or a link token quoted in a traceback: a long random run of URL-safe
    characters with upper and lower case is taken for a secret wherever it stands."""
    api_token = "Qm9uVGFuZy1ibGtpLXRyYWNlci0yMDI2LWtleS0w"
    masked = mask(f"refused token {api_token}: unknown")
    assert api_token not in masked and fingerprint(api_token) in masked


@pytest.mark.parametrize("text", [
    '"GET /survey/w/tracer-2025 HTTP/1.1" 200',
    '"GET /survey/static/form.js?v=3 HTTP/1.1" 304',
    '"GET /analytics/?wave=ts-2026&program=2&cohort=2025&lang=en&page=3 HTTP/1.1" 200',
    "hub.mode=subscribe&hub.challenge=1158201444",
    "task outreach.send_batch[6f1a92f0-55aa-4b1b-9e1e-0c5b5c1b2a11] succeeded",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "services.analytics.reports.export.ExportWorkbookBuilder failed",
    "/work/wt/logs/.venv/lib/python3.11/site-packages/werkzeug/serving.py",
    "migration 20261127_e7e1c0de0007_messages_partial_indexes applied",
    "GET /survey/s/ HTTP/1.1",
])
def test_ids_hashes_paths_and_parameters_stay_readable(text: str) -> None:
    assert mask(text) == text


def test_masking_a_masked_line_changes_nothing() -> None:
    line = (f'"GET /survey/login?next=%2Fsurvey%2Fs%2F{SURVEY_TOKEN}&token=abc HTTP/1.1" "http://'
            f'h/outreach/u/{UNSUBSCRIBE_TOKEN}" to ani@example.com +6281234567890')
    once = mask(line)
    assert mask(once) == once


def test_every_logger_masks_tokens_in_its_arguments(caplog: pytest.LogCaptureFixture) -> None:
    install()
    with caplog.at_level(logging.INFO):
        logging.getLogger("gunicorn.access").info(
            '%(h)s "%(r)s" %(s)s', {"h": "10.0.0.7", "r": f"GET /survey/s/{SURVEY_TOKEN} HTTP/1.1",
                                    "s": "200"})
    assert caplog.records[-1].getMessage() == (
        f'10.0.0.7 "GET /survey/s/[token:{SURVEY_FP}] HTTP/1.1" 200')
