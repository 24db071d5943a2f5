"""Every route of every service is guarded: a walk over the URL maps of all three apps.

For each rule and each of its methods (URL arguments filled with dummy values) the walk
asserts: without credentials the route answers 401 problem+json (API) or redirects to the
login page (pages); with a role below the one it needs, 403; and the role it needs is at
least the one the access policy of issue 6 asks for (`policy_floor`). Only the routes on
the short, reviewed PUBLIC list below are open.

A route added later is walked too: without `@requires(...)` the guard closes it to admin
(shared/auth.py), and if it is declared `@public` without an entry here, this test fails.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter

from shared import db
from shared.auth import ROLE_RANK, ROLES, access_of, create_token, create_user

# (service or "*", endpoint) -> why anyone may call it. Reviewed: keep it short.
PUBLIC: dict[tuple[str, str], str] = {
    ("*", "healthz"): "health check for the gateway and docker; reports no data",
    ("*", "auth.login"): "the login form itself (rate limited, lockout after failures)",
    ("*", "static"): "CSS and JS of the service",
    ("*", "jejak.static"): "shared CSS and JS (form.js, swagger-init.js)",
    ("*", "swagger_ui.static"): "the vendored Swagger UI files",
    ("*", "api-docs.openapi_json"): "the OpenAPI document describes the API, holds no data",
    ("*", "api-docs.openapi_swagger_ui"): "the viewer of that document",
    ("survey", "form.personal"): "the survey form: the personal link token is the credential",
    ("survey", "form.thanks"): "thank-you page of a personal link (token is the credential)",
    ("survey", "form.answers"): "read-only summary of one's own answers (token is the "
    "credential, as for the form that shows the same answers)",
    ("survey", "supervisor.give"): "the thank-you page's supervisor block, stored only with "
    "its consent ticked (token is the credential, as for the form)",
    ("survey", "employer_link.overview"): "an employer contact's link: the alumni they "
    "supervise (name, program, year) and the company's questions (token is the credential)",
    ("survey", "employer_link.rate"): "an employer contact's rating of one alumnus they "
    "supervise with the alumnus's consent (token is the credential)",
    ("survey", "form.declined"): "the ending after \"Tidak setuju\" (token is the credential)",
    ("survey", "form.open_link"): "open link (QR code): identification, rate limited",
    ("survey", "kiosk.service_worker"): "the kiosk's service worker script; holds no data",
    ("survey", "responses.Responses:POST"): "intake API: personal token is the credential "
    "(registration_no needs an operator token, checked in the view); rate limited",
    ("outreach", "outreach_web.unsubscribe"): "opt-out link from messages (token in the link)",
    ("outreach", "outreach_employers.unsubscribe"): "an employer contact's opt-out link from "
    "an employer campaign message (token in the link)",
    ("outreach", "outreach_web.sms_webhook"): "SMS gateway delivery reports, HMAC-signed",
    ("outreach", "outreach_web.whatsapp_webhook"): "WhatsApp webhooks, X-Hub-Signature-256 "
    "(GET is Meta's verify-token handshake)",
}

# Routes for an unlocked kiosk only (`@auth.kiosk`): the kiosk pass an operator's unlock
# sets is the credential; a staff session or token is none. Reviewed: keep it short.
KIOSK: dict[tuple[str, str], str] = {
    ("survey", "kiosk.kiosk_page"): "the kiosk page: the wave's questionnaire, no personal data",
    ("survey", "kiosk.roster"): "the name index: initials, program, cohort, keyed hashes",
    ("survey", "kiosk.check"): "does a birth date match a chosen person (rate limited)",
    ("survey", "kiosk.take_answer"): "one queued answer, with the person's birth date",
    ("survey", "kiosk.lock"): "ends the pass",
}

# Users, tokens, keys, erasure, the audit log and the dead letters are the admin's; so are
# changes to settings (reading them is harmless).
ADMIN_PATH = re.compile(r"/(users|tokens|keys|erase|erasure|audit|dead-letters)\b")
SETTINGS_PATH = re.compile(r"/(settings|minimum-wages)\b")
# Outside analytics a viewer may read only these (GET), none holding personal data
# (tests/integration/test_personal_data_exposure.py reads them as a viewer): an API client of
# the indicators learns the wave slugs and the questionnaire's codes here.
VIEWER_READS: dict[tuple[str, str], str] = {
    ("survey", "waves.Waves"): "wave slugs, titles, dates and counts",
    ("survey", "waves.WaveBySlug"): "one wave, as above",
    ("survey", "questionnaires.Questionnaires"): "the instruments (questions, codes)",
    ("survey", "questionnaires.QuestionnaireById"): "one instrument",
    ("survey", "help"): "the help page: how-tos and the glossary, no data",
    ("outreach", "help"): "the help page, as above",
    # Prometheus scrapes with a viewer token (docs/security.md, "Metrics").
    ("survey", "metrics"): "counts of requests, tasks and queues; no personal data",
    ("outreach", "metrics"): "counts of requests, messages and queues; no personal data",
}
SERVICES = ("survey", "outreach", "analytics")
WALKED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def policy_floor(service: str, method: str, rule: str, endpoint: str) -> str:
    """The lowest role the access policy allows on this route (the route may ask more).

    viewer: analytics only (indicators, no personal data); operator: roster, waves,
    campaigns, responses; admin: users, tokens, settings, erasure.
    """
    if ADMIN_PATH.search(rule) or (method != "GET" and SETTINGS_PATH.search(rule)):
        return "admin"
    if endpoint == "auth.logout":
        return "viewer"
    if service == "analytics" or (method == "GET" and (service, endpoint) in VIEWER_READS):
        return "viewer"
    return "operator"


def is_kiosk(service: str, endpoint: str) -> bool:
    return (service, endpoint) in KIOSK


def is_public(service: str, endpoint: str, method: str) -> bool:
    return is_kiosk(service, endpoint) or any(
        key in PUBLIC
        for key in ((service, endpoint), ("*", endpoint), (service, f"{endpoint}:{method}"))
    )


@dataclass(frozen=True)
class Call:
    service: str
    method: str
    path: str
    endpoint: str
    rule: str

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.rule} ({self.endpoint})"


DUMMY = {"int": 1, "uuid": uuid.UUID("00000000-0000-4000-8000-000000000001")}


def _dummy_for(converter: Any) -> Any:
    """The first dummy value this converter accepts (also for converters added later)."""
    for value in (*DUMMY.values(), "x1"):
        try:
            text = converter.to_url(value)
        except (ValueError, TypeError):
            continue
        if re.fullmatch(converter.regex, text):
            return value
    raise AssertionError(f"no dummy value for {type(converter).__name__}: add one to DUMMY")


def _paths(app: Flask, rule: Rule) -> Iterator[str]:
    """The rule's URL with dummy arguments: one per value of an any(...) argument."""
    choices: list[dict[str, Any]] = [{}]
    for name, converter in rule._converters.items():
        if isinstance(converter, AnyConverter):
            values: list[Any] = sorted(converter.items)
        else:
            values = [_dummy_for(converter)]
        choices = [{**chosen, name: value} for chosen in choices for value in values]
    adapter = app.url_map.bind("localhost")
    for arguments in choices:
        yield adapter.build(rule.endpoint, arguments, force_external=False)


def walk(apps: dict[str, Flask]) -> Iterator[tuple[Flask, Call]]:
    for service, app in apps.items():
        for rule in app.url_map.iter_rules():
            for method in sorted(set(rule.methods or ()) & set(WALKED_METHODS)):
                for path in _paths(app, rule):
                    yield app, Call(service, method, path, rule.endpoint, rule.rule)


@pytest.fixture()
def apps(survey_app, outreach_app, analytics_app) -> dict[str, Flask]:
    return {"survey": survey_app, "outreach": outreach_app, "analytics": analytics_app}


@pytest.fixture()
def credentials(survey_app) -> dict[str, Any]:
    with survey_app.app_context():
        session = db.session()
        tokens = {role: create_token(session, role, name=f"walk-{role}") for role in ROLES}
        for role in ROLES:
            create_user(session, f"walk-{role}", f"kata-sandi-{role}", role)
        session.commit()
    return {"tokens": tokens}


@pytest.fixture()
def session_cookies(survey_app, credentials) -> dict[str, str]:
    """Signed in through the form, as staff are: the cookie then holds what the guard
    checks (user, session version, last use); one cookie serves all three services."""
    cookies = {}
    for role in ROLES:
        client = survey_app.test_client()
        form = client.get("/login").get_data(as_text=True)
        signed = client.post("/login", data={
            "username": f"walk-{role}", "password": f"kata-sandi-{role}",
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)})
        assert signed.status_code == 302
        cookies[role] = client.get_cookie("jejak_session").value
    return cookies


def _send(app: Flask, call: Call, headers: dict[str, str] | None = None,
          cookie: str | None = None) -> Any:
    client = app.test_client()
    if cookie is not None:
        client.set_cookie("jejak_session", cookie)
    # No body, no CSRF token: the guard must decide before any of that matters.
    response = client.open(call.path, method=call.method, headers=headers or {})
    response.close()  # ends the request: on SQLite its session holds the write lock
    return response


def _is_api(call: Call) -> bool:
    return "/api/" in call.path


def test_the_walk_covers_every_service_and_the_known_sensitive_routes(apps) -> None:
    walked = {f"{call.service} {call.method} {call.rule}" for _, call in walk(apps)}
    assert len(walked) > 60
    for expected in ("survey GET /api/v1/alumni", "survey POST /import",
                     "outreach POST /api/v1/campaigns", "analytics POST /api/v1/exports",
                     "analytics PUT /api/v1/minimum-wages"):
        assert expected in walked


def test_public_list_names_only_routes_that_exist(apps) -> None:
    endpoints = {(service, rule.endpoint) for service, app in apps.items()
                 for rule in app.url_map.iter_rules()}
    for service, endpoint in [*PUBLIC, *KIOSK]:
        endpoint = endpoint.split(":")[0]
        assert any(
            known == endpoint and service in ("*", owner) for owner, known in endpoints
        ), f"PUBLIC lists {service} {endpoint}, which no longer exists: remove it"


def test_without_credentials_every_guarded_route_answers_401_or_the_login_page(apps) -> None:
    failures = []
    for app, call in walk(apps):
        if is_kiosk(call.service, call.endpoint):
            continue  # test_kiosk_routes_need_the_kiosk_pass_and_nothing_else_opens_them
        if is_public(call.service, call.endpoint, call.method):
            # Open at the guard; the view checks its own credential (link token, signature).
            if access_of(app, call.endpoint, call.method) != "public":
                failures.append(f"{call}: on the PUBLIC list but guarded: remove it there")
            continue
        response = _send(app, call)
        if _is_api(call):
            ok = (response.status_code == 401
                  and response.mimetype == "application/problem+json")
        else:
            ok = (response.status_code == 302
                  and response.headers["Location"].startswith("/login?next="))
        if not ok:
            failures.append(f"{call}: {response.status_code} {response.headers.get('Location')}")
    assert not failures, "routes open without credentials:\n" + "\n".join(failures)


def test_every_guarded_route_refuses_lower_roles_with_403_and_matches_the_policy(
    apps, credentials, session_cookies
) -> None:
    failures = []
    for app, call in walk(apps):
        if is_public(call.service, call.endpoint, call.method):
            continue
        needed = None
        for role in ROLES:  # lowest first: the first role let through is the one needed
            headers = {"Authorization": f"Bearer {credentials['tokens'][role]}"}
            response = _send(app, call, headers=headers)
            if response.status_code == 403:
                continue
            if response.status_code == 401:
                failures.append(f"{call}: a valid {role} token answered 401")
            needed = role
            break
        if needed is None:
            failures.append(f"{call}: refused even to an admin")
            continue
        floor = policy_floor(call.service, call.method, call.rule, call.endpoint)
        if ROLE_RANK[needed] < ROLE_RANK[floor]:
            failures.append(f"{call}: open to {needed}, the policy asks at least {floor}")
        # The same refusal through a signed-in session (pages are used that way).
        for role in ROLES[: ROLE_RANK[needed]]:
            response = _send(app, call, cookie=session_cookies[role])
            if response.status_code != 403:
                failures.append(f"{call}: signed-in {role} got {response.status_code}, not 403")
    assert not failures, "routes whose roles are wrong:\n" + "\n".join(failures)


def test_kiosk_routes_need_the_kiosk_pass_and_nothing_else_opens_them(
    apps, credentials, session_cookies
) -> None:
    """Every `@auth.kiosk` route is on the KIOSK list, and without a kiosk pass it is
    closed to everyone: no credentials, any role's token, any role's signed-in session.
    (With a pass: tests/integration/test_kiosk.py.)"""
    failures = []
    declared = set()
    for app, call in walk(apps):
        if access_of(app, call.endpoint, call.method) == "kiosk":
            declared.add((call.service, call.endpoint))
            if not is_kiosk(call.service, call.endpoint):
                failures.append(f"{call}: a kiosk route missing from KIOSK")
        if not is_kiosk(call.service, call.endpoint):
            continue
        if access_of(app, call.endpoint, call.method) != "kiosk":
            failures.append(f"{call}: on the KIOSK list but not declared @auth.kiosk")
        tries = [("nobody", {}, None)] + [
            (f"{role} token", {"Authorization": f"Bearer {credentials['tokens'][role]}"}, None)
            for role in ROLES] + [(f"{role} session", {}, session_cookies[role]) for role in ROLES]
        for who, headers, cookie in tries:
            response = _send(app, call, headers=headers, cookie=cookie)
            closed = (response.status_code == 401 or (
                response.status_code == 302
                and response.headers["Location"].startswith("/login?next=")))
            if not closed:
                failures.append(f"{call}: {who} got {response.status_code}")
    assert declared == set(KIOSK), declared ^ set(KIOSK)
    assert not failures, "kiosk routes open without a pass:\n" + "\n".join(failures)


def test_a_viewer_reaches_analytics_and_the_reviewed_reads_only(apps, credentials) -> None:
    viewer = {"Authorization": f"Bearer {credentials['tokens']['viewer']}"}
    reached = []
    for app, call in walk(apps):
        if call.service == "analytics" or call.endpoint == "auth.logout":
            continue
        if call.method == "GET" and (call.service, call.endpoint) in VIEWER_READS:
            continue
        if is_public(call.service, call.endpoint, call.method):
            continue
        if _send(app, call, headers=viewer).status_code != 403:
            reached.append(str(call))
    assert not reached, "a viewer reaches personal data outside analytics:\n" + "\n".join(reached)


def test_raw_responses_export_is_refused_to_a_viewer(analytics_app, credentials) -> None:
    """The one analytics route with personal data decides by its body: checked here."""
    client = analytics_app.test_client()
    viewer = {"Authorization": f"Bearer {credentials['tokens']['viewer']}"}
    refused = client.post("/api/v1/exports", json={"kind": "raw_xlsx", "wave": "x"},
                          headers=viewer)
    assert refused.status_code == 403


def test_an_undeclared_route_is_closed_to_all_but_admin(survey_app, credentials) -> None:
    survey_app.add_url_rule("/api/v1/forgotten", "forgotten", lambda: "open")
    client = survey_app.test_client()
    assert client.get("/api/v1/forgotten").status_code == 401
    for role, status in (("viewer", 403), ("operator", 403), ("admin", 200)):
        headers = {"Authorization": f"Bearer {credentials['tokens'][role]}"}
        assert client.get("/api/v1/forgotten", headers=headers).status_code == status
