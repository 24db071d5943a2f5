"""Huge numbers in every integer parameter answer 400/404/422, never 500.

A walk over all three services as an admin. What it sends is found, not listed, so a route
or a parameter added later is walked too:

- every operation of each OpenAPI document: each integer parameter (query or path) and each
  integer field of a JSON body (nested objects and lists included) in turn, and every
  integer inside a questionnaire definition and each integer answer;
- every page of each app's url_map (GET and POST, a CSRF token with each POST): every name
  its module (and shared/) reads from `args`/`form`/`values` (found in the source), every
  field of the forms that post to it, in turn;
- every `<int:...>` path argument.

Each gets values past 64 bits, both signs. PostgreSQL's integers are 32 and 64 bits, and
SQLite's 64: a value past them that reaches the driver fails as an overflow (a 500 with a
traceback) instead of naming the parameter.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter, IntegerConverter

from services.analytics import refresh
from services.survey.links import make_token
from services.survey.questionnaire.definition import default_definition, load_definition
from shared import db
from shared.auth import create_user
from shared.models import Campaign
from tests.integration.conftest import EMPLOYED
from tests.integration.peers import sms_webhook_headers
from tests.integration.test_outreach import outreach as outreach  # noqa: F401 (fixture)
from tests.integration.test_outreach import quiet_free as quiet_free  # noqa: F401 (fixture)
from tests.integration.test_web_access import csrf_of, login

# Past 64 bits both ways, and just past PostgreSQL's 32-bit ids.
HUGE = (str(2**64), str(10**30), str(-(2**63) - 1), str(2**31))
SHARED = Path(__file__).resolve().parents[2] / "shared"
# `request.form.get("name")`, `args.getlist("name")`, `form["name"]`, `values.get("name")`
READ = re.compile(r"\b(?:args|form|values)(?:\.get|\.getlist)?[(\[]\s*\"([\w.\-]+)\"")
FORMATS = {"date-time": "2026-01-05T08:00:00+08:00", "date": "2026-01-05",
           "email": "ani@example.com", "uuid": "00000000-0000-4000-8000-000000000001"}
SKIPPED_ENDPOINTS = {"auth.logout", "static", "jejak.static", "swagger_ui.static"}


class FormFields(HTMLParser):
    """The fields of each form a page shows, by the path the form posts to, each with the
    first value the page offers for it."""

    def __init__(self, page_path: str) -> None:
        super().__init__()
        self.page_path = page_path
        self.forms: dict[str, dict[str, str]] = {}
        self._form: dict[str, str] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "form":
            action = urlsplit(urljoin(self.page_path, named.get("action") or self.page_path))
            self._form = self.forms.setdefault(action.path, {})
        elif tag in ("input", "textarea") and named.get("name"):
            self._form.setdefault(str(named["name"]), named.get("value") or "")
        elif tag == "select":
            self._select = named.get("name")
        elif tag == "option" and self._select:
            self._form.setdefault(self._select, named.get("value") or "")


def names_read_in(path: Path) -> set[str]:
    return set(READ.findall(path.read_text(encoding="utf-8")))


def names_read_by(view: Any) -> set[str]:
    """The request fields the view's module reads, and those every page reads (shared/)."""
    module = sys.modules[view.__module__].__file__
    shared = {name for source in SHARED.rglob("*.py") for name in names_read_in(source)}
    return names_read_in(Path(str(module))) | shared


# --- OpenAPI: parameters and JSON bodies ----------------------------------------------------


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            part = resolve(doc, part)
            merged = {**merged, **part,
                      "properties": {**merged.get("properties", {}),
                                     **part.get("properties", {})}}
        return merged
    return schema


def example(doc: dict[str, Any], schema: dict[str, Any], known: dict[str, Any] | None = None,
            *, required_only: bool = False) -> Any:
    """A plausible value for `schema`: the first enum value, a minimum, one list item; a
    property named in `known` takes that value (a callable is called for a fresh one).
    `required_only` leaves out the optional properties that `known` does not name."""
    schema = resolve(doc, schema)
    known = known or {}
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        body = {}
        for name, part in schema.get("properties", {}).items():
            if part.get("readOnly") or (required_only and name not in known
                                        and name not in schema.get("required", ())):
                continue
            if name in known:
                value = known[name]
                body[name] = value() if callable(value) else value
            else:
                body[name] = example(doc, part, known, required_only=required_only)
        return body
    if kind == "array":
        return [example(doc, schema.get("items", {}), known, required_only=required_only)]
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return 1
    if kind == "boolean":
        return True
    return FORMATS.get(schema.get("format"), "x1")


def integer_spots(doc: dict[str, Any], schema: dict[str, Any],
                  path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every integer in a body built by `example`."""
    schema = resolve(doc, schema)
    kind = schema.get("type")
    if kind == "integer":
        yield path
    elif kind == "object" or "properties" in schema:
        for name, part in schema.get("properties", {}).items():
            yield from integer_spots(doc, part, (*path, name))
    elif kind == "array":
        yield from integer_spots(doc, schema.get("items", {}), (*path, 0))


def json_spots(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every integer inside a JSON value (a known body field)."""
    if type(value) is int:
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from json_spots(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_spots(item, (*path, index))


def with_value(body: Any, path: tuple[Any, ...], value: int, full: Any) -> Any:
    """`body` with `value` at `path`; what `body` lacks on the way is taken from `full`."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy: Any = list(body) if isinstance(body, list) else dict(body)
    present = head in body if isinstance(body, dict) else head < len(body)
    if isinstance(copy, list) and not present:
        copy.append(None)
    inner = (body if present else full)[head] if rest else None
    copy[head] = with_value(inner, rest, value, full[head] if rest else None)
    return copy


def api_calls(doc: dict[str, Any], known: dict[str, Any], in_body: dict[str, Any],
              answer_keys: list[str]) -> Iterator[tuple[str, str, dict, str]]:
    """(method, url, request kwargs, where the huge integer is), one huge integer each.

    Path arguments come from `known`, body fields from `in_body`; a body with `answers`
    gets each integer answer of the questionnaire in turn too.
    """
    for template, operations in doc["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or method not in ("get", "post", "put",
                                                                  "patch", "delete"):
                continue
            parameters = [*operations.get("parameters", []), *operation.get("parameters", [])]
            path_values = {p["name"]: known.get(p["name"], "1") for p in parameters
                           if p.get("in") == "path"}
            if "action" in path_values:
                path_values["action"] = resolve(doc, next(
                    p for p in parameters if p["name"] == "action"))["schema"].get(
                        "enum", ["x1"])[0]
            integers = [p for p in parameters
                        if p.get("in") in ("query", "path", "formData")
                        and resolve(doc, p.get("schema", p)).get("type") == "integer"]
            body_schema = (operation.get("requestBody", {}).get("content", {})
                           .get("application/json", {}).get("schema"))
            base_body = example(doc, body_schema, in_body) if body_schema else None
            for huge in HUGE:
                for parameter in integers:
                    values = {**path_values}
                    query: dict[str, str] = {}
                    if parameter["in"] == "path":
                        values[parameter["name"]] = huge
                    else:
                        query[parameter["name"]] = huge
                    url = template.format(**values)
                    kwargs: dict[str, Any] = {"query_string": query}
                    if parameter["in"] == "formData":
                        kwargs = {"data": query}
                    elif base_body is not None:
                        kwargs["json"] = base_body
                    yield method.upper(), url, kwargs, f"{parameter['name']}={huge}"
                if not body_schema:
                    continue
                # Each integer of the body in turn, in the whole example body and in one
                # with only the required fields (optional ones may contradict each other).
                spots = [*integer_spots(doc, body_schema)]
                for base in (base_body,
                             example(doc, body_schema, in_body, required_only=True)):
                    for spot in spots:
                        yield (method.upper(), template.format(**path_values),
                               {"json": with_value(base, spot, int(huge), base_body)},
                               f"body {'.'.join(map(str, spot))}={huge}")
                # Inside the free-form fields given in `in_body` (a questionnaire's
                # definition, the answers): every integer they hold, and each integer answer.
                minimal = example(doc, body_schema, in_body, required_only=True)
                inner = [spot for name in resolve(doc, body_schema).get("properties", {})
                         if isinstance(minimal.get(name), dict | list)
                         for spot in json_spots(minimal[name], (name,))]
                if "answers" in minimal:
                    inner += [("answers", key) for key in answer_keys]
                for spot in dict.fromkeys(inner):
                    fresh = example(doc, body_schema, in_body, required_only=True)
                    yield (method.upper(), template.format(**path_values),
                           {"json": with_value(fresh, spot, int(huge), fresh)},
                           f"body {'.'.join(map(str, spot))}={huge}")


# --- pages ----------------------------------------------------------------------------------


def page_paths(app: Flask, rule: Rule, known: dict[str, str]) -> Iterator[tuple[str, bool]]:
    """(path, has a huge int argument) for the rule: dummies, then each int argument huge."""
    adapter = app.url_map.bind("localhost")
    base: dict[str, Any] = {}
    choices: list[dict[str, Any]] = [{}]
    integer_names = []
    for name, converter in rule._converters.items():
        if isinstance(converter, AnyConverter):
            choices = [{**c, name: item} for c in choices for item in sorted(converter.items)]
        elif isinstance(converter, IntegerConverter):
            base[name] = 1
            integer_names.append(name)
        else:
            base[name] = known.get(name, "x1")
    for chosen in choices:
        arguments = {**base, **chosen}
        yield adapter.build(rule.endpoint, arguments), False
        for name in integer_names:
            for huge in HUGE:
                # Built by hand: the bounded converter refuses to build a URL past its max.
                path = adapter.build(rule.endpoint, {**arguments, name: 7_777_777})
                yield path.replace("7777777", huge, 1), True


@pytest.fixture()
def admin(survey_app) -> str:
    with survey_app.app_context():
        session = db.session()
        create_user(session, "adi", "kata-sandi-adi", "admin")
        session.commit()
    return "adi"


def signed_in(app: Flask) -> Any:
    client = app.test_client()
    assert login(client, "adi", "kata-sandi-adi").status_code == 302
    return client


@pytest.mark.parametrize("service", ("survey", "outreach", "analytics"))
def test_huge_numbers_in_every_parameter_of_every_service_never_answer_5xx(
    survey_app, outreach_app, analytics_app, survey, admin, service
) -> None:
    apps = {"survey": survey_app, "outreach": outreach_app, "analytics": analytics_app}
    app = apps[service]
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a bug answers 500, as in production
    token = make_token(survey_app.config["SECRET_KEY"], survey["wave_id"], survey["alumni"][0][0])
    known = {"slug": "ts-2026", "wave": "ts-2026", "token": token,
             "name": "x-rejected.csv", "alumnus_id": str(survey["alumni"][0][0])}
    in_body = {"wave": "ts-2026", "slug": lambda: f"w-{uuid.uuid4().hex[:8]}",
               "registration_no": survey["alumni"][1][1], "answers": EMPLOYED,
               # a new key each time: a version stored by one call must not refuse the next
               "definition": lambda: {**default_definition(), "key": f"k-{uuid.uuid4().hex}"}}
    questionnaire = load_definition(default_definition())
    answer_keys = [key for question in questionnaire.answerable
                   if question.type in ("integer", "currency", "matrix")
                   for key in question.answer_keys]
    bearer = survey["headers"]["admin"]
    # Something for the pages to show: one complete answer, counted by a refresh, so the
    # dashboard's filtered queries run.
    answered = survey_app.test_client().post("/api/v1/responses", headers=bearer, json={
        "id": str(uuid.uuid4()), "wave": "ts-2026", "registration_no": survey["alumni"][0][1],
        "answers": EMPLOYED})
    assert answered.status_code == 201, answered.get_json()
    with analytics_app.app_context():
        assert refresh.full_refresh(db.get_db().session_factory, survey["wave_id"]) is not None
    docs = [other.test_client().get("/api/openapi.json").get_json() for other in apps.values()]
    # For each page: the names its module (and shared/) reads, found in the source so that
    # a parameter added later is walked too, and the three the issue names.
    names = {"page", "program", "cohort"}
    failures: list[str] = []
    sent = 0

    def check(method: str, url: str, response: Any) -> None:
        nonlocal sent
        sent += 1
        if response.status_code >= 500:
            failures.append(f"{service} {method} {url}: {response.status_code}")
        response.close()

    client = app.test_client()
    doc = docs[list(apps).index(service)]
    for method, url, kwargs, where in api_calls(doc, known, in_body, answer_keys):
        check(method, f"{url} {where}", client.open(url, method=method, headers=bearer, **kwargs))
    staff = signed_in(app)
    csrf = csrf_of(staff.get("/").get_data(as_text=True))
    forms: dict[str, dict[str, str]] = {}
    rules = [rule for rule in app.url_map.iter_rules()
             if "/api/" not in rule.rule and rule.endpoint not in SKIPPED_ENDPOINTS]
    for rule in rules:  # the forms every page shows, by where they post
        if "GET" in (rule.methods or ()):
            for path, _ in page_paths(app, rule, known):
                page = staff.get(path)
                if page.mimetype == "text/html":
                    parser = FormFields(path)
                    parser.feed(page.get_data(as_text=True))
                    for action, fields in parser.forms.items():
                        forms.setdefault(action, {}).update(
                            {k: v for k, v in fields.items() if k != "csrf_token"})
                page.close()
    for rule in rules:
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            if method == "POST" and rule.endpoint == "auth.login":
                continue  # signing in again (slowed down on failures) is not walked
            read = names | names_read_by(app.view_functions[rule.endpoint])
            for path, huge_in_path in page_paths(app, rule, known):
                if huge_in_path:
                    data = {"csrf_token": csrf} if method == "POST" else None
                    check(method, path, staff.open(path, method=method, data=data))
                    continue
                if method == "GET":
                    for name in sorted(read):
                        for huge in HUGE:
                            check(method, f"{path} {name}={huge}",
                                  staff.get(path, query_string={name: huge}))
                    continue
                # A POST gets each field huge alone, then beside the values its forms
                # offer: checks run in some order, and either may be the one reaching it.
                offered = forms.get(path, {})
                for others in ({}, offered):
                    for name in sorted(read | set(offered) if not others else set(offered)):
                        for huge in HUGE:
                            check(method, f"{path} {name}={huge}", staff.post(
                                path, data={**others, "csrf_token": csrf, name: huge}))
    assert sent > 100, sent  # the walk reached the routes
    assert not failures, f"{len(failures)} answer(s) were 5xx:\n" + "\n".join(failures)


def test_a_signed_webhook_echoing_a_huge_message_id_is_ignored_not_a_500(outreach) -> None:
    # The provider echoes our message id back; a value past a database integer names no
    # message (the walk above cannot sign its requests, so the webhooks are tried here).
    outreach.config["PROPAGATE_EXCEPTIONS"] = False
    client = outreach.test_client()
    for index, huge in enumerate(HUGE):
        # Each report its own provider id: a second one with the same id is a replay (409).
        report = json.dumps({"type": "status", "id": f"prov-{index}",
                             "reference": huge.lstrip("-"), "status": "delivered"}).encode()
        answer = client.post("/webhooks/sms", data=report,
                             headers=sms_webhook_headers("sms-secret", report))
        assert answer.status_code == 200, (huge, answer.status_code)


def test_the_campaign_form_refuses_an_unknown_language_or_an_overlong_name(
    outreach_app, survey, admin
) -> None:
    # Found by the walk on PostgreSQL: the staff form's text reached a short column (500).
    staff = signed_in(outreach_app)
    csrf = csrf_of(staff.get("/").get_data(as_text=True))
    for field, value in (("language", str(2**64)), ("name", "x" * 201)):
        answer = staff.post("/campaigns", data={"csrf_token": csrf, "wave_id": survey["wave_id"],
                                                field: value}, follow_redirects=True)
        assert answer.status_code == 200
        assert "1 to 200 characters" in answer.get_data(as_text=True) or (
            "must be one of id, en" in answer.get_data(as_text=True))
    with outreach_app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Campaign)) == 0
