"""Exports API: ask for a report file, poll its progress, download it.

Aggregate reports (xlsx, pdf, csv) hold indicators through the small-group rule
(`disclosure`): any staff member may make and fetch them. An admin may ask for one
`unsuppressed`: admins only, to make and to download, and every download is audited.
raw_xlsx holds every answer with registration numbers (personal data): admins only, to
make and to download, and every download is audited.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from flask import current_app, send_file, url_for
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.analytics.reports.kinds import AGGREGATE_KINDS, KINDS, MEDIA_TYPES, download_name
from services.analytics.snapshots import read_snapshot
from shared import auth, db
from shared.errors import DomainError
from shared.models import Cohort, Export, Program, Wave, utcnow
from shared.web import abort_domain, get_or_404, row_id

PERSONAL_DATA_ROLE = "admin"  # issue 14: the raw workbook is the admin's alone
UNSUPPRESSED_ROLE = "admin"

blp = Blueprint(
    "exports",
    __name__,
    url_prefix="/api/v1/exports",
    description="Report files made in the background: the indicator workbook, the PDF "
    "report, indicator tables as CSV, and the raw responses (admins only).",
)


class ExportIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(tuple(KINDS)),
                         metadata={"description": "raw_xlsx: every response, personal data"})
    wave = fields.String(required=True, validate=validate.Length(1, 80),
                         metadata={"description": "the wave's slug"})
    program = row_id(load_default=None, metadata={"description": "kejuruan id"})
    cohort = row_id(load_default=None, metadata={"description": "angkatan id"})
    gender = fields.String(load_default=None, validate=validate.OneOf(("L", "P")))
    unsuppressed = fields.Boolean(load_default=False, metadata={
        "description": "admins only, audited: an aggregate report without the small-group "
                       "rule"})


class ExportOut(Schema):
    id = fields.UUID()
    kind = fields.String()
    params = fields.Dict()
    status = fields.String(metadata={"description": "queued, running, done or failed"})
    progress = fields.Integer(metadata={"description": "percent"})
    error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    file_url = fields.Method("_file_url", allow_none=True)

    def _file_url(self, export: Export) -> str | None:
        if export.status != "done":
            return None
        return url_for("exports.ExportFile", export_id=export.id)


def _export(export_id: uuid.UUID) -> Export:
    return get_or_404(Export, export_id, "export")


def _refuse_personal_data(kind: str) -> None:
    if not may_export(auth.current_principal(), kind):
        abort(403, message="raw responses hold personal data: admins only")


def _refuse_unsuppressed(params: dict[str, Any]) -> None:
    if params.get("unsuppressed") and not auth.current_principal().may(UNSUPPRESSED_ROLE):
        abort(403, message="unsuppressed figures are for admins only")


class QueueUnavailable(Exception):
    """The broker could not take the export's task; the Export row says failed."""


def start_export(session: Session, principal: auth.Principal, body: dict[str, Any]) -> Export:
    """Check, record (audited) and queue one export: the API and the reports page both call
    this (one code path). Raises DomainError naming the field, QueueUnavailable when the
    broker is down; the caller checks the roles for personal data and unsuppressed figures
    first (`may_export`)."""
    wave = session.scalar(select(Wave).where(Wave.slug == body["wave"]))
    if wave is None:
        raise DomainError("wave", "no wave with this slug")
    if body.get("program") is not None and session.get(Program, body["program"]) is None:
        raise DomainError("program", "no program with this id")
    if body.get("cohort") is not None and session.get(Cohort, body["cohort"]) is None:
        raise DomainError("cohort", "no cohort with this id")
    if body["kind"] in AGGREGATE_KINDS and read_snapshot(session, wave.id) is None:
        raise DomainError("wave", "the indicators of this wave have not been computed yet")
    params = {"wave": wave.slug, "wave_id": wave.id,
              **{name: body[name] for name in ("program", "cohort", "gender")
                 if body.get(name) is not None}}
    if body.get("unsuppressed") and body["kind"] in AGGREGATE_KINDS:
        params["unsuppressed"] = True  # the caller checked UNSUPPRESSED_ROLE
    export = Export(kind=body["kind"], params=params, created_by=principal.user_id)
    session.add(export)
    session.flush()
    auth.audit(session, principal.name, "export.create", str(export.id),
               kind=export.kind, **params)
    session.commit()
    try:
        current_app.extensions["celery"].send_task(
            "analytics.export", args=[str(export.id)], retry=False)
    except Exception as exc:  # broker down: say so now rather than queue forever
        export.status, export.error, export.finished_at = (
            "failed", f"could not queue the export: {exc}", utcnow())
        session.commit()
        raise QueueUnavailable(str(exc)) from exc
    return export


def may_export(principal: auth.Principal, kind: str, unsuppressed: bool = False) -> bool:
    """Aggregate kinds: any staff member, unsuppressed only UNSUPPRESSED_ROLE; raw_xlsx
    (personal data): PERSONAL_DATA_ROLE."""
    if unsuppressed and not principal.may(UNSUPPRESSED_ROLE):
        return False
    return kind in AGGREGATE_KINDS or principal.may(PERSONAL_DATA_ROLE)


@blp.route("")
class Exports(MethodView):
    @auth.requires("viewer")
    @blp.arguments(ExportIn)
    @blp.response(202, ExportOut)
    def post(self, body: dict[str, Any]) -> Any:
        """Queue an export; poll it, then fetch its file."""
        _refuse_personal_data(body["kind"])
        _refuse_unsuppressed(body)
        try:
            return start_export(db.session(), auth.current_principal(), body)
        except DomainError as exc:
            abort_domain(exc)
        except QueueUnavailable:
            abort(503, message="the task queue is unavailable; try again shortly")


@blp.route("/<uuid:export_id>")
class ExportById(MethodView):
    @auth.requires("viewer")
    @blp.response(200, ExportOut)
    def get(self, export_id: uuid.UUID) -> Any:
        """Status and progress of one export."""
        return _export(export_id)


@blp.route("/<uuid:export_id>/file")
class ExportFile(MethodView):
    @auth.requires("viewer")
    @blp.response(200, content_type="application/octet-stream")
    @blp.alt_response(409, description="the export is not done (yet)")
    def get(self, export_id: uuid.UUID) -> Any:
        """The export's file, once it is done (409 before)."""
        export = _export(export_id)
        _refuse_personal_data(export.kind)
        _refuse_unsuppressed(export.params)
        if export.status != "done" or not export.path:
            abort(409, message=f"the export is {export.status}, not done")
        path = Path(export.path)
        if not path.is_file():
            abort(410, message="the export's file is no longer there; export again")
        if export.kind not in AGGREGATE_KINDS or export.params.get("unsuppressed"):
            session = db.session()
            auth.audit(session, auth.current_principal().name, "export.download",
                       str(export.id), kind=export.kind)
            session.commit()
        return send_file(path, mimetype=MEDIA_TYPES[path.suffix.lstrip(".")],
                         as_attachment=True, max_age=0,
                         download_name=download_name(export.kind, export.params))
