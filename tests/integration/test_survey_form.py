"""The public web form through the real app: sections, errors, save and resume, submit."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from services.survey.links import make_token
from shared import db
from shared.models import OutboxEvent, Response


def link(app, survey, index: int = 0) -> str:
    return "/s/" + make_token(
        app.config["SECRET_KEY"], survey["wave_id"], survey["alumni"][index][0]
    )


def stored(app) -> Response | None:
    with app.app_context():
        return db.session().scalar(select(Response))


def test_the_employed_path_without_javascript(survey_app, survey) -> None:
    client = survey_app.test_client()
    url = link(survey_app, survey)
    first = client.get(url)
    assert first.status_code == 200
    page = first.get_data(as_text=True)
    assert "Alumnus 0" in page  # greeted by name, never asked who they are
    assert 'name="registration_no"' not in page
    # consent is required: skipping it keeps them on part 1 with the error beside it
    refused = client.post(url + "?step=1", data={"step": "1", "action": "next"})
    assert refused.status_code == 422 and 'id="err-consent"' in refused.get_data(as_text=True)
    client.post(url + "?step=1", data={"step": "1", "action": "next", "consent": "true"})
    client.post(url + "?step=2", data={"step": "2", "action": "next", "f8": "1"})
    # the employment section applies now; a bad number is shown beside its field
    bad = client.post(
        url + "?step=3", data={"step": "3", "action": "next", "f504": "1", "f502": "banyak"}
    )
    assert bad.status_code == 422 and 'id="err-f502"' in bad.get_data(as_text=True)
    saved = client.post(
        url + "?step=3",
        data={
            "step": "3",
            "action": "save",
            "f504": "1",
            "f502": "2",
            "f505": "4.500.000",
            "f14": "2",
        },
    )
    assert saved.status_code == 302 and "saved=1" in saved.headers["Location"]
    partial = stored(survey_app)
    assert partial.status == "partial" and partial.answers["f505"] == 4_500_000

    # Resume later from the same link: the answers are still there.
    resumed = client.get(url + "?step=3").get_data(as_text=True)
    assert 'value="4500000"' in resumed

    # Reopening the link resumes: nothing required is missing, so it opens the last part.
    resumed_at = client.get(url)
    assert resumed_at.status_code == 302
    last_part = client.get(resumed_at.headers["Location"]).get_data(as_text=True)
    step, steps = map(int, re.search(r"Bagian (\d+) dari (\d+)", last_part).groups())
    assert step == steps  # Indonesian default
    done = client.post(f"{url}?step={steps}", data={"step": str(steps), "action": "finish"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/terima-kasih")
    thanks = client.get(done.headers["Location"])
    assert thanks.status_code == 200
    response = stored(survey_app)
    assert response.status == "complete" and response.answers["f502"] == 2
    with survey_app.app_context():
        events = db.session().scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.type == "response.submitted")
        )
    assert events == 1


def test_answers_that_stop_applying_are_dropped(survey_app, survey) -> None:
    client = survey_app.test_client()
    url = link(survey_app, survey, 1)
    client.post(url + "?step=1", data={"step": "1", "action": "next", "consent": "true"})
    client.post(url + "?step=2", data={"step": "2", "action": "next", "f8": "1"})
    client.post(
        url + "?step=3",
        data={"step": "3", "action": "next", "f504": "1", "f502": "2", "f505": "3000000"},
    )
    # now they say they are looking for work: the employment answers no longer apply
    client.post(url + "?step=2", data={"step": "2", "action": "next", "f8": "5"})
    answers = stored(survey_app).answers
    assert answers["f8"] == 5 and "f505" not in answers and "f504" not in answers


def test_invalid_and_closed_links(survey_app, survey) -> None:
    client = survey_app.test_client()
    assert client.get("/s/not-a-token").status_code == 404
    client.post("/api/v1/waves/ts-2026/close", headers=survey["headers"]["operator"])
    closed = client.get(link(survey_app, survey))
    assert closed.status_code == 410


def test_open_link_identifies_by_registration_and_birth_date(survey_app, survey) -> None:
    client = survey_app.test_client()
    assert client.get("/w/ts-2026").status_code == 200
    wrong = client.post(
        "/w/ts-2026", data={"registration_no": "REG-000", "birth_date": "1999-01-01"}
    )
    assert wrong.status_code == 422
    right = client.post(
        "/w/ts-2026", data={"registration_no": "REG-000", "birth_date": "2000-01-01"}
    )
    assert right.status_code == 302 and "/s/" in right.headers["Location"]
    assert "REG-000" not in right.headers["Location"]  # the link carries no readable ids


def test_open_link_is_rate_limited(survey_app, survey) -> None:
    client = survey_app.test_client()
    codes = [
        client.post(
            "/w/ts-2026",
            data={"registration_no": f"GUESS-{n}", "birth_date": "2000-01-01"},
            environ_base={"REMOTE_ADDR": "203.0.113.9"},
        ).status_code
        for n in range(12)
    ]
    assert codes[:10] == [422] * 10
    assert codes[10:] == [429, 429]
    other = client.post(
        "/w/ts-2026",
        data={"registration_no": "REG-000", "birth_date": "2000-01-01"},
        environ_base={"REMOTE_ADDR": "203.0.113.10"},
    )
    assert other.status_code == 302
