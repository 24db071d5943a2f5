"""Outreach pages: campaigns for staff, the one-click unsubscribe page, provider webhooks."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import or_, select, update

from services.outreach import campaigns, delivery, reports, webhooks
from services.outreach.campaigns import CHANNELS
from shared import auth, db
from shared.events import publish
from shared.models import Alumnus, Campaign, Message, OptOut, Wave, utcnow
from shared.tokens import unseal
from shared.web import form_row_id

log = logging.getLogger(__name__)
bp = Blueprint("outreach_web", __name__)


def _settings() -> Any:
    return current_app.config["JEJAK_SETTINGS"]


# --- staff pages ------------------------------------------------------------------------


@bp.route("/")
@auth.requires("operator")
def index() -> Any:
    session = db.session()
    rows = session.scalars(select(Campaign).order_by(Campaign.id.desc())).all()
    totals = {c.id: _totals(delivery.counts_by_status(session, c.id)) for c in rows}
    waves = session.scalars(select(Wave).where(Wave.status == "open")).all()
    return render_template("outreach/index.html", campaigns=rows, totals=totals, waves=waves)


def _totals(steps: list[dict[str, Any]]) -> dict[str, int]:
    keys = (
        "planned",
        "queued",
        "sent",
        "delivered",
        "failed",
        "cancelled_answered",
        "opted_out",
        "no_contact",
        "in_doubt",
    )
    return {key: sum(step[key] for step in steps) for key in keys}


@bp.route("/campaigns", methods=["POST"])
@auth.requires("operator")
def create() -> Any:
    session = db.session()
    try:
        wave_id = form_row_id(request.form["wave_id"], "wave_id")
        campaign = campaigns.create_campaign(
            session,
            name=request.form.get("name", "").strip() or _("Tracer study invitations"),
            wave_id=wave_id,
            language=request.form.get("language", "id"),
            segment={"dispositions": request.form.getlist("dispositions")},
            created_by=auth.current_principal().user_id,
        )
    except (KeyError, ValueError, campaigns.OutreachError) as exc:
        flash(getattr(exc, "message", _("Choose a wave.")), "error")
        return redirect(url_for(".index"))
    auth.audit(session, auth.current_principal().name, "campaign.create", campaign.name)
    session.commit()
    return redirect(url_for(".detail", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>")
@auth.requires("operator")
def detail(campaign_id: int) -> Any:
    session = db.session()
    campaign = session.get(Campaign, campaign_id) or abort(404)
    steps = delivery.counts_by_status(session, campaign.id)
    return render_template(
        "outreach/detail.html",
        campaign=campaign,
        steps=steps,
        totals=_totals(steps),
        attribution=reports.attribution(session, campaign),
        preview=reports.preview(session, campaign, _settings()),
    )


@bp.route("/campaigns/<int:campaign_id>/<any(launch, pause, resume):action>", methods=["POST"])
@auth.requires("operator")
def act(campaign_id: int, action: str) -> Any:
    session = db.session()
    campaign = session.get(Campaign, campaign_id) or abort(404)
    try:
        if action == "launch":
            planned = campaigns.launch(session, campaign, _settings())
            flash(_("Launched: %(n)d messages planned.", n=planned), "ok")
        elif action == "pause":
            campaigns.pause(campaign)
            flash(_("Paused. Nothing more is sent until you resume."), "ok")
        else:
            campaigns.resume(campaign)
            flash(_("Resumed where it stopped."), "ok")
    except campaigns.OutreachError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".detail", campaign_id=campaign_id))
    auth.audit(session, auth.current_principal().name, f"campaign.{action}", str(campaign_id))
    session.commit()
    return redirect(url_for(".detail", campaign_id=campaign_id))


# --- unsubscribe (no login) -------------------------------------------------------------


def opt_out(session: Any, alumnus_id: int | None, channel: str, address: str, source: str) -> bool:
    """Record an opt-out (once) and stop the pending messages it covers."""
    exists = session.scalar(
        select(OptOut.id).where(OptOut.channel == channel, OptOut.address == address)
    )
    if exists is None:
        session.add(
            OptOut(
                channel=channel,
                address=address,
                alumnus_id=alumnus_id,
                source=source,
                created_at=utcnow(),
            )
        )
    session.execute(
        update(Message)
        .where(
            Message.channel == channel,
            Message.status.in_(("planned", "queued")),
            or_(Message.address == address, Message.alumnus_id == alumnus_id),
        )
        .values(status="skipped", cancel_reason="opted_out")
        .execution_options(synchronize_session=False)
    )
    return exists is None


@bp.route("/u/<token>", methods=["GET", "POST"])
@auth.public
def unsubscribe(token: str) -> Any:
    ids = unseal(_settings().secret_key, "unsubscribe", token, 2)
    if ids is None or ids[1] >= len(CHANNELS):
        return render_template("outreach/unsubscribe.html", state="invalid"), 404
    alumnus_id, channel = ids[0], CHANNELS[ids[1]]
    session = db.session()
    alumnus = session.get(Alumnus, alumnus_id)
    address = alumnus and (alumnus.email if channel == "email" else alumnus.phone)
    if not address:
        return render_template("outreach/unsubscribe.html", state="invalid"), 404
    if request.method == "POST":  # the button, or a mail client's one-click POST
        opt_out(session, alumnus_id, channel, address, "link")
        session.commit()
        return render_template("outreach/unsubscribe.html", state="done", channel=channel)
    return render_template("outreach/unsubscribe.html", state="ask", channel=channel)


# --- provider webhooks (signed) ---------------------------------------------------------


@bp.route("/webhooks/sms", methods=["POST"])
@auth.public
def sms_webhook() -> Any:
    secret = _settings().sms_webhook_secret
    body = request.get_data()
    if not secret or not webhooks.verify_hmac_sha256(
        secret, body, request.headers.get("X-Signature")
    ):
        abort(401)
    statuses, inbound = webhooks.parse_sms(json.loads(body or b"{}"))
    _apply(statuses, inbound, "sms")
    return {"ok": True}


@bp.route("/webhooks/whatsapp", methods=["GET", "POST"])
@auth.public
def whatsapp_webhook() -> Any:
    settings = _settings()
    if request.method == "GET":  # Meta's subscription check
        if (
            request.args.get("hub.verify_token") == settings.whatsapp_app_secret
            and settings.whatsapp_app_secret
        ):
            return request.args.get("hub.challenge", "")
        abort(403)
    body = request.get_data()
    if not settings.whatsapp_app_secret or not webhooks.verify_hmac_sha256(
        settings.whatsapp_app_secret, body, request.headers.get("X-Hub-Signature-256")
    ):
        abort(401)
    statuses, inbound = webhooks.parse_whatsapp(json.loads(body or b"{}"))
    _apply(statuses, inbound, "whatsapp")
    return {"ok": True}


def _apply(statuses: list[Any], inbound: list[Any], channel: str) -> None:
    session = db.session()
    for update_ in statuses:
        message = (
            session.scalar(
                select(Message).where(Message.provider_message_id == update_.provider_id)
            )
            if update_.provider_id
            else None
        )
        if message is None and update_.message_id is not None:
            message = session.get(Message, update_.message_id)
        if message is None or message.channel != channel:
            continue
        if update_.status == "delivered" and message.status in ("sent", "sending", "in_doubt"):
            message.status, message.delivered_at = "delivered", utcnow()
        elif update_.status == "failed" and message.status != "failed":
            message.status, message.failed_reason = "failed", (update_.reason or "failed")[:500]
        else:
            continue
        publish(
            session,
            "message.status",
            {"message_id": message.id, "alumnus_id": message.alumnus_id, "status": message.status},
        )
    for text in inbound:
        if webhooks.is_stop_word(text.text):
            alumnus_id = session.scalar(select(Alumnus.id).where(Alumnus.phone == text.sender_e164))
            for phone_channel in ("sms", "whatsapp"):
                opt_out(session, alumnus_id, phone_channel, text.sender_e164, f"{channel}_stop")
    session.commit()
