"""The composed app as `jejak up` serves it: answers outside the three services, and staff
pages behind a TLS reverse proxy (X-Forwarded-* trusted only with JEJAK_PROXY_HOPS)."""

from __future__ import annotations

import re

import pytest
from werkzeug.test import Client

from services.cli import compose
from shared import db
from shared.auth import create_user
from shared.config import Settings
from shared.web import CONTENT_SECURITY_POLICY, SECURITY_HEADERS
from tests.conftest import app_config

PROXIED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "tracer.example.org",
           "X-Forwarded-For": "203.0.113.9"}


def test_answers_outside_the_three_services_carry_the_security_headers(
    settings: Settings, clean_db
) -> None:
    client = Client(compose(config=app_config(settings), proxy_hops=0))
    for path, status in (("/", 302), ("/favicon.ico", 404), ("/robots.txt", 404),
                         ("/wp-login.php", 404), ("/analyticsx/", 404),
                         ("/survey/no-such-page", 404), ("/outreach", 308)):
        response = client.get(path)
        assert response.status_code == status, path
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
        for header, value in SECURITY_HEADERS.items():
            assert response.headers[header] == value, (path, header)
    assert client.get("/").headers["Location"] == "/analytics/"


def sign_in_and_out(client: Client, headers: dict[str, str]) -> tuple[str, int, int]:
    """Sign in to the survey admin, open a staff page, sign out (a CSRF-checked POST); return
    the session cookie as set, the staff page's status and the sign-out's status."""
    page = client.get("/survey/login", headers=headers).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    signed_in = client.post("/survey/login", headers=headers, data={
        "username": "adi", "password": "kata-sandi-adi", "csrf_token": csrf})
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)
    cookie = signed_in.headers["Set-Cookie"]
    staff_page = client.get("/survey/", headers=headers)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"',
                     staff_page.get_data(as_text=True)).group(1)
    # A browser sends the page it is on as Referer; over HTTPS Flask-WTF checks it against
    # the host the request was made to.
    referer = {"Referer": "https://tracer.example.org/survey/"} if headers else {}
    signed_out = client.post("/survey/logout", headers={**headers, **referer},
                             data={"csrf_token": csrf})
    return cookie, staff_page.status_code, signed_out.status_code


@pytest.fixture()
def adi(survey_app) -> None:
    with survey_app.app_context():
        create_user(db.session(), "adi", "kata-sandi-adi", "admin")
        db.session().commit()


def test_staff_pages_work_behind_a_configured_tls_proxy_with_a_secure_cookie(
    settings: Settings, adi
) -> None:
    client = Client(compose(("survey",), config=app_config(settings), proxy_hops=1))
    cookie, staff_page, signed_out = sign_in_and_out(client, PROXIED)
    assert "; Secure" in cookie and "HttpOnly" in cookie
    assert (staff_page, signed_out) == (200, 302)
    hsts = client.get("/survey/login", headers=PROXIED).headers["Strict-Transport-Security"]
    assert hsts.startswith("max-age=")


def test_forwarded_headers_are_ignored_without_jejak_proxy_hops(settings: Settings, adi) -> None:
    client = Client(compose(("survey",), config=app_config(settings), proxy_hops=0))
    cookie, staff_page, signed_out = sign_in_and_out(client, {})
    assert "Secure" not in cookie and (staff_page, signed_out) == (200, 302)
    # A client claiming HTTPS itself changes nothing: no Secure cookie over plain HTTP.
    response = client.get("/survey/login", headers=PROXIED)
    assert "Secure" not in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in response.headers
