"""The survey service: roster, questionnaires, waves, the public form and the intake API."""

from __future__ import annotations

from typing import Any

from flask import Flask

from shared.web import create_api, create_service_app


def create_app(config: dict[str, Any] | None = None) -> Flask:
    from services.survey import (
        admin,
        call_list_pages,
        dead_letters_page,
        employer_link_pages,
        employer_pages,
        form,
        kiosk_pages,
        questionnaire_import,
        supervisor_pages,
        wave_pages,
    )
    from services.survey.api import alumni, audit, followup, questionnaires, responses, waves

    app = create_service_app("survey", __name__, config, home_page=False)
    api = create_api(app)
    for blueprint in (responses.blp, waves.blp, questionnaires.blp, alumni.blp, audit.blp,
                      followup.blp):
        api.register_blueprint(blueprint)
    # One definition drives the form, the validation and these docs.
    from services.survey.questionnaire import default_definition, load_definition
    from services.survey.questionnaire.openapi import answers_schema

    api.spec.components.schema(
        "AnswersBlkTracerV1", answers_schema(load_definition(default_definition()))
    )
    from services.survey.catalog import employer_definition

    api.spec.components.schema(
        "AnswersBlkEmployerV1", answers_schema(load_definition(employer_definition()))
    )
    app.register_blueprint(admin.bp)
    app.register_blueprint(dead_letters_page.bp)
    app.register_blueprint(employer_pages.bp)
    app.register_blueprint(wave_pages.bp)
    app.register_blueprint(call_list_pages.bp)
    app.register_blueprint(questionnaire_import.bp)
    app.register_blueprint(form.bp)
    app.register_blueprint(supervisor_pages.bp)
    app.register_blueprint(employer_link_pages.bp)
    app.register_blueprint(kiosk_pages.bp)
    app.before_request(responses.limit_intake_body)
    return app
