"""Roster API: import a CSV/XLSX file; list alumni; data-subject rights (staff only).

Export and erasure are admin-only (UU PDP: the export holds the decrypted NIK, erasure
cannot be undone); recording a consent withdrawal is an operator's roster work. Each call
is written to the audit log in the transaction that does the work.
"""

from __future__ import annotations

import io
from typing import Any

from flask import current_app, send_file
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from services.survey import pending_imports, privacy, roster_template
from services.survey.import_texts import describer, rejection_out
from services.survey.roster import RosterFileError, write_rejections_csv
from shared import auth, db
from shared.models import Alumnus
from shared.web import Page, abort_domain, page_of

blp = Blueprint(
    "alumni", __name__, url_prefix="/api/v1/alumni", description="The roster of alumni."
)


class ImportFile(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class ProblemOut(Schema):
    column = fields.String()
    message = fields.String()


class RejectionOut(Schema):
    line = fields.Integer()
    column = fields.String(metadata={"description": "the columns with a problem, as the file "
                                                    "names them"})
    message = fields.String(metadata={"description": "every problem, in the request's "
                                                     "language"})
    problems = fields.List(fields.Nested(ProblemOut))


class RowChangeOut(Schema):
    line = fields.Integer()
    registration_no = fields.String()
    full_name = fields.String()
    kind = fields.String(metadata={"description": "new, unchanged, updated or suspicious"})
    changed = fields.Dict(metadata={"description": "field → [stored, in the file]"})
    alumnus_id = fields.Integer(allow_none=True)


class PreviewOut(Schema):
    import_id = fields.String()
    counts = fields.Dict()
    rows = fields.List(fields.Nested(RowChangeOut), metadata={
        "description": "updated and suspicious rows (new and unchanged are counted)"})
    rejections = fields.List(fields.Nested(RejectionOut))


class ApplyIn(Schema):
    confirm = fields.List(fields.String(), load_default=list, metadata={
        "description": "registration numbers of the suspicious updates to apply"})
    confirm_all = fields.Boolean(load_default=False)


class ImportOut(Schema):
    imported = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    rejected = fields.Integer()
    rejections = fields.List(fields.Nested(RejectionOut))
    rejected_csv = fields.String(metadata={
        "description": "the rejected rows as CSV, under the uploaded headers and order"})
    identity_changes = fields.Integer(metadata={
        "description": "confirmed suspicious updates: each made a new alumnus"})
    held = fields.List(fields.Nested(RowChangeOut), metadata={
        "description": "suspicious updates not confirmed: not imported"})
    pending_id = fields.String(allow_none=True, metadata={
        "description": "the held rows as a pending import, to confirm later"})


class TemplateQuery(Schema):
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "xlsx")))


class AlumnusOut(Schema):
    id = fields.Integer()
    registration_no = fields.String()
    full_name = fields.String()
    gender = fields.String()
    cohort_id = fields.Integer()
    phone = fields.String()
    email = fields.String()


def _home() -> Any:
    return current_app.config["JEJAK_SETTINGS"].home


def _preview_out(seen: pending_imports.ImportPreview) -> dict[str, Any]:
    return {
        "import_id": seen.import_id,
        "counts": seen.counts,
        "rows": [row for row in seen.rows if row.kind in ("updated", "suspicious")],
        "rejections": [rejection_out(r, seen.titles) for r in seen.rejections],
    }


def _apply(import_id: str, filename: str, confirm: list[str], confirm_all: bool) -> Any:
    """Apply a pending import (the page's code path) and answer with what it did."""
    try:
        applied = pending_imports.apply(
            db.get_db().session_factory, _home(), import_id, filename,
            pii_key=current_app.config["JEJAK_SETTINGS"].pii_key, confirm=confirm,
            confirm_all=confirm_all)
    except RosterFileError as exc:
        pending_imports.discard(_home(), import_id)
        abort(422, message=str(exc), errors={"file": [str(exc)]})
    summary = applied.summary
    buffer = io.StringIO()
    write_rejections_csv(summary.rejections, buffer, applied.titles, describer(applied.titles))
    session = db.session()
    auth.audit(session, auth.current_principal().name, "alumni.import", filename,
               imported=summary.imported, updated=summary.updated, rejected=summary.rejected,
               identity_changes=applied.retired, held=len(applied.held))
    session.commit()
    return {
        "imported": summary.imported,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
        "rejected": summary.rejected,
        "rejections": [rejection_out(r, applied.titles) for r in summary.rejections],
        "rejected_csv": buffer.getvalue(),
        "identity_changes": applied.retired,
        "held": applied.held,
        "pending_id": applied.pending_id,
    }


@blp.route("/import")
class AlumniImport(MethodView):
    @auth.requires("operator")
    @blp.arguments(ImportFile, location="files")
    @blp.response(200, ImportOut)
    def post(self, files: dict[str, Any]) -> Any:
        """Import a roster file at once; bad rows come back with every problem. Suspicious
        updates (a known registration number with another name or birth date) are held,
        not imported: confirm them with `POST /imports/{pending_id}/apply`."""
        upload = files["file"]
        return _apply(_store(upload), upload.filename or "", [], False)


@blp.route("/import-template")
class AlumniImportTemplate(MethodView):
    @auth.requires("operator")
    @blp.arguments(TemplateQuery, location="query")
    @blp.response(200, description="the template file (CSV or XLSX)")
    def get(self, query: dict[str, Any]) -> Any:
        """The roster template (XLSX or CSV): Indonesian headers and one example row."""
        kind = query["format"]
        data = roster_template.template_csv() if kind == "csv" else roster_template.template_xlsx()
        mimetype = ("text/csv" if kind == "csv" else
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                         download_name=f"template-alumni.{kind}")


@blp.route("/imports")
class AlumniImports(MethodView):
    @auth.requires("operator")
    @blp.arguments(ImportFile, location="files")
    @blp.response(201, PreviewOut)
    def post(self, files: dict[str, Any]) -> Any:
        """Upload a roster to preview: new, unchanged, updated (with the changed fields),
        suspicious and rejected rows; nothing is written until `apply`."""
        return _preview(_store(files["file"]))


def _store(upload: Any) -> str:
    try:
        return pending_imports.store_upload(_home(), upload.stream, upload.filename or "")
    except RosterFileError as exc:
        abort(422, message=str(exc), errors={"file": [str(exc)]})


def _preview(import_id: str) -> dict[str, Any]:
    try:
        seen = pending_imports.preview(db.session(), _home(), import_id, "",
                                       current_app.config["JEJAK_SETTINGS"].pii_key)
    except FileNotFoundError:
        abort(404, message="no pending import with this id (applied, discarded or expired)")
    except RosterFileError as exc:
        pending_imports.discard(_home(), import_id)
        abort(422, message=str(exc), errors={"file": [str(exc)]})
    return _preview_out(seen)


@blp.route("/imports/<import_id>")
class AlumniImportById(MethodView):
    @auth.requires("operator")
    @blp.response(200, PreviewOut)
    def get(self, import_id: str) -> Any:
        """The preview of a pending import."""
        return _preview(import_id)


@blp.route("/imports/<import_id>/apply")
class AlumniImportApply(MethodView):
    @auth.requires("operator")
    @blp.arguments(ApplyIn)
    @blp.response(200, ImportOut)
    def post(self, body: dict[str, Any], import_id: str) -> Any:
        """Apply a pending import with the suspicious updates confirmed (`confirm`, one
        registration number each, or `confirm_all`); the others stay held under a new
        `pending_id`. A confirmed one keeps the stored alumnus apart (answers, links) and
        makes a new alumnus."""
        if pending_imports.pending_path(_home(), import_id) is None:
            abort(404, message="no pending import with this id (applied, discarded or expired)")
        db.session().close()
        return _apply(import_id, "", body["confirm"], body["confirm_all"])


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
