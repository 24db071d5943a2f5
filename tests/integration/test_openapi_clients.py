"""The OpenAPI documents are usable by clients: a call built from a document reaches a route.

A client (Swagger's "Try it out", a generated client) joins the document's server URL and a
path. Each service's paths are relative to the service, which is mounted under its prefix
(`/survey`); without a `servers` entry that says so, every generated call was a 404.
"""

from __future__ import annotations

import re

from services.cli import SERVICES, compose
from shared.auth import create_token
from tests.conftest import app_config

ROUTING_404 = "The requested URL was not found on the server."
PROBLEM_JSON = "application/problem+json"


SAMPLE = {"uuid": "6f1c1f3e-3b7e-4c57-9a52-3d3a8f1f0001", "integer": "1", "string": "x"}


def _url(server: str, path: str, operations: dict) -> str:
    """The path with each parameter filled with a value of its documented type."""
    kinds = {}
    for parameter in (*operations.get("parameters", ()),
                      *(p for op in operations.values() if isinstance(op, dict)
                        for p in op.get("parameters", ()))):
        if isinstance(parameter, dict) and parameter.get("in") == "path":
            schema = parameter.get("schema", {})
            kinds[parameter["name"]] = (
                str(schema["enum"][0]) if schema.get("enum")
                else SAMPLE.get(schema.get("format") or schema.get("type", "string"), "x"))
    return server + re.sub(r"\{([^}]+)\}", lambda found: kinds.get(found.group(1), "x"), path)


def _admin_headers(database) -> dict[str, str]:
    with database.session_factory() as session:
        token = create_token(session, "admin", "openapi-client")
        session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_every_path_of_every_document_reaches_a_route_through_its_server_url(
    settings, clean_db,
) -> None:
    from werkzeug.test import Client

    client = Client(compose(SERVICES, app_config(settings), proxy_hops=0))
    headers = _admin_headers(clean_db)
    called = []
    for service in SERVICES:
        document = client.get(f"/{service}/api/openapi.json").json
        servers = document["servers"]
        assert [server["url"] for server in servers] == [f"/{service}"]
        for path, operations in document["paths"].items():
            url = _url(servers[0]["url"], path, operations)
            for method in operations:
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                answer = client.open(url, method=method.upper(), headers=headers, json={})
                body = answer.get_data(as_text=True)
                assert not (answer.status_code == 404 and ROUTING_404 in body), (
                    f"{method.upper()} {url}: no route")
                called.append((method, url))
    # Every service documents an API; the walk did reach them all.
    assert {url.split("/")[1] for _, url in called} == set(SERVICES)


def test_the_documented_error_answer_is_the_problem_json_the_api_sends(settings, clean_db) -> None:
    from werkzeug.test import Client

    client = Client(compose(SERVICES, app_config(settings), proxy_hops=0))
    for service in SERVICES:
        document = client.get(f"/{service}/api/openapi.json").json
        default = document["components"]["responses"]["DEFAULT_ERROR"]["content"]
        assert list(default) == [PROBLEM_JSON]
        schema_name = default[PROBLEM_JSON]["schema"]["$ref"].rsplit("/", 1)[1]
        documented = set(document["components"]["schemas"][schema_name]["properties"])
        # An API call without a token: the answer the document describes.
        path, operations = next(iter(document["paths"].items()))
        answer = client.get(_url(f"/{service}", path, operations))
        assert answer.status_code == 401 and answer.mimetype == PROBLEM_JSON
        assert set(answer.json) <= documented and {"title", "status"} <= set(answer.json)
