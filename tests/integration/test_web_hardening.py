"""Web hardening through the real apps: security headers, cookie flags, CSRF, rate limits.

The rate limits count in the real Redis of the fixtures (embedded or system, db 5), with
limits made small through Settings, as JEJAK_RATE_LIMIT_* would.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from services.survey.links import make_token
from shared import db
from shared.auth import create_token, create_user
from shared.config import Settings
from shared.models import ResponseEdit
from tests.conftest import app_config
from tests.integration.conftest import EMPLOYED


@pytest.fixture()
def staff(survey_app) -> dict[str, str]:
    with survey_app.app_context():
        session = db.session()
        create_user(session, "adi", "kata-sandi-adi", "admin")
        tokens = {role: create_token(session, role) for role in ("viewer", "operator", "admin")}
        session.commit()
    return tokens


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, username: str = "adi", password: str = "kata-sandi-adi", **kwargs):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token}, **kwargs)


def app_with(name: str, settings: Settings, **changes: object):
    from services.cli import create_service

    return create_service(name, app_config(dataclasses.replace(settings, **changes)))


# --- headers and cookies ---------------------------------------------------------------


def test_every_answer_carries_the_security_headers(survey_app, outreach_app, analytics_app,
                                                    staff) -> None:
    bearer = {"Authorization": f"Bearer {staff['admin']}"}
    for app, paths in ((survey_app, ["/login", "/", "/api/v1/alumni", "/api/v1/nothing",
                                     "/w/no-such-wave", "/healthz"]),
                       (outreach_app, ["/login", "/", "/api/v1/campaigns"]),
                       (analytics_app, ["/login", "/api/v1/indicators?wave=x"])):
        client = app.test_client()
        for path in paths:
            response = client.get(path, headers=bearer)
            response.close()  # ends the request: on SQLite its session holds the write lock
            csp = response.headers["Content-Security-Policy"]
            assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
            assert "script-src 'self';" in csp and "unsafe-inline" not in csp, path
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Referrer-Policy"] == "same-origin"
            assert response.headers["X-Frame-Options"] == "DENY"
            assert "Strict-Transport-Security" not in response.headers  # not over plain http


def test_pages_have_no_inline_script_or_handler(survey_app, staff) -> None:
    client = survey_app.test_client()
    login(client)
    for path in ("/login", "/", "/import", "/api/docs"):
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE), path
        assert "javascript:" not in html, path


def test_session_cookie_is_httponly_lax_and_secure_in_production(
    survey_app, settings, staff, monkeypatch
) -> None:
    cookie = login(survey_app.test_client()).headers["Set-Cookie"]
    assert "jejak_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development runs on plain http
    # Production: Settings.check() would refuse SQLite; the cookie flags are what is tested.
    monkeypatch.setattr(Settings, "check", lambda self: None)
    production = app_with("survey", settings, env="production",
                          secret_key="s" * 32, pii_key=settings.pii_key)
    client = production.test_client()
    response = login(client, base_url="https://localhost")
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/login", base_url="https://localhost").headers[
        "Strict-Transport-Security"].startswith("max-age=")


# --- CSRF ------------------------------------------------------------------------------


class _Forms(HTMLParser):
    """POST forms of a page: their action and whether they carry a csrf_token field."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, object]] = []
        self._open: dict[str, object] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and (values.get("method") or "get").lower() == "post":
            self._open = {"action": values.get("action"), "csrf": False}
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and values.get("name") == "csrf_token":
            self._open["csrf"] = bool(values.get("value"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def post_forms(html: str) -> list[dict[str, object]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def test_every_staff_form_carries_the_csrf_token_and_a_post_without_it_is_refused(
    survey_app, outreach_app, analytics_app, survey, staff
) -> None:
    seen = 0
    person = survey["alumni"][0][0]
    survey_pages = ["/", "/import", "/alumni", f"/alumni/{person}", f"/alumni/{person}/erase",
                    "/audit", "/waves/ts-2026", "/waves/ts-2026/alumni",
                    f"/waves/ts-2026/alumni/{person}", "/employers", "/employers/import",
                    f"/employers/{_an_employer(survey_app)}"]
    for app, pages in ((survey_app, survey_pages), (outreach_app, ["/"]),
                       (analytics_app, ["/?wave=ts-2026"])):
        client = app.test_client()
        login(client)
        for page in pages:
            response = client.get(page)
            assert response.status_code == 200, page
            for form in post_forms(response.get_data(as_text=True)):
                seen += 1
                assert form["csrf"], f"{page}: the form to {form['action']} has no CSRF token"
                if form["action"] and "logout" not in str(form["action"]):
                    refused = client.post(str(form["action"]), data={})
                    assert refused.status_code == 400, f"{form['action']} took a POST without it"
        assert client.post("/logout").status_code == 400  # still signed in after that
        assert client.get(pages[0]).status_code == 200
    assert seen >= 8
    login_form = post_forms(survey_app.test_client().get("/login").get_data(as_text=True))
    assert login_form and all(form["csrf"] for form in login_form)
    assert login(survey_app.test_client()).status_code == 302
    no_token = survey_app.test_client().post(
        "/login", data={"username": "adi", "password": "kata-sandi-adi"})
    assert no_token.status_code == 400


def _an_employer(app) -> int:
    """A company with a look-alike, so its page shows every form (contact, merge)."""
    from services.survey.employers import EmployerFields, record_employer

    with app.app_context():
        session = db.session()
        kept, _ = record_employer(session, EmployerFields("PT Maju Jaya", phone="+62541123456"),
                                  source="staff")
        record_employer(session, EmployerFields("Maju Jaya", phone="+62541999999"),
                        source="staff")
        session.commit()
        return kept.id


SAMPLE_ARGUMENTS = {"int": "1", "uuid": "6f1c1f3e-3b7e-4c57-9a52-3d3a8f1f0001",
                    "default": "ts-2026"}


def _sample_url(rule) -> str:
    """The rule with every variable filled by a value its converter accepts."""
    values = {}
    for name, converter in rule._converters.items():
        kind = type(converter).__name__.lower()
        options = getattr(converter, "items", None)  # `any(a, b)`: its first choice
        if options:
            values[name] = sorted(options)[0]
        elif "uuid" in kind:
            values[name] = SAMPLE_ARGUMENTS["uuid"]
        elif "int" in kind or "rowid" in kind:
            values[name] = SAMPLE_ARGUMENTS["int"]
        else:
            values[name] = SAMPLE_ARGUMENTS["default"]
    return rule.build(values, append_unknown=False)[1]


def test_every_staff_post_route_refuses_a_signed_in_post_without_the_csrf_token(
    survey_app, outreach_app, analytics_app, survey, staff
) -> None:
    """Every POST/PUT/PATCH/DELETE route of every service, pages and API alike, found in the
    url_map (so a route added later is walked too): a signed-in browser's request without the
    token is refused before the view runs, whatever the route is."""
    from shared.auth import access_of

    walked = []
    for app in (survey_app, outreach_app, analytics_app):
        client = app.test_client()
        login(client)
        for rule in app.url_map.iter_rules():
            for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
                if access_of(app, rule.endpoint, method) in ("public", "kiosk"):
                    # Public forms carry no CSRF token; kiosk writes need the kiosk header
                    # (docs/security.md; test_kiosk_writes_need_the_kiosk_header).
                    continue
                url = _sample_url(rule)
                answer = client.open(url, method=method, data={})
                assert answer.status_code == 400, f"{method} {url} took a post without it"
                walked.append((method, url))
        assert client.get("/").status_code == 200  # still signed in: nothing was changed
    assert len(walked) >= 40, walked


def test_kiosk_writes_need_the_kiosk_header(survey_app, survey, staff) -> None:
    """Every kiosk write route (found in the url_map), with a valid kiosk pass but without
    the X-Jejak-Kiosk header a cross-site form cannot add, is refused before the view runs;
    the unlock itself is a staff form with the CSRF token."""
    from shared.auth import access_of

    client = survey_app.test_client()
    login(client)
    page = client.get("/waves/ts-2026").get_data(as_text=True)
    assert client.post("/waves/ts-2026/kiosk", data={}).status_code == 400
    assert client.post("/waves/ts-2026/kiosk", data={"csrf_token": csrf_of(page)}
                       ).status_code == 302
    walked = []
    for rule in survey_app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            if access_of(survey_app, rule.endpoint, method) != "kiosk":
                continue
            url = _sample_url(rule)
            assert client.open(url, method=method, json={}).status_code == 400, url
            walked.append(url)
    assert sorted(walked) == ["/kiosk/answers", "/kiosk/check", "/kiosk/lock"]
    assert client.get("/kiosk/roster.json").status_code == 200  # the pass still holds


def test_bearer_calls_need_no_csrf_token(outreach_app, staff) -> None:
    # A bearer token is not sent by a browser on its own: nothing for a forged page to ride.
    response = outreach_app.test_client().post(
        "/api/v1/campaigns", json={}, headers={"Authorization": f"Bearer {staff['operator']}"})
    assert response.status_code == 422


# --- rate limits -----------------------------------------------------------------------


def assert_limited(response) -> None:
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


def test_login_is_rate_limited_per_address(survey_app, settings, staff) -> None:
    app = app_with("survey", settings, rate_limit_login="3 per minute")
    client = app.test_client()
    here = {"REMOTE_ADDR": "198.51.100.7"}
    for _ in range(3):
        assert login(client, "nobody", "wrong", environ_base=here).status_code == 401
    page = login(client, "adi", "kata-sandi-adi", environ_base=here)  # right, but too many
    assert_limited(page)
    assert "text/html" in page.content_type
    api = client.post("/login", data={}, headers={"Accept": "application/json"},
                      environ_base=here)
    assert_limited(api)
    assert api.mimetype == "application/problem+json" and api.get_json()["status"] == 429
    other = login(client, "adi", "kata-sandi-adi", environ_base={"REMOTE_ADDR": "198.51.100.8"})
    assert other.status_code == 302


def test_open_link_identification_is_rate_limited(survey, settings) -> None:
    app = app_with("survey", settings, rate_limit_identify="2 per minute")
    client = app.test_client()
    here = {"REMOTE_ADDR": "198.51.100.9"}
    guess = {"registration_no": "GUESS", "birth_date": "2000-01-01"}
    assert [client.post("/w/ts-2026", data=guess, environ_base=here).status_code
            for _ in range(2)] == [422, 422]
    assert_limited(client.post("/w/ts-2026", data=guess, environ_base=here))
    limited = client.post("/w/ts-2026", data=guess, environ_base=here,
                          headers={"Accept": "application/json"})
    assert_limited(limited)
    assert limited.mimetype == "application/problem+json"
    assert client.get("/w/ts-2026", environ_base=here).status_code == 200  # reading is free


def test_successful_identifications_and_logins_are_not_counted(survey, settings, staff) -> None:
    """An event's Wi-Fi or a training room is one address: only failures use up a limit."""
    app = app_with("survey", settings, rate_limit_identify="2 per minute",
                   rate_limit_login="2 per minute")
    client = app.test_client()
    right = {"registration_no": "REG-000", "birth_date": "2000-01-01"}
    assert [client.post("/w/ts-2026", data=right).status_code for _ in range(4)] == [302] * 4
    for _ in range(4):
        assert login(app.test_client()).status_code == 302


def test_public_intake_is_rate_limited_per_personal_token_not_for_staff(
    survey, settings
) -> None:
    """Everything but an accepted first submission counts: here, resubmissions (edits)."""
    app = app_with("survey", settings, rate_limit_intake="2 per minute")
    client = app.test_client()

    def submit(index: int, **extra: object):
        body = {"id": str(uuid.uuid4()), "wave": "ts-2026", "answers": EMPLOYED, **extra}
        if "registration_no" not in extra:
            body["token"] = make_token(app.config["SECRET_KEY"], survey["wave_id"],
                                       survey["alumni"][index][0])
        return client.post("/api/v1/responses", json=body, headers=extra.pop("headers", {}))

    # The first submission is free; the two edits after it use up the limit.
    assert [submit(0).status_code for _ in range(3)] == [201, 201, 201]
    limited = submit(0)
    assert_limited(limited)
    assert limited.mimetype == "application/problem+json"
    assert limited.get_json()["status"] == 429
    assert submit(1).status_code == 201  # another alumnus's link has its own count
    operator = survey["headers"]["operator"]
    for _ in range(3):  # staff entering paper forms are not the public intake
        response = client.post("/api/v1/responses", headers=operator, json={
            "id": str(uuid.uuid4()), "wave": "ts-2026", "registration_no": "REG-002",
            "answers": EMPLOYED})
        assert response.status_code == 201, response.get_json()


def test_an_edit_over_the_limit_is_not_stored(survey, settings) -> None:
    app = app_with("survey", settings, rate_limit_intake="1 per minute")
    client = app.test_client()
    token = make_token(app.config["SECRET_KEY"], survey["wave_id"], survey["alumni"][0][0])
    bodies = [{"id": str(uuid.uuid4()), "wave": "ts-2026", "token": token,
               "answers": EMPLOYED} for _ in range(3)]
    assert [client.post("/api/v1/responses", json=body).status_code
            for body in bodies] == [201, 201, 429]
    with app.app_context():
        stored = db.session().scalars(select(ResponseEdit.id)).all()
    assert stored == [uuid.UUID(bodies[1]["id"])]


def test_public_intake_is_rate_limited_per_address(survey, settings) -> None:
    """Refusals count per address (guessed links); first submissions from one address do
    not, so a room of alumni behind one Wi-Fi address is never turned away."""
    app = app_with("survey", settings, rate_limit_intake_ip="3 per minute")
    client = app.test_client()
    here = {"REMOTE_ADDR": "198.51.100.11"}

    def post(token: str) -> int:
        return client.post("/api/v1/responses", environ_base=here, json={
            "id": str(uuid.uuid4()), "wave": "ts-2026", "token": token,
            "answers": EMPLOYED}).status_code

    tokens = [make_token(app.config["SECRET_KEY"], survey["wave_id"], alumnus[0])
              for alumnus in survey["alumni"][:5]]
    assert [post(token) for token in tokens] == [201] * 5
    assert [post("guessed-" + str(n)) for n in range(4)] == [404, 404, 404, 429]


def test_limits_pause_when_their_redis_is_down(survey, settings, caplog) -> None:
    """No Redis for the counters: sign-in, identification and resubmissions still work
    (logged), rather than turning alumni and staff away or failing with a 500."""
    app = app_with("survey", settings, redis_url="redis://127.0.0.1:1/0",
                   rate_limit_intake="1 per minute", rate_limit_login="1 per minute",
                   rate_limit_identify="1 per minute")
    client = app.test_client()
    token = make_token(app.config["SECRET_KEY"], survey["wave_id"], survey["alumni"][0][0])
    codes = [client.post("/api/v1/responses", json={
        "id": str(uuid.uuid4()), "wave": "ts-2026", "token": token, "answers": EMPLOYED,
    }).status_code for _ in range(3)]
    assert codes == [201, 201, 201]  # the first is not counted; the edits would be
    assert [login(client, "nobody", "wrong").status_code for _ in range(3)] == [401] * 3
    guess = {"registration_no": "GUESS", "birth_date": "2000-01-01"}
    assert [client.post("/w/ts-2026", data=guess).status_code for _ in range(3)] == [422] * 3
    assert "storage unreachable" in caplog.text


def test_an_empty_limit_turns_it_off(survey, settings) -> None:
    app = app_with("survey", settings, rate_limit_identify="")
    client = app.test_client()
    guess = {"registration_no": "GUESS", "birth_date": "2000-01-01"}
    assert {client.post("/w/ts-2026", data=guess).status_code for _ in range(12)} == {422}


def test_limits_come_from_the_environment() -> None:
    settings = Settings.from_env({"JEJAK_RATE_LIMIT_LOGIN": "5 per minute",
                                  "JEJAK_RATE_LIMIT_INTAKE_IP": ""})
    assert settings.rate_limit_login == "5 per minute"
    assert settings.rate_limit_intake_ip == ""
    assert Settings.from_env({}).rate_limit_identify == "10 per minute;40 per hour"


@pytest.mark.parametrize(("hops", "limited"), [(0, True), (1, False)])
def test_forwarded_addresses_are_trusted_only_behind_a_proxy(
    survey, settings, hops: int, limited: bool
) -> None:
    """`jejak up` (no proxy) ignores X-Forwarded-For, so a client cannot pick an address
    per request to dodge the limit; behind nginx (one hop) that header is the address."""
    from werkzeug.test import Client

    from services.cli import compose

    config = app_config(dataclasses.replace(settings, rate_limit_identify="2 per minute"))
    client = Client(compose(("survey",), config, proxy_hops=hops))
    # A new number each time: one number is also limited from every address together.
    codes = [client.post("/survey/w/ts-2026",
                         data={"registration_no": f"GUESS-{n}", "birth_date": "2000-01-01"},
                         headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code
             for n in range(4)]
    assert (429 in codes) is limited, codes

