"""Centre settings API: the same check and save as the settings page (shared/centre.py).

Reading is open to any staff member (nothing personal); changing is the admin's.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields

from shared import auth, db
from shared.centre import TEXT_LIMITS, centre, check, save_centre

blp = Blueprint(
    "settings", __name__, url_prefix="/api/v1/settings",
    description="The training centre's name, address, head, logo, public URL, quiet hours, "
    "time zone and data retention; unset ones come from the environment.",
)


class CentreOut(Schema):
    name = fields.String()
    short_name = fields.String()
    address = fields.String()
    contact = fields.String()
    head_name = fields.String()
    head_nip = fields.String()
    city = fields.String()
    region_code = fields.String()
    region_name = fields.String()
    province_code = fields.String()
    province_name = fields.String()
    base_url = fields.String()
    base_url_warning = fields.String(allow_none=True, metadata={
        "description": "loopback: the public URL reaches only this machine"})
    quiet_hours = fields.String()
    timezone = fields.String()
    retention_days = fields.Integer()
    has_logo = fields.Boolean()


class CentreIn(Schema):
    """Only the fields sent change; an empty string (or null) goes back to the default."""

    retention_days = fields.Raw(allow_none=True)
    logo = fields.String(allow_none=True, metadata={
        "description": "PNG or JPEG, base64; empty removes the logo"})

    class Meta:
        include = {name: fields.String(allow_none=True) for name in TEXT_LIMITS}


def _out() -> dict[str, Any]:
    current = centre(db.session())
    body = asdict(current)
    body.pop("logo")
    return {**body, "has_logo": current.logo is not None,
            "base_url_warning": current.base_url_warning}


@blp.route("")
class Settings(MethodView):
    @auth.requires("viewer")
    @blp.response(200, CentreOut)
    def get(self) -> Any:
        """The centre's settings as every page and file uses them."""
        return _out()

    @auth.requires("admin")
    @blp.arguments(CentreIn)
    @blp.response(200, CentreOut)
    def put(self, body: dict[str, Any]) -> Any:
        """Change some settings (audited)."""
        if "logo" in body:
            try:
                body["logo"] = base64.b64decode(body["logo"] or "", validate=True)
            except (binascii.Error, ValueError):
                abort(422, message="logo: not base64", errors={"logo": ["not base64"]})
        clean, errors = check(body)
        if errors:
            abort(422, message="; ".join(f"{name}: {texts[0]}" for name, texts in errors.items()),
                  errors=errors)
        session = db.session()
        save_centre(session, clean, auth.current_principal().name)
        session.commit()
        return _out()
