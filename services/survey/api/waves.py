"""Waves API: create, list, open, close; the open link's QR code."""

from __future__ import annotations

import io
from typing import Any

import segno
from flask import Response as HttpResponse
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from services.survey import waves
from shared import auth, db
from shared.centre import applied
from shared.models import Wave
from shared.web import abort_domain, row_id

blp = Blueprint(
    "waves",
    __name__,
    url_prefix="/api/v1/waves",
    description="Survey waves: a period, a questionnaire version and its targets.",
)
SLUG = validate.Regexp(
    r"^[a-z0-9][a-z0-9-]{1,78}$", error="lowercase letters, digits and dashes, 2 to 79 characters"
)


class WaveIn(Schema):
    slug = fields.String(required=True, validate=SLUG)
    title = fields.String(required=True, validate=validate.Length(1, 200))
    questionnaire_id = row_id(required=True)
    opens_at = fields.AwareDateTime(load_default=None)
    closes_at = fields.AwareDateTime(load_default=None)
    program_ids = fields.List(row_id(), load_default=list)
    cohort_ids = fields.List(row_id(), load_default=list)


class WaveOut(Schema):
    id = fields.Integer()
    slug = fields.String()
    title = fields.String()
    questionnaire_id = fields.Integer()
    status = fields.String()
    opens_at = fields.DateTime(allow_none=True)
    closes_at = fields.DateTime(allow_none=True)
    opened_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    scope = fields.Dict()
    open_link = fields.Method("link")
    counts = fields.Method("summary")
    overlaps = fields.Method(
        "overlapping", metadata={"description": "draft or open waves tracing some of the "
                                 "same alumni: a warning, not a refusal"})
    indicators = fields.Method(
        "coverage", metadata={"description": "which indicators the wave's questionnaire "
                              "collects (`collected`) and which it does not "
                              "(`not_collected`: reported as not collected, never as zero)"})

    def link(self, wave: Wave) -> str:
        return open_link(wave.slug)

    def summary(self, wave: Wave) -> dict[str, int]:
        return waves.wave_summary(db.session(), wave)

    def overlapping(self, wave: Wave) -> list[dict[str, Any]]:
        return waves.overlaps_of(db.session(), wave)

    def coverage(self, wave: Wave) -> dict[str, list[str]]:
        try:
            return waves.indicator_coverage(wave.questionnaire.definition).as_json()
        except waves.SurveyError:  # stored before its mapping was checked: nothing usable
            return {"collected": [], "not_collected": []}


def open_link(slug: str) -> str:
    base = applied().base_url  # the admin's public URL (shared/centre.py)
    return f"{base}/survey/w/{slug}"


def _wave(slug: str) -> Wave:
    found = db.session().scalar(select(Wave).where(Wave.slug == slug))
    if found is None:
        abort(404, message="no wave with this slug")
    return found


@blp.route("")
class Waves(MethodView):
    @auth.requires("viewer")
    @blp.response(200, WaveOut(many=True))
    def get(self) -> Any:
        """All waves, newest first."""
        return db.session().scalars(select(Wave).order_by(Wave.created_at.desc())).all()

    @auth.requires("operator")
    @blp.arguments(WaveIn)
    @blp.response(201, WaveOut)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a wave (draft). Open it to fix its targets."""
        session = db.session()
        try:
            wave = waves.create_wave(session, **body)
        except waves.SurveyError as exc:
            abort_domain(exc)
        auth.audit(session, auth.current_principal().name, "wave.create", wave.slug)
        session.commit()
        return wave


@blp.route("/<slug>")
class WaveBySlug(MethodView):
    @auth.requires("viewer")
    @blp.response(200, WaveOut)
    def get(self, slug: str) -> Any:
        """One wave with its counts."""
        return _wave(slug)


@blp.route("/<slug>/<any(open, close):action>")
class WaveAction(MethodView):
    @auth.requires("operator")
    @blp.response(200, WaveOut)
    def post(self, slug: str, action: str) -> Any:
        """Open the wave (fixes its target alumni, the population, and emits wave.opened) or
        close it (it refuses answers from then on)."""
        session = db.session()
        wave = _wave(slug)
        try:
            population = waves.open_wave(session, wave) if action == "open" else None
            if action == "close":
                waves.close_wave(session, wave)
        except waves.SurveyError as exc:
            abort_domain(exc)
        auth.audit(session, auth.current_principal().name, f"wave.{action}", slug,
                   population=population)
        session.commit()
        return wave


@blp.route("/<slug>/poster.pdf")
class WavePoster(MethodView):
    @auth.requires("operator")
    @blp.response(200, description="A4 poster: centre, wave title, QR of the open link, the "
                  "link written out, what to bring", content_type="application/pdf")
    def get(self, slug: str) -> Any:
        """A printable QR poster of the wave's open link (PDF)."""
        from services.survey.poster import poster_pdf

        wave = _wave(slug)
        settings = applied(session=db.session())
        return HttpResponse(
            poster_pdf(settings.centre, wave.title, open_link(wave.slug)),
            mimetype="application/pdf",
            headers={"Content-Disposition": f"inline; filename=poster-{wave.slug}.pdf"},
        )


@blp.route("/<slug>/qr.<any(png, svg):kind>")
class WaveQr(MethodView):
    @auth.requires("operator")
    @blp.response(200, description="QR code of the wave's open link, PNG or SVG")
    def get(self, slug: str, kind: str) -> Any:
        """The open link as a QR code for posters and events."""
        code = segno.make(open_link(_wave(slug).slug), error="m")
        buffer = io.BytesIO()
        if kind == "png":
            code.save(buffer, kind="png", scale=10, border=4)
            mimetype = "image/png"
        else:
            code.save(buffer, kind="svg", scale=10, border=4, xmldecl=True)
            mimetype = "image/svg+xml"
        return HttpResponse(
            buffer.getvalue(),
            mimetype=mimetype,
            headers={"Content-Disposition": f"inline; filename={slug}-qr.{kind}"},
        )
