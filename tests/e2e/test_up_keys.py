"""`jejak up` as a centre runs it, with no key in the environment: it makes its own keys on
the first start, keeps them private, reuses them, and a cookie signed with the development
key that used to be the default signs nobody in."""

from __future__ import annotations

import http.cookiejar
import os
import re
import stat
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from shared.config import DEFAULT_PII_KEY, DEFAULT_SECRET, KEY_FILE_NAME, read_key_file
from tests.conftest import TEST_DB
from tests.e2e.conftest import free_port, start_jejak, stop_jejak

pytestmark = pytest.mark.skipif(
    TEST_DB != "sqlite", reason="jejak up is the embedded SQLite default; runs in the SQLite pass"
)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """GET without following redirects: status, headers, body."""
    opener = urllib.request.build_opener(_NoRedirects)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def sign_in(base: str, username: str, password: str) -> str:
    """Sign in through the login form as a browser does; return the session cookie."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/survey/login", timeout=10) as response:
        page = response.read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {"csrf_token": csrf, "username": username, "password": password}).encode()
    with opener.open(f"{base}/survey/login", data=form, timeout=10):
        pass
    (cookie,) = [cookie.value for cookie in jar if cookie.name == "jejak_session"]
    return cookie


def session_signer(secret_key: str):
    """Flask's own session serializer for `secret_key` (what the services verify with)."""
    app = Flask("forger")
    app.secret_key = secret_key
    return SecureCookieSessionInterface().get_signing_serializer(app)


def staff_page(base: str, cookie: str) -> tuple[int, dict[str, str]]:
    status, headers, _body = fetch(f"{base}/survey/", {"Cookie": f"jejak_session={cookie}"})
    return status, headers


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_up_makes_private_keys_once_and_refuses_a_cookie_signed_with_the_development_key(
    tmp_path: Path,
) -> None:
    home = tmp_path / "centre"
    key_file = home / KEY_FILE_NAME
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    # First start, listening beyond this machine: one warning about plain HTTP.
    process, output = start_jejak(home, port, "--host", "0.0.0.0", secret_key=None)
    try:
        assert output.count("plain HTTP") == 1, output
        assert mode(key_file) == 0o600 and mode(home) == 0o700
        keys = read_key_file(key_file)
        assert set(keys) == {"JEJAK_SECRET_KEY", "JEJAK_PII_KEY"}
        assert not set(keys.values()) & {DEFAULT_SECRET, DEFAULT_PII_KEY}
        assert all(len(value) >= 40 for value in keys.values())  # token_urlsafe(32)

        password = output.split("admin / ")[1].split()[0]
        cookie = sign_in(base, "admin", password)
        status, _headers = staff_page(base, cookie)
        assert status == 200
        # The same session, signed with the key every copy of Jejak used to run on.
        session = session_signer(keys["JEJAK_SECRET_KEY"]).loads(cookie)
        assert session["user_id"]
        forged = session_signer(DEFAULT_SECRET).dumps(session)
        status, headers = staff_page(base, forged)
        assert status == 302 and "/survey/login" in headers["Location"]

        # X-Forwarded-Proto is not trusted without JEJAK_PROXY_HOPS (gunicorn's own trust
        # of 127.0.0.1 included): the cookie is not marked Secure for plain HTTP.
        status, headers, _ = fetch(f"{base}/survey/login", {"X-Forwarded-Proto": "https"})
        assert status == 200 and "jejak_session=" in headers["Set-Cookie"]
        assert "secure" not in headers["Set-Cookie"].lower()

        # Outside the three services too, every answer carries the security headers.
        for path in ("/", "/favicon.ico", "/nothing-here"):
            status, headers, _ = fetch(base + path)
            assert status in (302, 404), path
            assert headers["X-Content-Type-Options"] == "nosniff", path
            assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
    finally:
        stop_jejak(process)

    # Second start in the same folder, on loopback: no warning, the same keys in use.
    process, output = start_jejak(home, port, secret_key=None)
    try:
        assert "plain HTTP" not in output
        assert read_key_file(key_file) == keys
        status, _headers = staff_page(base, cookie)  # signed by the first run's web process
        assert status == 200
    finally:
        stop_jejak(process)

    # Another fresh folder: its first command that needs keys makes different ones.
    other = tmp_path / "other"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEJAK_")}
    done = subprocess.run([sys.executable, "-m", "services.cli", "db", "upgrade"],
                          env={**env, "JEJAK_HOME": str(other)}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    others = read_key_file(other / KEY_FILE_NAME)
    assert mode(other / KEY_FILE_NAME) == 0o600 and mode(other) == 0o700
    assert not set(others.values()) & set(keys.values())
