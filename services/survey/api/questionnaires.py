"""Questionnaires API: list and read versions; admins add versions (JSON or XLSForm)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields
from sqlalchemy import select

from services.survey import catalog
from services.survey.questionnaire import DefinitionError, definition_from_xlsform
from services.survey.questionnaire.xlsform import XlsFormRefused
from services.survey.waves import SurveyError
from services.survey.xlsform_words import worded_all
from shared import auth, db
from shared.models import Questionnaire as QuestionnaireRow
from shared.web import abort_domain, get_or_404

blp = Blueprint(
    "questionnaires",
    __name__,
    url_prefix="/api/v1/questionnaires",
    description="Versioned questionnaire definitions.",
)


class QuestionnaireOut(Schema):
    id = fields.Integer()
    key = fields.String()
    version = fields.Integer()
    title = fields.String()
    created_at = fields.DateTime()


class QuestionnaireFull(QuestionnaireOut):
    definition = fields.Dict()


class XlsFormIn(Schema):
    key = fields.String(required=True)
    version = fields.Integer(required=True)


class XlsFormFile(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


def _store(definition: dict[str, Any], source: str | None = None) -> QuestionnaireRow:
    session = db.session()
    try:
        row = catalog.store_version(session, definition, auth.current_principal().name, source)
    except DefinitionError as exc:
        abort(422, message=str(exc), errors={"definition": [str(exc)]})
    except SurveyError as exc:
        abort_domain(exc)
    session.commit()
    return row


@blp.route("")
class Questionnaires(MethodView):
    @auth.requires("viewer")
    @blp.response(200, QuestionnaireOut(many=True))
    def get(self) -> Any:
        """Every questionnaire version."""
        return (
            db.session()
            .scalars(
                select(QuestionnaireRow).order_by(QuestionnaireRow.key, QuestionnaireRow.version)
            )
            .all()
        )

    @auth.requires("admin")
    @blp.arguments(Schema.from_dict({"definition": fields.Dict(required=True)})())
    @blp.response(201, QuestionnaireFull)
    def post(self, body: dict[str, Any]) -> Any:
        """Add a version from a definition document (validated; 422 names the bad path)."""
        return _store(body["definition"])


@blp.route("/xlsform")
class XlsForm(MethodView):
    @auth.requires("admin")
    @blp.arguments(XlsFormIn, location="form")
    @blp.arguments(XlsFormFile, location="files")
    @blp.response(201, QuestionnaireFull)
    def post(self, form: dict[str, Any], files: dict[str, Any]) -> Any:
        """Add a version from an ODK/Kobo XLSForm (.xlsx or .xls).

        pyxform, ODK's own converter, reads the workbook; the form is then translated
        exactly or refused (422, each refusal naming its sheet, row and column in the
        request's language); never imported with logic that differs from the original.

        Supported: question types integer, decimal, text, date, time, datetime,
        select_one, select_multiple (with or_other), note and acknowledge; groups, nested
        too (a top-level group becomes a section); `relevant` on groups and questions;
        `required` with `required_message`; `constraint` with `constraint_message`;
        `default`; `hint`; labels and hints in every language column. Conditions and
        constraints may use and, or, not(), parentheses, =, !=, <, <=, >, >= between a
        question (or `.`) and a value or another question asked earlier, selected(),
        count-selected(), string-length() and '' for "not answered". Metadata rows
        (start, end, today, deviceid, ...) are skipped.

        Refused: repeats, media and location types, external choices, calculate,
        choice_filter, other functions, and conditions the form cannot check
        (docs/questionnaire.md#importing-an-xlsform lists each with what to do instead).

        `key` and `version` name the new version; an existing pair is refused (409). Staff
        can also import on the survey admin's "Impor XLSForm" page, with a preview, or with
        `jejak questionnaire import FILE --key KEY --version N`.
        """
        upload = files["file"]
        try:  # the importer checks the bytes first (zip bombs: shared/uploads.py)
            definition = definition_from_xlsform(
                upload.stream, key=form["key"], version=form["version"]
            )
        except XlsFormRefused as exc:
            messages = worded_all(exc.refusals)
            abort(422, message="; ".join(messages), errors={"file": messages})
        return _store(definition, upload.filename or "xlsform")


@blp.route("/<int:questionnaire_id>")
class QuestionnaireById(MethodView):
    @auth.requires("viewer")
    @blp.response(200, QuestionnaireFull)
    def get(self, questionnaire_id: int) -> Any:
        """One version with its full definition."""
        return get_or_404(QuestionnaireRow, questionnaire_id, "questionnaire")
