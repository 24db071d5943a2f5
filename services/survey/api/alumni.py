"""Roster API: import a CSV/XLSX file; list alumni (staff only)."""

from __future__ import annotations

import io
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields
from sqlalchemy import select

from services.survey.roster import RosterFileError, read_rows, write_rejections_csv
from services.survey.roster_import import import_roster
from shared import auth, db
from shared.models import Alumnus
from shared.web import Page, page_of

blp = Blueprint(
    "alumni", __name__, url_prefix="/api/v1/alumni", description="The roster of alumni."
)


class ImportFile(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class RejectionOut(Schema):
    line = fields.Integer()
    column = fields.String()
    message = fields.String()


class ImportOut(Schema):
    imported = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    rejected = fields.Integer()
    rejections = fields.List(fields.Nested(RejectionOut))
    rejected_csv = fields.String(metadata={"description": "the rejected rows as CSV"})


class AlumnusOut(Schema):
    id = fields.Integer()
    registration_no = fields.String()
    full_name = fields.String()
    gender = fields.String()
    cohort_id = fields.Integer()
    phone = fields.String()
    email = fields.String()


@blp.route("/import")
class AlumniImport(MethodView):
    @auth.requires("operator")
    @blp.arguments(ImportFile, location="files")
    @blp.response(200, ImportOut)
    def post(self, files: dict[str, Any]) -> Any:
        """Import a roster file; good rows import, bad rows come back with line and column."""
        upload = files["file"]
        try:
            summary = import_roster(
                db.get_db().session_factory,
                read_rows(upload.stream, upload.filename or ""),
                pii_key=current_app.config["JEJAK_SETTINGS"].pii_key,
            )
        except RosterFileError as exc:
            abort(422, message=str(exc), errors={"file": [str(exc)]})
        buffer = io.StringIO()
        write_rejections_csv(summary.rejections, buffer)
        session = db.session()
        auth.audit(
            session,
            auth.current_principal().name,
            "alumni.import",
            upload.filename,
            imported=summary.imported,
            updated=summary.updated,
            rejected=summary.rejected,
        )
        session.commit()
        return {
            "imported": summary.imported,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "rejected": summary.rejected,
            "rejections": summary.rejections,
            "rejected_csv": buffer.getvalue(),
        }


@blp.route("")
class Alumni(MethodView):
    @auth.requires("operator")
    @blp.arguments(Page, location="query")
    @blp.response(200, AlumnusOut(many=True))
    def get(self, query: dict[str, Any]) -> Any:
        """Alumni on the roster, by registration number."""
        return page_of(
            select(Alumnus)
            .where(Alumnus.erased_at.is_(None))
            .order_by(Alumnus.registration_no),
            query,
        )
