"""Intake API: POST /survey/api/v1/responses, and staff listing and CSV export."""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable
from typing import Any

from flask import Response as HttpResponse
from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import case, or_, select
from werkzeug.exceptions import HTTPException

from services.survey import intake
from services.survey.waves import SurveyError, questionnaire, wave_info
from shared import auth, db, ratelimit
from shared.csvsafe import safe_cell
from shared.models import Alumnus, Cohort, Program, Response, utcnow
from shared.web import Page, abort_domain, get_or_404, page_of, row_id

INTAKE_MAX_BYTES = 256 * 1024
blp = Blueprint(
    "responses",
    __name__,
    url_prefix="/api/v1/responses",
    description="Answers from alumni: the intake API and staff listing.",
)


class ResponseIn(Schema):
    id = fields.UUID(
        required=True,
        metadata={"description": "client-chosen UUID; resending the same id is safe (idempotent)"},
    )
    wave = fields.String(required=True, metadata={"description": "wave slug"})
    registration_no = fields.String(metadata={"description": "needs an operator token"})
    token = fields.String(metadata={"description": "the personal link token"})
    # No `keys=fields.String()`: JSON object keys are strings already, and a key field
    # costs a deserialisation per answer on the hottest endpoint.
    answers = fields.Dict(
        required=True,
        metadata={
            "description": "keyed by the questionnaire's keys (f8 …); for the default "
            "instrument see the AnswersBlkTracerV1 schema"
        },
    )
    complete = fields.Boolean(load_default=True)

    @validates_schema(skip_on_field_errors=False)
    def one_identity(self, data: dict[str, Any], **_: Any) -> None:
        if bool(data.get("registration_no")) == bool(data.get("token")):
            raise ValidationError("give exactly one of registration_no or token", "registration_no")


class ResponseOut(Schema):
    id = fields.UUID()
    wave_id = fields.Integer()
    alumnus_id = fields.Integer()
    status = fields.String()
    source = fields.String()
    answers = fields.Dict()
    started_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()


RESPONSE_IN = ResponseIn()
RESPONSE_OUT = ResponseOut()


class ResponseQuery(Page):
    wave = fields.String()
    program = row_id()
    cohort = row_id()
    status = fields.String()
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, 500))


def _personal_token() -> str | None:
    body = request.get_json(silent=True)
    token = body.get("token") if isinstance(body, dict) else None
    return token if isinstance(token, str) and token else None


def _charge_public_intake() -> None:
    """Count a public intake request against its limits, per personal token and per address.

    Everything but an accepted first submission counts: replays, edits and every refusal
    (a guessed token, bad answers, a closed wave). A first submission needs a valid,
    unguessable token and happens once per token, so it is bounded already; not counting it
    keeps Redis off the common path and never turns away a room of alumni answering at an
    event behind one address. Staff (a bearer token) and registration_no calls are exempt.
    """
    if g.get("intake_staff", True) or g.get("intake_charged"):
        return
    token = _personal_token()
    if token is None:
        return
    g.intake_charged = True
    # A digest, so the Redis keys never hold a working survey link.
    ratelimit.charge("intake", auth.token_digest(token))
    ratelimit.charge("intake_ip", ratelimit.client_address())


def _limited_unless_first(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refusals count too: every HTTP error of the view (or of its argument parsing)."""

    @functools.wraps(view)
    def counted(*args: Any, **kwargs: Any) -> Any:
        # Decided before the view opens a transaction: a staff token is checked in a session
        # of its own, which on SQLite must not wait for the request's write lock. (Without
        # an Authorization header this reads nothing.) Only a token counts as staff: the
        # intake ignores session cookies, which a forged cross-site post would carry.
        g.intake_staff = auth.api_principal() is not None
        try:
            return view(*args, **kwargs)
        except HTTPException:
            _charge_public_intake()
            raise

    return counted


def limit_intake_body() -> None:
    """413 before parsing: an answers document is a few KB, never megabytes."""
    if request.endpoint == "responses.Responses" and request.method == "POST":
        request.max_content_length = INTAKE_MAX_BYTES


@blp.route("")
class Responses(MethodView):
    @auth.public  # a personal token is the credential; registration_no needs an operator
    # Public intake is limited per personal token and per address (docs/security.md).
    @_limited_unless_first
    # Schema instances, not classes: webargs would build a new schema object per request
    # (about 2 ms of CPU on the hottest endpoint).
    @blp.arguments(RESPONSE_IN)
    @blp.response(201, RESPONSE_OUT)
    @blp.alt_response(200, schema=RESPONSE_OUT, description="the same id again: stored copy")
    @blp.alt_response(422, description="problem+json naming every bad key in `errors`")
    def post(self, body: dict[str, Any]) -> Any:
        """Submit (or resubmit) an alumnus's answers for a wave."""
        session = db.session()
        wave = wave_info(session, body["wave"])
        if wave is None:
            abort(422, message="unknown wave", errors={"wave": ["no wave with this slug"]})
        refusal = wave.refusal(utcnow())
        if refusal:
            abort(409, message=refusal, errors={"wave": [refusal]})
        try:
            if body.get("token"):
                # Read, not looked up: submit checks that the wave targets this alumnus.
                alumnus_id = intake.alumnus_of_token(
                    current_app.config["SECRET_KEY"], body["token"], wave
                )
            else:
                principal = auth.api_principal()  # a token; a staff cookie grants nothing
                if principal is None:
                    abort(401, message="registration_no needs an operator token")
                if not principal.may("operator"):
                    abort(403)
                alumnus_id = intake.respondent_by_registration(
                    session, wave, body["registration_no"]
                ).alumnus_id
            form = questionnaire(session, wave.questionnaire_id)
            # A unit of work of its own: committed when it returns (intake.submit).
            stored, created = intake.submit(
                session,
                submission_id=body["id"],
                wave=wave,
                questionnaire=form,
                alumnus_id=alumnus_id,
                answers=body["answers"],
                complete=body["complete"],
                source="api",
                before_repeat=_charge_public_intake,
            )
        except intake.NotTargeted as exc:
            if body.get("token"):  # a link for someone the wave does not target (any more)
                abort_domain(SurveyError("token", "this link is not valid", 404))
            abort_domain(exc)
        except SurveyError as exc:
            abort_domain(exc)
        except intake.AnswersInvalid as exc:
            abort(422, message="some answers are not valid", errors={"answers": exc.errors})
        return stored, 201 if created else 200

    @auth.requires("operator")
    @blp.arguments(ResponseQuery, location="query")
    @blp.response(200, ResponseOut(many=True))
    def get(self, query: dict[str, Any]) -> Any:
        """List responses, newest first (filters: wave, program, cohort, status); audited."""
        rows = page_of(_filtered(query).order_by(Response.updated_at.desc()), query)
        # Every answer, free text included, in bulk: audited like the CSV export, one entry
        # per request with its filters and how many responses it held.
        session = db.session()
        auth.audit(session, auth.current_principal().name, "read.responses", query.get("wave"),
                   **{name: query[name] for name in ("program", "cohort", "status")
                      if name in query},
                   page=query["page"], per_page=query["per_page"], rows=len(rows))
        session.commit()
        return rows


@blp.route("/<uuid:response_id>")
class ResponseById(MethodView):
    @auth.requires("operator")
    @blp.response(200, ResponseOut)
    def get(self, response_id: Any) -> Any:
        """One response."""
        return get_or_404(Response, response_id, "response")


@blp.route("/export.csv")
class ResponsesCsv(MethodView):
    @auth.requires("operator")
    @blp.arguments(ResponseQuery, location="query")
    @blp.response(200, description="CSV, one row per response, one column per answer key")
    def get(self, query: dict[str, Any]) -> Any:
        """Export responses as CSV (streamed)."""

        statement = (
            _filtered(query)
            # Erased alumni and those who withdrew consent keep their answers, not their
            # identity (as in analytics' raw workbook).
            .add_columns(case((or_(Alumnus.erased_at.is_not(None),
                                   Alumnus.consent_withdrawn_at.is_not(None)), None),
                              else_=Alumnus.registration_no),
                         Program.name, Cohort.label)
            .order_by(Response.submitted_at)
            .execution_options(yield_per=1000)
        )
        keys = _answer_keys(query)
        # Registration numbers and every answer: personal data, so the download is audited.
        session = db.session()
        auth.audit(session, auth.current_principal().name, "export.responses_csv",
                   query.get("wave"), **{name: query[name] for name in ("program", "cohort",
                                                                        "status") if name in query})
        session.commit()
        session_factory = db.get_db().session_factory

        def generate() -> Any:
            # Its own session: the body is streamed after the request's session is closed.
            with session_factory() as session:
                yield from _rows_as_csv(session.execute(statement), keys)

        return HttpResponse(
            generate(),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=responses.csv"},
        )


def _rows_as_csv(rows: Any, keys: list[str]) -> Any:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["response_id", "registration_no", "program", "cohort", "status", "submitted_at", *keys]
    )
    for response, registration_no, program, cohort in rows:
        answers = response.answers or {}
        writer.writerow(
            [
                response.id,
                safe_cell(registration_no),
                safe_cell(program),
                safe_cell(cohort),
                response.status,
                response.submitted_at.isoformat() if response.submitted_at else "",
                *(safe_cell(_cell(answers.get(key))) for key in keys),
            ]
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    return str(value)


def _answer_keys(query: dict[str, Any]) -> list[str]:
    if query.get("wave"):
        wave = wave_info(db.session(), query["wave"])
        if wave is not None:
            form = questionnaire(db.session(), wave.questionnaire_id)
            return [
                key for section in form.sections for q in section.questions for key in q.answer_keys
            ]
    return []


def _filtered(query: dict[str, Any]) -> Any:
    statement = (
        select(Response)
        .join(Alumnus, Alumnus.id == Response.alumnus_id)
        .join(Cohort, Cohort.id == Alumnus.cohort_id)
        .join(Program, Program.id == Cohort.program_id)
    )
    if query.get("wave"):
        wave = wave_info(db.session(), query["wave"])
        statement = statement.where(Response.wave_id == (wave.id if wave else -1))
    if query.get("program"):
        statement = statement.where(Program.id == query["program"])
    if query.get("cohort"):
        statement = statement.where(Cohort.id == query["cohort"])
    if query.get("status"):
        statement = statement.where(Response.status == query["status"])
    return statement
