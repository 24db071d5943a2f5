"""Staff sessions that end, CSRF whatever the headers, safe redirects, sign-in without
oracles (issue 13, points 5 to 7), through the real apps, database and Redis.

Addresses are set as `jejak up` sees them (REMOTE_ADDR, no proxy hops); the `jejak user`
commands run through click's runner against the test database.
"""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from services.cli import main
from services.survey.links import make_token
from shared import db, models
from shared.auth import create_token, create_user, hash_password, verify_password
from shared.config import Settings
from shared.models import AuditEntry, User, utcnow
from tests.conftest import app_config
from tests.integration.conftest import EMPLOYED

COOKIE = "jejak_session"
HERE = {"REMOTE_ADDR": "198.51.100.20"}
ELSEWHERE = {"REMOTE_ADDR": "203.0.113.5"}


@pytest.fixture()
def staff(survey_app) -> dict[str, str]:
    with survey_app.app_context():
        session = db.session()
        create_user(session, "adi", "kata-sandi-adi", "admin")
        create_user(session, "ani", "kata-sandi-ani", "operator")
        tokens = {role: create_token(session, role) for role in ("viewer", "operator", "admin")}
        session.commit()
    return tokens


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, username: str = "adi", password: str = "kata-sandi-adi", *,
          environ_base: dict[str, str] | None = None, **kwargs):
    environ_base = environ_base or HERE
    token = csrf_of(client.get("/login", environ_base=environ_base).get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token}, environ_base=environ_base, **kwargs)


def copy_of(app, client):
    """Another browser holding the same session cookie (copied, stolen, or left behind)."""
    other = app.test_client()
    other.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return other


def jejak(settings, tmp_path, *argv: str, stdin: str | None = None):
    return CliRunner().invoke(main, list(argv), input=stdin, env={
        "JEJAK_DATABASE_URL": settings.database_url, "JEJAK_HOME": str(tmp_path)})


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def app_with(settings: Settings, **changes: object):
    from services.cli import create_service

    return create_service("survey", app_config(dataclasses.replace(settings, **changes)))


# --- 5. sessions that end --------------------------------------------------------------


def test_a_copied_cookie_stops_working_after_logout(survey_app, staff) -> None:
    client = survey_app.test_client()
    assert login(client).status_code == 302
    copied = copy_of(survey_app, client)
    assert signed_in(copied)
    home = client.get("/").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_of(home)}).status_code == 302
    assert not signed_in(copied)
    assert not signed_in(client)


@pytest.mark.parametrize(("argv", "stdin", "action"), [
    (("user", "passwd", "ani"), "kata-sandi-baru\nkata-sandi-baru\n", "user.passwd"),
    (("user", "role", "ani", "viewer"), None, "user.role"),
    (("user", "deactivate", "ani"), None, "user.deactivate"),
])
def test_a_copied_cookie_stops_working_after_a_change_to_the_account(
    survey_app, staff, settings, tmp_path, argv, stdin, action
) -> None:
    client = survey_app.test_client()
    assert login(client, "ani", "kata-sandi-ani").status_code == 302
    copied = copy_of(survey_app, client)
    assert signed_in(copied)
    result = jejak(settings, tmp_path, *argv, stdin=stdin)
    assert result.exit_code == 0, result.output
    assert not signed_in(copied)
    assert not signed_in(client)
    with survey_app.app_context():
        entry = db.session().scalar(select(AuditEntry).where(AuditEntry.action == action))
        user = db.session().scalar(select(User).where(User.username == "ani"))
    assert entry.actor == "cli" and entry.target == "ani"
    if action == "user.passwd":
        assert login(survey_app.test_client(), "ani", "kata-sandi-ani").status_code == 401
        assert login(survey_app.test_client(), "ani", "kata-sandi-baru").status_code == 302
        assert "kata-sandi" not in str(entry.details)
    elif action == "user.role":
        assert user.role == "viewer" and entry.details == {"from": "operator", "to": "viewer"}
    else:
        assert not user.active
        assert login(survey_app.test_client(), "ani", "kata-sandi-ani").status_code == 401


def test_account_commands_name_an_unknown_user_or_role(settings, staff, tmp_path) -> None:
    missing = jejak(settings, tmp_path, "user", "deactivate", "nobody")
    assert missing.exit_code != 0 and "nobody" in missing.output
    role = jejak(settings, tmp_path, "user", "role", "ani", "superuser")
    assert role.exit_code != 0 and "superuser" in role.output


def test_a_session_ends_after_its_idle_time_on_the_server(settings, clean_db) -> None:
    """The idle limit is checked on the server: a cookie kept by the browser is refused."""
    app = app_with(settings, session_idle_hours=1.5 / 3600)  # 1.5 s
    with app.app_context():
        create_user(db.session(), "adi", "kata-sandi-adi", "admin")
        db.session().commit()
    client = app.test_client()
    assert login(client).status_code == 302
    copied = copy_of(app, client)
    assert signed_in(client)
    time.sleep(2)
    assert not signed_in(copied)  # the same cookie as a moment ago, unchanged
    assert not signed_in(client)


def test_a_session_in_use_stays_open_and_one_idle_for_a_working_day_ends(
    survey_app, staff
) -> None:
    client = survey_app.test_client()
    login(client)
    with client.session_transaction() as cookie:
        cookie["seen"] = int(time.time()) - 8 * 3600  # used this morning
    assert signed_in(client)
    with client.session_transaction() as cookie:
        assert abs(cookie["seen"] - time.time()) < 60  # the request counted as use
        cookie["seen"] = int(time.time()) - 9 * 3600 - 60  # untouched since yesterday
    assert not signed_in(client)


def test_the_idle_time_is_a_working_day_unless_configured() -> None:
    assert Settings.from_env({}).session_idle_hours == 9
    assert Settings.from_env({"JEJAK_SESSION_IDLE_HOURS": "2.5"}).session_idle_hours == 2.5


# --- 6. CSRF, bearer tokens and redirects ----------------------------------------------


def test_a_session_cookie_needs_the_csrf_token_whatever_the_authorization_header(
    survey_app, staff
) -> None:
    client = survey_app.test_client()
    login(client)
    wave = {"slug": "w-csrf", "title": "T", "questionnaire_key": "blk", "program_ids": []}
    bogus = client.post("/api/v1/waves", json=wave, headers={"Authorization": "Bearer jk_x"})
    assert bogus.status_code == 401
    valid = client.post("/api/v1/waves", json=wave,
                        headers={"Authorization": f"Bearer {staff['admin']}"})
    assert valid.status_code == 400  # a signed-in browser's cookie rides along: CSRF first
    logout = client.post("/logout", headers={"Authorization": "Bearer jk_x"})
    assert logout.status_code in (302, 401)
    assert signed_in(client)  # neither request signed the browser out


def test_an_invalid_bearer_token_is_not_rescued_by_the_session_cookie(
    survey_app, staff
) -> None:
    client = survey_app.test_client()
    login(client)
    assert client.get("/api/v1/alumni").status_code == 200
    refused = client.get("/api/v1/alumni", headers={"Authorization": "Bearer jk_not-a-token"})
    assert refused.status_code == 401
    assert refused.mimetype == "application/problem+json"
    revoked = client.get("/api/v1/alumni", headers={"Authorization": "Bearer "})
    assert revoked.status_code == 401


def test_the_intake_api_ignores_a_staff_cookie(survey, settings, staff) -> None:
    app = app_with(settings, rate_limit_intake="1 per minute")
    client = app.test_client()
    login(client, "ani", "kata-sandi-ani")  # an operator, signed in
    assert signed_in(client)
    paper = client.post("/api/v1/responses", json={
        "id": str(uuid.uuid4()), "wave": "ts-2026", "registration_no": "REG-002",
        "answers": EMPLOYED})
    assert paper.status_code == 401  # registration_no needs an operator *token*
    token = make_token(app.config["SECRET_KEY"], survey["wave_id"], survey["alumni"][0][0])
    codes = [client.post("/api/v1/responses", json={
        "id": str(uuid.uuid4()), "wave": "ts-2026", "token": token, "answers": EMPLOYED,
    }).status_code for _ in range(3)]
    assert codes == [201, 201, 429]  # the personal link's limit, cookie or not


@pytest.mark.parametrize("target", [
    "//evil.example/", "/\\evil.example", "/\t/evil.example", "\t", "javascript:alert(1)",
    "https://evil.example/", "evil.example", "/ok\\..\\evil", "",
])
def test_next_after_login_goes_home_unless_it_is_a_same_site_path(
    survey_app, staff, target
) -> None:
    client = survey_app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", query_string={"next": target}, data={
        "username": "adi", "password": "kata-sandi-adi", "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_after_login_keeps_a_same_site_path(survey_app, staff) -> None:
    client = survey_app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", query_string={"next": "/alumni?page=2"}, data={
        "username": "adi", "password": "kata-sandi-adi", "csrf_token": token})
    assert response.headers["Location"] == "/alumni?page=2"


@pytest.mark.parametrize("target", ["/\nSet-Cookie: x=1", "/a\rb", "/\x00", "/\x7f", "/\x85"])
def test_a_control_character_in_next_is_a_bad_request(survey_app, staff, target) -> None:
    client = survey_app.test_client()
    assert client.get("/login", query_string={"next": target}).status_code == 400
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", query_string={"next": target}, data={
        "username": "adi", "password": "kata-sandi-adi", "csrf_token": token})
    assert response.status_code == 400


# --- 7. sign-in without oracles --------------------------------------------------------


def _fastest(attempt, times: int = 3) -> float:
    best = float("inf")
    for _ in range(times):
        started = time.perf_counter()
        attempt()
        best = min(best, time.perf_counter() - started)
    return best


def test_unknown_inactive_and_known_usernames_all_pay_for_one_password_check(
    survey_app, staff
) -> None:
    """Fastest of three, so a busy machine only makes the attempts slower, never faster:
    without the dummy check an unknown name answers in a few ms, a tenth of one check."""
    with survey_app.app_context():
        create_user(db.session(), "lama", "kata-sandi-lama", "viewer").active = False
        db.session().commit()
    stored = hash_password("kata-sandi-adi")
    one_check = _fastest(lambda: verify_password(stored, "salah"), times=5)
    client = survey_app.test_client()
    addresses = iter(f"192.0.2.{n}" for n in range(1, 100))

    def attempt(username: str, password: str = "salah") -> None:
        assert login(client, username, password,
                     environ_base={"REMOTE_ADDR": next(addresses)}).status_code == 401

    for username, password in (("nobody", "salah"), ("adi", "salah"),
                               ("lama", "kata-sandi-lama")):
        took = _fastest(lambda: attempt(username, password))  # noqa: B023
        assert took >= 0.5 * one_check, (username, took, one_check)


def slow(app, seconds: float) -> None:
    """The first wait after three failures, as JEJAK_LOGIN_SLOW_SECONDS would set it."""
    app.config["JEJAK_SETTINGS"] = dataclasses.replace(app.config["JEJAK_SETTINGS"],
                                                       login_slow_seconds=seconds)


def test_failures_slow_down_their_address_not_the_owner_elsewhere_who_is_told(
    survey_app, staff
) -> None:
    # Waits of 30 s and more: a busy machine cannot let one pass between two attempts.
    slow(survey_app, 30)
    client = survey_app.test_client()
    codes = [login(client, "adi", "salah").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    slowed = login(client, "adi", "kata-sandi-adi")  # right password, but too soon
    assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) >= 1
    # An unknown name behaves exactly alike: the answers tell nothing about who exists.
    assert [login(client, "nobody", "salah").status_code for _ in range(5)] == codes
    owner = survey_app.test_client()
    signed = login(owner, environ_base=ELSEWHERE, follow_redirects=True)
    assert signed.status_code == 200
    page = signed.get_data(as_text=True)
    assert "3 percobaan masuk gagal" in page and "198.51.100.20" in page
    again = survey_app.test_client()
    assert "percobaan masuk gagal" not in login(
        again, environ_base=ELSEWHERE, follow_redirects=True).get_data(as_text=True)


def test_the_delay_grows_then_locks_that_account_and_address(survey_app, staff) -> None:
    slow(survey_app, 30)  # see above
    client = survey_app.test_client()
    assert [login(client, "adi", "salah").status_code for _ in range(4)] == [401] * 3 + [429]
    with survey_app.app_context():  # the wait after three failures (30 s) has passed
        for failure in db.session().scalars(select(models.LoginFailure)):
            failure.last_failed_at -= timedelta(seconds=31)
        db.session().commit()
    assert login(client, "adi", "salah").status_code == 401
    waiting = login(client, "adi", "kata-sandi-adi")  # after four failures: twice as long
    assert waiting.status_code == 429 and 30 < int(waiting.headers["Retry-After"]) <= 60
    slow(survey_app, 1)  # the real waits: 1, 2, 4 … 64 s
    with survey_app.app_context():  # as if the guesser had waited out each delay since
        db.session().execute(update(models.LoginFailure).values(
            failures=9, last_failed_at=utcnow().replace(microsecond=0) - _minutes(2)))
        db.session().commit()
    assert login(client, "adi", "salah").status_code == 401  # the tenth: locked now
    locked = login(client, "adi", "kata-sandi-adi")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 14 * 60
    assert login(survey_app.test_client(), environ_base=ELSEWHERE).status_code == 302


def _minutes(count: int):
    from datetime import timedelta

    return timedelta(minutes=count)
