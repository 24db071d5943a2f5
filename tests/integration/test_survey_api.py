"""The intake API, waves and questionnaires through the real app and database."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from services.survey import intake
from services.survey.links import make_token
from services.survey.waves import questionnaire, wave_info
from shared import db
from shared.models import OutboxEvent, Response, ResponseEdit
from tests.integration.conftest import EMPLOYED


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(model).where(*where))


def token_for(app, survey, index: int) -> str:
    return make_token(app.config["SECRET_KEY"], survey["wave_id"], survey["alumni"][index][0])


def post(client, body, headers=None):
    return client.post("/api/v1/responses", json=body, headers=headers or {})


def test_opening_fixes_the_population_without_erased_alumni(survey) -> None:
    assert survey["population"] == 5


def test_first_submission_201_then_replay_200_and_nothing_new(survey_app, survey) -> None:
    client = survey_app.test_client()
    body = {
        "id": str(uuid.uuid4()),
        "wave": "ts-2026",
        "token": token_for(survey_app, survey, 0),
        "answers": EMPLOYED,
    }
    first = post(client, body)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["status"] == "complete"
    again = post(client, {**body, "answers": {"consent": True, "f8": 5}})  # same id
    assert again.status_code == 200
    assert again.get_json()["answers"]["f505"] == 4_500_000  # the stored copy, unchanged
    assert count(survey_app, Response) == 1
    assert count(survey_app, OutboxEvent, OutboxEvent.type == "response.submitted") == 1


def test_a_new_submission_edits_the_one_response(survey_app, survey) -> None:
    client = survey_app.test_client()
    token = token_for(survey_app, survey, 1)
    first = post(
        client, {"id": str(uuid.uuid4()), "wave": "ts-2026", "token": token, "answers": EMPLOYED}
    )
    edit_id = str(uuid.uuid4())
    edit = post(
        client,
        {
            "id": edit_id,
            "wave": "ts-2026",
            "token": token,
            "answers": {"consent": True, "f8": 5, "f1001": 4},
        },
    )
    assert edit.status_code == 201
    assert edit.get_json()["id"] == first.get_json()["id"]
    assert edit.get_json()["answers"] == {"consent": True, "f8": 5, "f1001": 4}
    replay = post(client, {"id": edit_id, "wave": "ts-2026", "token": token, "answers": EMPLOYED})
    assert replay.status_code == 200 and replay.get_json()["answers"]["f8"] == 5
    assert count(survey_app, Response) == 1
    assert count(survey_app, OutboxEvent, OutboxEvent.type == "response.submitted") == 2


def test_submit_commits_what_it_stored_whoever_calls_it(survey_app, survey) -> None:
    """The intake owns its unit of work: a first submission, an edit and a replay are each
    committed when `intake.submit` returns, whether or not the caller's session had begun a
    transaction; the caller closes its session without committing and another reads them."""
    first_id, edit_id = uuid.uuid4(), uuid.uuid4()
    edited = {"consent": True, "f8": 5, "f1001": 4}
    with survey_app.app_context():
        wave = wave_info(db.session(), "ts-2026", fresh=True)
        form = questionnaire(db.session(), wave.questionnaire_id)
        db.session().rollback()  # SQLite: a read holds the write lock (BEGIN IMMEDIATE)
        factory = db.get_db().session_factory
        alumnus_id = survey["alumni"][2][0]
        for submission_id, answers, read_first, created in (
            (first_id, EMPLOYED, False, True),  # PostgreSQL: its own autocommitted statement
            (edit_id, edited, True, True),
            (edit_id, EMPLOYED, True, False),  # a replay: the edit again, nothing changes
        ):
            with factory() as session:
                if read_first:  # the caller's session is in a transaction already
                    session.execute(select(func.count()).select_from(Response))
                stored, was_created = intake.submit(
                    session, submission_id=submission_id, wave=wave, questionnaire=form,
                    alumnus_id=alumnus_id, answers=answers)
                assert was_created is created
                assert not session.in_transaction()
        with factory() as other:
            response = other.scalars(select(Response)).one()
            assert (response.id, response.alumnus_id) == (first_id, alumnus_id)
            assert response.answers == edited
            assert other.scalars(select(ResponseEdit.id)).all() == [edit_id]
            assert other.scalar(select(func.count()).select_from(OutboxEvent).where(
                OutboxEvent.type == "response.submitted")) == 2


def test_422_names_every_bad_key_and_stores_nothing(survey_app, survey) -> None:
    client = survey_app.test_client()
    bad = {"consent": True, "f8": 9, "f999": "x", "f505": -5, "f14": 2, "f6": "many"}
    response = post(
        client,
        {
            "id": str(uuid.uuid4()),
            "wave": "ts-2026",
            "token": token_for(survey_app, survey, 0),
            "answers": bad,
        },
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    errors = response.get_json()["errors"]["answers"]
    assert {"f8", "f999", "f505", "f6"} <= set(errors)
    # f8=9 is no valid status, so f14 (only for the employed) is not applicable either
    assert count(survey_app, Response) == 0
    assert count(survey_app, OutboxEvent, OutboxEvent.type == "response.submitted") == 0


def test_answer_to_a_question_that_does_not_apply_is_an_error(survey_app, survey) -> None:
    response = post(
        survey_app.test_client(),
        {
            "id": str(uuid.uuid4()),
            "wave": "ts-2026",
            "token": token_for(survey_app, survey, 0),
            "answers": {"consent": True, "f8": 5, "f505": 3_000_000},
        },
    )
    assert response.status_code == 422
    assert "f505" in response.get_json()["errors"]["answers"]


def test_envelope_errors_name_the_field(survey_app, survey) -> None:
    client = survey_app.test_client()
    missing = post(client, {"wave": "ts-2026", "answers": {}})
    assert missing.status_code == 422
    assert {"id", "registration_no"} <= set(missing.get_json()["errors"])
    unknown_wave = post(
        client,
        {
            "id": str(uuid.uuid4()),
            "wave": "nope",
            "token": token_for(survey_app, survey, 0),
            "answers": {},
        },
    )
    assert unknown_wave.status_code == 422 and "wave" in unknown_wave.get_json()["errors"]
    forged = post(
        client, {"id": str(uuid.uuid4()), "wave": "ts-2026", "token": "AAAA", "answers": EMPLOYED}
    )
    assert forged.status_code == 404 and "token" in forged.get_json()["errors"]


def test_a_link_for_someone_the_wave_does_not_target_is_404_and_stores_nothing(
    survey_app, survey
) -> None:
    # A genuine token (the key signed it) for the erased alumnus, whom the wave excludes:
    # the one-statement insert stores nothing and the answer is the forged-link one.
    client = survey_app.test_client()
    token = token_for(survey_app, survey, 5)
    for answers in (EMPLOYED, {"f8": "not a code"}):
        refused = post(
            client, {"id": str(uuid.uuid4()), "wave": "ts-2026", "token": token, "answers": answers}
        )
        assert refused.status_code == 404 and "token" in refused.get_json()["errors"]
    assert count(survey_app, Response) == 0
    assert count(survey_app, OutboxEvent, OutboxEvent.type == "response.submitted") == 0


def test_oversized_body_is_413(survey_app, survey) -> None:
    body = {
        "id": str(uuid.uuid4()),
        "wave": "ts-2026",
        "token": token_for(survey_app, survey, 0),
        "answers": {"blk_suggestion": "x" * 400_000},
    }
    response = post(survey_app.test_client(), body)
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert count(survey_app, Response) == 0


def test_registration_no_needs_an_operator(survey_app, survey) -> None:
    client = survey_app.test_client()
    body = {
        "id": str(uuid.uuid4()),
        "wave": "ts-2026",
        "registration_no": "REG-002",
        "answers": EMPLOYED,
    }
    assert post(client, body).status_code == 401
    assert post(client, body, survey["headers"]["viewer"]).status_code == 403
    assert post(client, body, survey["headers"]["operator"]).status_code == 201
    erased = {**body, "id": str(uuid.uuid4()), "registration_no": "REG-005"}
    assert post(client, erased, survey["headers"]["operator"]).status_code == 422


def test_a_closed_wave_refuses_answers(survey_app, survey) -> None:
    client = survey_app.test_client()
    closed = client.post("/api/v1/waves/ts-2026/close", headers=survey["headers"]["operator"])
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    response = post(
        client,
        {
            "id": str(uuid.uuid4()),
            "wave": "ts-2026",
            "token": token_for(survey_app, survey, 0),
            "answers": EMPLOYED,
        },
    )
    assert response.status_code == 409
    assert "closed" in response.get_json()["detail"]
    # Nobody subscribes to wave.closed, so closing writes no event (decision 60).
    assert count(survey_app, OutboxEvent, OutboxEvent.type == "wave.closed") == 0


def test_partial_then_complete(survey_app, survey) -> None:
    client = survey_app.test_client()
    token = token_for(survey_app, survey, 2)
    partial = post(
        client,
        {
            "id": str(uuid.uuid4()),
            "wave": "ts-2026",
            "token": token,
            "answers": {"f8": 1},
            "complete": False,
        },
    )
    assert partial.status_code == 201 and partial.get_json()["status"] == "partial"
    assert count(survey_app, OutboxEvent, OutboxEvent.type == "response.submitted") == 0
    done = post(
        client, {"id": str(uuid.uuid4()), "wave": "ts-2026", "token": token, "answers": EMPLOYED}
    )
    assert done.get_json()["status"] == "complete"
    assert count(survey_app, OutboxEvent, OutboxEvent.type == "response.submitted") == 1


def test_staff_list_fetch_and_export(survey_app, survey) -> None:
    client = survey_app.test_client()
    created = post(
        client,
        {
            "id": str(uuid.uuid4()),
            "wave": "ts-2026",
            "token": token_for(survey_app, survey, 0),
            "answers": {**EMPLOYED, "f5b": '=HYPERLINK("x")'},
        },
    )
    assert created.status_code == 201, created.get_json()
    headers = survey["headers"]["operator"]
    listed = client.get("/api/v1/responses?wave=ts-2026", headers=headers)
    assert listed.status_code == 200 and len(listed.get_json()) == 1
    one = client.get(f"/api/v1/responses/{created.get_json()['id']}", headers=headers)
    assert one.status_code == 200
    assert client.get("/api/v1/responses", headers=survey["headers"]["viewer"]).status_code == 403
    csv_text = client.get("/api/v1/responses/export.csv?wave=ts-2026", headers=headers).get_data(
        as_text=True
    )
    header, row = csv_text.strip().splitlines()
    assert "f505" in header.split(",") and "REG-000" in row
    assert "'=HYPERLINK" in row  # formula neutralised


def test_open_link_qr_codes(survey_app, survey) -> None:
    client = survey_app.test_client()
    png = client.get("/api/v1/waves/ts-2026/qr.png", headers=survey["headers"]["operator"])
    assert png.status_code == 200 and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    svg = client.get("/api/v1/waves/ts-2026/qr.svg", headers=survey["headers"]["operator"])
    assert svg.status_code == 200 and b"<svg" in svg.data


def test_questionnaire_versions(survey_app, survey) -> None:
    client = survey_app.test_client()
    admin = survey["headers"]["admin"]
    stored = client.get(f"/api/v1/questionnaires/{survey['questionnaire_id']}", headers=admin)
    definition = stored.get_json()["definition"]
    duplicate = client.post(
        "/api/v1/questionnaires", json={"definition": definition}, headers=admin
    )
    assert duplicate.status_code == 409
    newer = client.post(
        "/api/v1/questionnaires", json={"definition": {**definition, "version": 2}}, headers=admin
    )
    assert newer.status_code == 201 and newer.get_json()["version"] == 2
    broken = client.post(
        "/api/v1/questionnaires",
        headers=admin,
        json={"definition": {**definition, "version": 3, "sections": "no"}},
    )
    assert broken.status_code == 422 and "sections" in broken.get_json()["detail"]
    operator = client.post(
        "/api/v1/questionnaires",
        json={"definition": definition},
        headers=survey["headers"]["operator"],
    )
    assert operator.status_code == 403


def test_waves_api_validates(survey_app, survey) -> None:
    client = survey_app.test_client()
    bad = client.post(
        "/api/v1/waves",
        headers=survey["headers"]["operator"],
        json={"slug": "Bad Slug!", "title": "", "questionnaire_id": 1},
    )
    assert bad.status_code == 422
    assert {"slug", "title"} <= set(bad.get_json()["errors"])
    again = client.post("/api/v1/waves/ts-2026/open", headers=survey["headers"]["operator"])
    assert again.status_code == 409


def test_openapi_documents_the_instrument(survey_app) -> None:
    spec = survey_app.test_client().get("/api/openapi.json").get_json()
    answers = spec["components"]["schemas"]["AnswersBlkTracerV1"]["properties"]
    assert answers["f8"]["enum"] == [1, 2, 3, 4, 5]
    assert answers["f502"]["maximum"] == 120 and "f504" in answers["f502"]["description"]
    assert "/api/v1/responses" in spec["paths"]


def test_alumni_list_pages(survey_app, survey) -> None:
    client = survey_app.test_client()
    headers = survey["headers"]["operator"]
    first = client.get("/api/v1/alumni?per_page=2", headers=headers).get_json()
    second = client.get("/api/v1/alumni?per_page=2&page=2", headers=headers).get_json()
    assert [a["registration_no"] for a in first + second] == [
        "REG-000", "REG-001", "REG-002", "REG-003"]
    assert client.get("/api/v1/alumni?page=0", headers=headers).status_code == 422
