"""Campaigns API: create, launch, pause, resume, preview, status."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from services.outreach import campaigns, delivery, reports
from shared import auth, db
from shared.centre import applied
from shared.models import Campaign
from shared.web import abort_domain, get_or_404, row_id

blp = Blueprint(
    "campaigns",
    __name__,
    url_prefix="/api/v1/campaigns",
    description="Invitation and reminder sequences, and broadcasts.",
)


class TemplateText(Schema):
    # The sources are bounded as well as what they render (templating.MAX_RENDERED).
    subject = fields.String(load_default=None, validate=validate.Length(max=1000))
    body = fields.String(required=True, validate=validate.Length(1, 5000))


class StepIn(Schema):
    day_offset = fields.Integer(required=True, validate=validate.Range(0, 365))
    channel = fields.String(required=True, validate=validate.OneOf(campaigns.STEP_CHANNELS))
    template = fields.Dict(
        keys=fields.String(validate=validate.OneOf(("id", "en"))),
        values=fields.Nested(TemplateText),
        required=True,
    )


class SegmentIn(Schema):
    program_ids = fields.List(row_id(), load_default=list)
    cohort_ids = fields.List(row_id(), load_default=list)
    genders = fields.List(fields.String(validate=validate.OneOf(("L", "P"))), load_default=list)
    dispositions = fields.List(
        fields.String(validate=validate.OneOf(campaigns.DISPOSITIONS)), load_default=list
    )


class CampaignIn(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    wave_id = row_id(load_default=None, metadata={"description": "empty: a broadcast"})
    segment = fields.Nested(SegmentIn, load_default=dict)
    steps = fields.List(
        fields.Nested(StepIn),
        load_default=None,
        metadata={
            "description": "empty: invitation on day 0 by email, "
            "reminders on days 4 (email), 11 (WhatsApp), 25 (SMS), "
            "40 (email)"
        },
    )
    language = fields.String(load_default="id", validate=validate.OneOf(("id", "en")))


class StepOut(Schema):
    position = fields.Integer()
    day_offset = fields.Integer()
    channel = fields.String()
    template = fields.Dict()


class CampaignOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    wave_id = fields.Integer(allow_none=True)
    status = fields.String()
    language = fields.String()
    segment = fields.Dict()
    launched_at = fields.DateTime(allow_none=True)
    steps = fields.List(fields.Nested(StepOut))


class StepsIn(Schema):
    steps = fields.List(fields.Nested(StepIn), required=True, validate=validate.Length(1, 20))


class PreviewQuery(Schema):
    alumnus_id = row_id(load_default=None)


def _campaign(campaign_id: int) -> Campaign:
    return get_or_404(Campaign, campaign_id, "campaign")


def _settings() -> Any:
    return applied()  # shared/centre.py: the admin's public URL, quiet hours, centre


@blp.route("")
class Campaigns(MethodView):
    @auth.requires("operator")
    @blp.response(200, CampaignOut(many=True))
    def get(self) -> Any:
        """Every campaign, newest first."""
        return db.session().scalars(select(Campaign).order_by(Campaign.id.desc())).all()

    @auth.requires("operator")
    @blp.arguments(CampaignIn)
    @blp.response(201, CampaignOut)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a draft campaign (launch it to start sending)."""
        session = db.session()
        try:
            campaign = campaigns.create_campaign(
                session, created_by=auth.current_principal().user_id, **body
            )
        except campaigns.OutreachError as exc:
            abort_domain(exc)
        auth.audit(session, auth.current_principal().name, "campaign.create", campaign.name)
        session.commit()
        return campaign


@blp.route("/<int:campaign_id>")
class CampaignById(MethodView):
    @auth.requires("operator")
    @blp.response(200, CampaignOut)
    def get(self, campaign_id: int) -> Any:
        """One campaign with its steps."""
        return _campaign(campaign_id)


@blp.route("/<int:campaign_id>/<any(launch, pause, resume):action>")
class CampaignAction(MethodView):
    @auth.requires("operator")
    @blp.response(200, CampaignOut)
    def post(self, campaign_id: int, action: str) -> Any:
        """Launch (checks every template first), pause or resume; resuming never resends."""
        session = db.session()
        campaign = _campaign(campaign_id)
        try:
            if action == "launch":
                planned = campaigns.launch(session, campaign, _settings())
            elif action == "pause":
                campaigns.pause(campaign)
                planned = None
            else:
                campaigns.resume(campaign)
                planned = None
        except campaigns.OutreachError as exc:
            abort_domain(exc)
        auth.audit(
            session,
            auth.current_principal().name,
            f"campaign.{action}",
            str(campaign_id),
            planned=planned,
        )
        session.commit()
        return campaign


@blp.route("/<int:campaign_id>/steps")
class CampaignSteps(MethodView):
    @auth.requires("operator")
    @blp.arguments(StepsIn)
    @blp.response(200, CampaignOut)
    def put(self, body: dict[str, Any], campaign_id: int) -> Any:
        """Replace the steps (day, channel, message per language) of a draft campaign;
        409 once launched."""
        session = db.session()
        campaign = _campaign(campaign_id)
        try:
            campaigns.replace_steps(session, campaign, body["steps"])
        except campaigns.OutreachError as exc:
            abort_domain(exc)
        auth.audit(session, auth.current_principal().name, "campaign.steps", str(campaign_id),
                   steps=len(body["steps"]))
        session.commit()
        return campaign


@blp.route("/<int:campaign_id>/preview")
class CampaignPreview(MethodView):
    @auth.requires("operator")
    @blp.arguments(PreviewQuery, location="query")
    @blp.response(200)
    def get(self, query: dict[str, Any], campaign_id: int) -> Any:
        """Every step rendered for one real recipient (the first, or `alumnus_id`), with the
        personal links masked; the segment's size now and its first ten (`sample`)."""
        session = db.session()
        campaign = _campaign(campaign_id)
        return reports.preview(session, campaign, _settings(), query.get("alumnus_id"))


@blp.route("/<int:campaign_id>/status")
class CampaignStatus(MethodView):
    @auth.requires("operator")
    @blp.response(200)
    def get(self, campaign_id: int) -> Any:
        """Per step: planned, sent, delivered, failed by reason, cancelled because answered,
        opted out; the responses attributed to each step; how many alumni the campaign has
        messages for; when the next message may go and why not sooner (`next_sending.reason`:
        draft, paused, done, now, scheduled, retry, quiet_hours, rate_limit)."""
        session = db.session()
        campaign = _campaign(campaign_id)
        waiting = reports.waiting(session, campaign, _settings())
        return {
            "campaign_id": campaign.id,
            "status": campaign.status,
            "alumni": reports.people_reached(session, campaign),
            "next_sending": {
                "reason": waiting.reason,
                "at": waiting.at.isoformat() if waiting.at else None,
                "finish": waiting.finish.isoformat() if waiting.finish else None,
            },
            "steps": delivery.counts_by_status(session, campaign.id),
            "responses_by_step": reports.attribution(session, campaign),
        }
