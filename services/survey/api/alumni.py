"""Roster API: import a CSV/XLSX file; list alumni; data-subject rights (staff only).

Export and erasure are admin-only (UU PDP: the export holds the decrypted NIK, erasure
cannot be undone); recording a consent withdrawal is an operator's roster work. Each call
is written to the audit log in the transaction that does the work.
"""

from __future__ import annotations

import io
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields
from sqlalchemy import select

from services.survey import privacy
from services.survey.roster import RosterFileError, read_rows, write_rejections_csv
from services.survey.roster_import import import_roster
from shared import auth, db
from shared.models import Alumnus
from shared.web import Page, abort_domain, page_of

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
        """Alumni on the roster, by registration number (each call is audited)."""
        rows = page_of(
            select(Alumnus)
            .where(Alumnus.erased_at.is_(None))
            .order_by(Alumnus.registration_no),
            query,
        )
        # Names, phones and e-mails in bulk: audited like the CSV exports, one entry per
        # request saying who read which page and how many people it held.
        session = db.session()
        auth.audit(session, auth.current_principal().name, "read.alumni", None,
                   page=query["page"], per_page=query["per_page"], rows=len(rows))
        session.commit()
        return rows


class ErasureOut(Schema):
    alumnus_id = fields.Integer()
    erased_at = fields.DateTime()
    already_erased = fields.Boolean(metadata={"description": "erased by an earlier request"})
    responses_deidentified = fields.Integer()
    answers_removed = fields.Integer(metadata={"description": "free-text answers dropped"})
    rejected_rows_removed = fields.Integer(
        metadata={"description": "the person's rows taken out of rejected-rows files"})


class ConsentWithdrawalOut(Schema):
    alumnus_id = fields.Integer()
    consent_withdrawn_at = fields.DateTime()
    consent_withdrawn_source = fields.String()
    recorded = fields.Boolean(
        metadata={"description": "false when an earlier withdrawal was already recorded"})


class AlumnusExportOut(Schema):
    """The JSON export (format jejak-alumnus-export/1): roster fields with the NIK,
    consent, wave targets, responses with drafts and edits, messages with delivery
    attempts, opt-outs."""

    class Meta:
        unknown = "include"

    format = fields.String()
    exported_at = fields.String()
    alumnus = fields.Dict()
    consent = fields.Dict()
    erased_at = fields.String(allow_none=True)
    wave_targets = fields.List(fields.Dict())
    responses = fields.List(fields.Dict())
    messages = fields.List(fields.Dict())
    opt_outs = fields.List(fields.Dict())


def _pii_key() -> str:
    return current_app.config["JEJAK_SETTINGS"].pii_key


@blp.route("/<int:alumnus_id>/export")
class AlumnusExport(MethodView):
    @auth.requires("admin")
    @blp.response(200, AlumnusExportOut)
    @blp.alt_response(404, description="no alumnus with this id")
    def get(self, alumnus_id: int) -> Any:
        """Everything held about one alumnus, as JSON (UU PDP right of access)."""
        session = db.session()
        try:
            document = privacy.export_alumnus(session, alumnus_id, pii_key=_pii_key())
        except privacy.PrivacyError as exc:
            abort_domain(exc)
        auth.audit(session, auth.current_principal().name, "alumnus.export",
                   f"alumnus:{alumnus_id}")
        session.commit()
        return document


@blp.route("/<int:alumnus_id>/erase")
class AlumnusErase(MethodView):
    @auth.requires("admin")
    @blp.response(200, ErasureOut)
    @blp.alt_response(404, description="no alumnus with this id")
    @blp.alt_response(409, description="files that may hold the person and cannot be "
                      "rewritten (backups) are listed: delete them by hand, then erase again")
    def post(self, alumnus_id: int) -> Any:
        """Erase one alumnus: identifiers removed, answers kept de-identified for the
        aggregates, pending messages cancelled. Repeating it changes nothing."""
        session = db.session()
        try:
            erasure = privacy.erase_alumnus(
                session, alumnus_id, pii_key=_pii_key(),
                home=current_app.config["JEJAK_SETTINGS"].home)
        except privacy.PrivacyError as exc:
            abort_domain(exc)
        auth.audit(session, auth.current_principal().name, "alumnus.erase",
                   f"alumnus:{alumnus_id}",
                   already_erased=erasure.already_erased,
                   responses_deidentified=erasure.responses_deidentified,
                   answers_removed=erasure.answers_removed,
                   rejected_rows_removed=erasure.rejected_rows_removed)
        session.commit()
        return erasure


@blp.route("/<int:alumnus_id>/consent-withdrawal")
class AlumnusConsentWithdrawal(MethodView):
    @auth.requires("operator")
    @blp.response(200, ConsentWithdrawalOut)
    @blp.alt_response(404, description="no alumnus with this id")
    @blp.alt_response(409, description="the alumnus was erased")
    def post(self, alumnus_id: int) -> Any:
        """Record that the alumnus withdrew consent: no more messages from now on; answers
        already given stay in the aggregates without identity."""
        session = db.session()
        try:
            recorded = privacy.withdraw_consent(session, alumnus_id, source="api")
        except privacy.PrivacyError as exc:
            abort_domain(exc)
        auth.audit(session, auth.current_principal().name, "alumnus.consent_withdraw",
                   f"alumnus:{alumnus_id}", recorded=recorded)
        session.commit()
        alumnus = session.get(Alumnus, alumnus_id)
        return {"alumnus_id": alumnus_id, "consent_withdrawn_at": alumnus.consent_withdrawn_at,
                "consent_withdrawn_source": alumnus.consent_withdrawn_source,
                "recorded": recorded}
