"""Wave follow-up API: late alumni, reopening, who has not answered, one alumnus's contact,
invitation and link. The staff pages (services/survey/wave_pages.py) call the same
functions, so both doors apply the same rules."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from services.survey import followup, waves
from shared import auth, db
from shared.models import Wave
from shared.web import abort_domain, row_id

blp = Blueprint(
    "wave_followup", __name__, url_prefix="/api/v1/waves",
    description="A wave's targets after opening, reopening, and the follow-up of its alumni.",
)


def _wave(slug: str) -> Wave:
    found = db.session().scalar(select(Wave).where(Wave.slug == slug))
    if found is None:
        abort(404, message="no wave with this slug")
    return found


class TargetsIn(Schema):
    program_ids = fields.List(row_id(), load_default=list)
    cohort_ids = fields.List(row_id(), load_default=list)
    alumnus_ids = fields.List(row_id(), load_default=list)
    registration_nos = fields.List(fields.String(validate=validate.Length(1, 64)),
                                   load_default=list)
    dry_run = fields.Boolean(load_default=False,
                             metadata={"description": "true: only say how many"})


class TargetsOut(Schema):
    count = fields.Integer(metadata={"description": "alumni added (or, dry run, to add)"})
    in_other_open_waves = fields.Integer()
    unknown_registration_nos = fields.List(fields.String())
    population = fields.Integer()


@blp.route("/<slug>/targets")
class WaveTargets(MethodView):
    @auth.requires("operator")
    @blp.arguments(TargetsIn)
    @blp.response(200, TargetsOut)
    def post(self, body: dict[str, Any], slug: str) -> Any:
        """Add alumni imported after the wave opened (by program, cohort or a list); with
        `dry_run`, only count them. Emits wave.targets_added: outreach invites them."""
        session = db.session()
        wave = _wave(slug)
        ids, unknown = waves.alumni_by_registration(session, body["registration_nos"])
        chosen = {"program_ids": body["program_ids"], "cohort_ids": body["cohort_ids"],
                  "alumnus_ids": body["alumnus_ids"] + ids}
        try:
            preview = waves.preview_targets(session, wave, **chosen)
            if not body["dry_run"]:
                added = waves.add_targets(session, wave, **chosen)
                preview["count"] = len(added)
                auth.audit(session, auth.current_principal().name, "wave.targets_add", slug,
                           added=len(added), **chosen)
                session.commit()
        except waves.SurveyError as exc:
            abort_domain(exc)
        population = waves.wave_summary(session, wave)["population"]
        return {**preview, "unknown_registration_nos": unknown, "population": population}


class ReopenIn(Schema):
    closes_at = fields.AwareDateTime(load_default=None)


@blp.route("/<slug>/reopen")
class WaveReopen(MethodView):
    @auth.requires("operator")
    @blp.arguments(ReopenIn)
    @blp.response(200, description="the wave is open again")
    def post(self, body: dict[str, Any], slug: str) -> Any:
        """Undo a close, while no PDF or XLSX report of the wave was made after closing."""
        session = db.session()
        wave = _wave(slug)
        try:
            waves.reopen_wave(session, wave, closes_at=body["closes_at"])
        except waves.SurveyError as exc:
            abort_domain(exc)
        auth.audit(session, auth.current_principal().name, "wave.reopen", slug)
        session.commit()
        return {"slug": wave.slug, "status": wave.status,
                "closes_at": wave.closes_at.isoformat() if wave.closes_at else None}


class FollowupArgs(Schema):
    program = row_id(load_default=None)
    cohort = row_id(load_default=None)
    gender = fields.String(load_default=None, validate=validate.OneOf(("L", "P")))
    status = fields.String(load_default=None, validate=validate.OneOf(
        (followup.NOT_ANSWERED, *followup.STATUSES)))
    page = fields.Integer(load_default=1, validate=validate.Range(1, 1_000_000))


class FollowupRow(Schema):
    alumnus_id = fields.Integer()
    registration_no = fields.String()
    full_name = fields.String(allow_none=True)
    gender = fields.String()
    program = fields.String()
    cohort = fields.String()
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    status = fields.String()


class FollowupOut(Schema):
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    items = fields.List(fields.Nested(FollowupRow))
    page = fields.Integer()
    has_next = fields.Boolean()


def _filters(args: dict[str, Any]) -> followup.Filters:
    return followup.Filters(args["program"], args["cohort"], args["gender"], args["status"])


@blp.route("/<slug>/alumni")
class WaveFollowup(MethodView):
    @auth.requires("operator")
    @blp.arguments(FollowupArgs, location="query")
    @blp.response(200, FollowupOut)
    def get(self, args: dict[str, Any], slug: str) -> Any:
        """Each target's status (not_invited, invited, opened, partial, complete, opted_out,
        unreachable, erased; `not_answered` = invited + opened + partial), filtered, with the
        counts per status, 50 per page: the follow-up page's query."""
        session = db.session()
        wave = _wave(slug)
        filters = _filters(args)
        rows, has_next, counts = followup.page_and_counts(session, wave.id, filters,
                                                          args["page"])
        return {"counts": counts,
                "items": [row._asdict() for row in rows], "page": args["page"],
                "has_next": has_next}


@blp.route("/<slug>/alumni.<any(csv, xlsx):kind>")
class WaveFollowupFile(MethodView):
    @auth.requires("operator")
    @blp.arguments(FollowupArgs, location="query")
    @blp.response(200, description="the filtered list, Indonesian headers (audited)")
    def get(self, args: dict[str, Any], slug: str, kind: str) -> Any:
        """The filtered list as CSV or XLSX, formula-safe."""
        return download_answer(db.session(), _wave(slug), _filters(args), kind)


def download_answer(session: Any, wave: Any, filters: followup.Filters, kind: str) -> Any:
    """The filtered follow-up list as a CSV or XLSX download, audited: the API and the wave's
    page (services/survey/wave_pages.py) both answer with this."""
    body, count = followup.download(session, wave.id, filters, kind)
    auth.audit(session, auth.current_principal().name, "wave.followup_download", wave.slug,
               kind=kind, rows=count, **filters.args())
    session.commit()
    mimetype = ("text/csv" if kind == "csv" else
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=tindak-lanjut-{wave.slug}.{kind}")
    response.headers["Cache-Control"] = "no-store"
    return response


class AlumnusFollowupOut(Schema):
    alumnus_id = fields.Integer()
    status = fields.String()
    waves = fields.List(fields.String(), metadata={"description": "slugs of its waves"})
    answers = fields.Dict(allow_none=True)
    response_status = fields.String(allow_none=True)


class ContactIn(Schema):
    phone = fields.String(load_default=None, metadata={"description": "empty clears it"})
    email = fields.String(load_default=None, metadata={"description": "empty clears it"})


class InvitationIn(Schema):
    channel = fields.String(required=True, validate=validate.OneOf(followup.CHANNELS))


def _target(wave: Wave, alumnus_id: int) -> Any:
    try:
        return followup.target_alumnus(db.session(), wave, alumnus_id)
    except waves.SurveyError as exc:
        abort_domain(exc)


@blp.route("/<slug>/alumni/<int:alumnus_id>")
class WaveAlumnus(MethodView):
    @auth.requires("operator")
    @blp.response(200, AlumnusFollowupOut)
    def get(self, slug: str, alumnus_id: int) -> Any:
        """One target: status, the waves it is in, its answers."""
        session = db.session()
        wave = _wave(slug)
        _target(wave, alumnus_id)
        response = followup.answers_of(session, wave.id, alumnus_id)
        return {"alumnus_id": alumnus_id,
                "status": followup.status_of(session, wave.id, alumnus_id),
                "waves": [w.slug for w in waves.waves_of_alumnus(session, alumnus_id)],
                "answers": response.answers if response else None,
                "response_status": response.status if response else None}


@blp.route("/<slug>/alumni/<int:alumnus_id>/contact")
class WaveAlumnusContact(MethodView):
    @auth.requires("operator")
    @blp.arguments(ContactIn)
    @blp.response(200, description="what changed, old and new")
    def patch(self, body: dict[str, Any], slug: str, alumnus_id: int) -> Any:
        """Correct the phone and/or email, checked as the roster import checks them; the
        audit entry keeps the old value."""
        session = db.session()
        alumnus = _target(_wave(slug), alumnus_id)
        try:
            changes = followup.correct_contact(session, alumnus, **body)
        except waves.SurveyError as exc:
            abort_domain(exc)
        if changes:
            auth.audit(session, auth.current_principal().name, "alumnus.contact_correct",
                       f"alumnus:{alumnus_id}", **changes)
        session.commit()
        return {"changed": sorted(changes)}


@blp.route("/<slug>/alumni/<int:alumnus_id>/invitation")
class WaveAlumnusInvitation(MethodView):
    @auth.requires("operator")
    @blp.arguments(InvitationIn)
    @blp.response(202, description="outreach sends it shortly")
    def post(self, body: dict[str, Any], slug: str, alumnus_id: int) -> Any:
        """Send the invitation again on a chosen channel (through outreach, once)."""
        session = db.session()
        try:
            followup.request_invitation(session, _wave(slug), alumnus_id, body["channel"])
        except waves.SurveyError as exc:
            abort_domain(exc)
        auth.audit(session, auth.current_principal().name, "alumnus.invitation_resend",
                   f"alumnus:{alumnus_id}", wave=slug, channel=body["channel"])
        session.commit()
        return {"queued": True}


@blp.route("/<slug>/alumni/<int:alumnus_id>/link")
class WaveAlumnusLink(MethodView):
    @auth.requires("operator")
    @blp.response(200, description="the personal link (audited)")
    def post(self, slug: str, alumnus_id: int) -> Any:
        """The alumnus's personal link for this wave, to pass on by hand."""
        session = db.session()
        settings = current_app.config["JEJAK_SETTINGS"]
        try:
            link = followup.personal_link(session, _wave(slug), alumnus_id,
                                          base_url=settings.base_url,
                                          secret_key=settings.secret_key)
        except waves.SurveyError as exc:
            abort_domain(exc)
        auth.audit(session, auth.current_principal().name, "alumnus.link_copy",
                   f"alumnus:{alumnus_id}", wave=slug)
        session.commit()
        return {"link": link}
