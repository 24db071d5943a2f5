"""The audit log, for admins: who did what, when and from where, filtered and paged.

It lives in the survey service's API because the survey hosts the staff's roster and
admin pages; the table itself is shared (docs/decisions.md).
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from shared import audit_log, auth
from shared.web import Page, page_of

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit",
                description="The append-only audit log (admins only).")


class AuditQuery(Page):
    actor = fields.String(load_default=None, validate=validate.Length(1, 120))
    action = fields.String(load_default=None, validate=validate.Length(1, 64),
                           metadata={"description": "exact, or a family: `campaign`"})
    since = fields.Date(load_default=None, metadata={"description": "first local day"})
    until = fields.Date(load_default=None, metadata={"description": "last local day"})


class AuditEntryOut(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    target = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    details = fields.Dict()
    sentence = fields.Method("_sentence", dump_only=True, metadata={
        "type": "string",
        "description": "the entry in plain words, in the request's language (?lang=id|en)"})

    def _sentence(self, entry: Any) -> str:
        return audit_log.sentence(entry.action, entry.actor, entry.target, entry.details)


@blp.route("")
class AuditLog(MethodView):
    @auth.requires("admin")
    @blp.arguments(AuditQuery, location="query")
    @blp.response(200, AuditEntryOut(many=True))
    def get(self, query: dict[str, Any]) -> Any:
        """Audit entries, newest first, filtered by actor, action and local date range."""
        return page_of(
            audit_log.entries(actor=query["actor"], action=query["action"],
                              since=query["since"], until=query["until"],
                              timezone=current_app.config["JEJAK_SETTINGS"].timezone),
            query,
        )
