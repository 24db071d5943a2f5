"""Fuzzing fixtures: each service's app over WSGI, on a database seeded so calls reach code.

The seed is the survey suite's (two programs, six alumni, the default questionnaire, wave
`ts-2026` open, a token per role), plus a response, a campaign, a refresh run and an export,
so that ids in paths, queries and bodies can name rows that exist.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import strategies as st

from services.analytics import refresh
from services.survey.links import make_token
from shared import db
from tests.integration.conftest import EMPLOYED, survey  # noqa: F401  (the shared seed)


@pytest.fixture()
def seeded(survey, survey_app, outreach_app, analytics_app) -> dict[str, Any]:  # noqa: F811
    """The survey seed plus one row of each kind that a parameter can name."""
    admin = survey["headers"]["admin"]
    (first, _), (second, second_no) = survey["alumni"][:2]
    secret = survey_app.config["SECRET_KEY"]
    answered = survey_app.test_client().post(
        "/api/v1/responses",
        json={"id": str(uuid.uuid4()), "wave": "ts-2026", "answers": EMPLOYED,
              "token": make_token(secret, survey["wave_id"], first)},
    )
    assert answered.status_code == 201, answered.get_data(as_text=True)
    campaign = outreach_app.test_client().post(
        "/api/v1/campaigns", json={"name": "Undangan", "wave_id": survey["wave_id"]}, headers=admin
    )
    assert campaign.status_code == 201, campaign.get_data(as_text=True)
    analytics = analytics_app.test_client()
    run = analytics.post("/api/v1/refresh", json={"wave": "ts-2026"}, headers=admin)
    assert run.status_code == 202, run.get_data(as_text=True)
    with analytics_app.app_context():  # no worker here: compute the snapshot in-process
        refresh.full_refresh(db.get_db().session_factory, survey["wave_id"],
                             run_id=run.get_json()["run_id"])
    export = analytics.post("/api/v1/exports", json={"kind": "csv", "wave": "ts-2026"},
                            headers=admin)
    assert export.status_code == 202, export.get_data(as_text=True)
    known = {
        "slug": "ts-2026",
        "wave": "ts-2026",
        "wave_id": survey["wave_id"],
        "questionnaire_id": survey["questionnaire_id"],
        "response_id": answered.get_json()["id"],
        "registration_no": second_no,
        "token": make_token(secret, survey["wave_id"], second),
        "campaign_id": campaign.get_json()["id"],
        "run_id": run.get_json()["run_id"],
        "export_id": export.get_json()["id"],
    }
    return {**survey, "known": known}


def with_known(generated: Any, known: dict[str, Any]) -> Any:
    """Half the time, the generated values with every known name set to a row that exists."""
    if not isinstance(generated, dict):
        return st.just(generated)
    existing = {name: known[name] for name in generated if name in known}
    if not existing:
        return st.just(generated)
    return st.sampled_from([generated, {**generated, **existing}])


def wsgi_schema(app: Any, known: dict[str, Any]) -> Any:
    """The app's own OpenAPI document, its cases steered half the time to existing rows.

    The app is mounted under its prefix, as `jejak up` and the gateway mount it: the
    document's server URL (`/survey`) is where its paths live.
    """
    from werkzeug.exceptions import NotFound
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    prefix = f"/{app.config['JEJAK_SERVICE']}"
    mounted = DispatcherMiddleware(NotFound(), {prefix: app})
    schema = schemathesis.openapi.from_wsgi(f"{prefix}/api/openapi.json", mounted)

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: Any) -> Any:
        return with_known(path_parameters, known)

    @schema.hook
    def flatmap_query(context: Any, query: Any) -> Any:
        return with_known(query, known)

    @schema.hook
    def flatmap_body(context: Any, body: Any) -> Any:
        return with_known(body, known)

    return schema


@pytest.fixture()
def survey_schema(survey_app, seeded):
    return wsgi_schema(survey_app, seeded["known"])


@pytest.fixture()
def outreach_schema(outreach_app, seeded):
    return wsgi_schema(outreach_app, seeded["known"])


@pytest.fixture()
def analytics_schema(analytics_app, seeded):
    return wsgi_schema(analytics_app, seeded["known"])
