"""Outreach pages: campaigns for staff, the one-click unsubscribe page, provider webhooks."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from typing import Any

import redis
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import or_, select, update

from services.outreach import campaigns, chat, delivery, pacing, reports, templating, webhooks
from services.outreach.campaigns import CHANNELS
from services.outreach.step_editor import save_steps, take_action
from shared import auth, db
from shared.centre import applied
from shared.event_types import MessageStatus
from shared.events import publish
from shared.models import Alumnus, Campaign, Message, OptOut, Wave, utcnow
from shared.tokens import unseal
from shared.web import filter_id, form_row_id

log = logging.getLogger(__name__)
bp = Blueprint("outreach_web", __name__)


def _settings() -> Any:
    return applied()  # shared/centre.py: the admin's public URL, quiet hours, centre


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
    alumnus_id = filter_id(request.args.get("alumnus_id"), "alumnus_id")
    settings = _settings()  # once per page: the waiting sentence and the preview share it
    return render_template(
        "outreach/detail.html",
        campaign=campaign,
        steps=steps,
        totals=_totals(steps),
        people=reports.people_reached(session, campaign),
        waiting=next_sending_text(reports.waiting(session, campaign, settings),
                                  settings=settings),
        attribution=reports.attribution(session, campaign),
        preview=reports.preview(session, campaign, settings, alumnus_id),
        channels=campaigns.STEP_CHANNELS,
    )


def next_sending_text(waiting: pacing.NextSending, now: datetime | None = None,
                      settings: Any = None) -> str:
    """The campaign page's sentence for `reports.waiting`, in the page's language, with the
    time in the centre's zone ("07:00 WITA"), and the day when it is not today. `settings`:
    the page's `applied()` settings when it has them already."""
    quiet, timezone = pacing.quiet_hours_of(settings or _settings())
    when = ""
    if waiting.at is not None:
        local, clock_text = pacing.local_clock(waiting.at, timezone)
        today = pacing.local_clock(now or utcnow(), timezone)[0].date()
        if local.date() == today:
            when = clock_text
        elif (local.date() - today).days == 1:
            when = _("tomorrow at %(clock)s", clock=clock_text)
        else:
            when = _("%(date)s at %(clock)s", date=f"{local:%d-%m-%Y}", clock=clock_text)
    if waiting.reason == "quiet_hours":
        window = "–".join(f"{part:%H:%M}" for part in quiet) if quiet else ""
        return _("Next sending at %(when)s: quiet hours (%(window)s), when no message goes "
                 "out.", when=when, window=window)
    if waiting.reason == "rate_limit":
        finish = pacing.local_clock(waiting.finish, timezone)[1] if waiting.finish else ""
        return _("Sending now, held to each channel's rate limit (messages per second): the "
                 "messages due now are all out by about %(finish)s.", finish=finish)
    texts = {
        "draft": _("Not launched yet: nothing is sent."),
        "paused": _("Paused: nothing is sent until you resume."),
        "done": _("Nothing left to send."),
        "now": _("Sending now."),
        "scheduled": _("Next sending at %(when)s: the day of the next step.", when=when),
        "retry": _("Next sending at %(when)s: a message that failed is tried again.",
                   when=when),
    }
    return texts[waiting.reason]


@bp.route("/campaigns/<int:campaign_id>/steps", methods=["POST"])
@auth.requires("operator")
def edit_steps(campaign_id: int) -> Any:
    """The page's step editor: the same rule as `PUT /api/v1/campaigns/<id>/steps`."""
    session = db.session()
    campaign = session.get(Campaign, campaign_id) or abort(404)
    save_steps(session, lambda steps: campaigns.replace_steps(session, campaign, steps),
               lambda **details: auth.audit(session, auth.current_principal().name,
                                            "campaign.steps", str(campaign_id), **details))
    return redirect(url_for(".detail", campaign_id=campaign_id))


@bp.route("/campaigns/<int:campaign_id>/<any(launch, pause, resume):action>", methods=["POST"])
@auth.requires("operator")
def act(campaign_id: int, action: str) -> Any:
    session = db.session()
    campaign = session.get(Campaign, campaign_id) or abort(404)
    take_action(session, campaigns, campaign, action, lambda: auth.audit(
        session, auth.current_principal().name, f"campaign.{action}", str(campaign_id)))
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


@bp.route("/waves/<int:wave_id>/alumni/<int:alumnus_id>/chat", methods=["POST"])
@auth.requires("operator")
def open_chat(wave_id: int, alumnus_id: int) -> Any:
    """From the call list's WhatsApp button: the step's message for the alumnus, opened in
    WhatsApp on the staff phone (services/outreach/chat.py). Audited: the text carries the
    personal link."""
    session = db.session()
    wave = session.get(Wave, wave_id)
    if wave is None:
        abort(404)
    principal = auth.current_principal()
    try:
        address = chat.chat_address(session, wave, alumnus_id, _settings(),
                                    user_id=principal.user_id or 0)
    except campaigns.OutreachError as exc:
        if exc.status == 404:
            abort(404)
        flash(exc.message, "error")
        return redirect(request.referrer or url_for(".index"))
    except templating.TemplateProblem as exc:
        flash(_("The step's message cannot be written: %(problem)s", problem=str(exc)), "error")
        return redirect(request.referrer or url_for(".index"))
    auth.audit(session, principal.name, "alumnus.chat_open", f"alumnus:{alumnus_id}",
               wave=wave.slug)
    session.commit()
    response = redirect(address, 303)
    response.headers["Cache-Control"] = "no-store"
    return response


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
    """The SMS gateway: `X-Signature` over `<X-Timestamp>.<body>`; an old or copied request is
    refused (401 stale, 409 seen) and nothing in it is applied again (webhooks.py)."""
    secret = _settings().sms_webhook_secret
    body = request.get_data()
    request_id = secret and webhooks.verify_sms(
        secret, body, request.headers.get("X-Signature"), request.headers.get("X-Timestamp"),
        time.time())
    if not request_id:
        abort(401)
    statuses, inbound = webhooks.parse_sms(json.loads(body or b"{}"))
    if not statuses and not inbound:
        return {"ok": True}  # nothing to apply, nothing to replay
    # One id for the whole request: the gateway signed it as one.
    items = [*statuses, *inbound]
    return _apply_once([(request_id, item) for item in items], "sms",
                       webhooks.SMS_SEEN_SECONDS, offered=len(items))


@bp.route("/webhooks/whatsapp", methods=["GET", "POST"])
@auth.public
def whatsapp_webhook() -> Any:
    """Meta's handshake (GET, our own verify token) and the Cloud API's signed callbacks: a
    status or message without an id, older than 7 days or seen before is not applied; a
    request with nothing else in it is refused (409)."""
    settings = _settings()
    if request.method == "GET":
        if request.args.get("hub.mode") == "subscribe" and webhooks.verify_token_matches(
            settings.whatsapp_verify_token, request.args.get("hub.verify_token")
        ):
            return request.args.get("hub.challenge", ""), 200, {"Content-Type": "text/plain"}
        abort(403)
    body = request.get_data()
    if not settings.whatsapp_app_secret or not webhooks.verify_hmac_sha256(
        settings.whatsapp_app_secret, body, request.headers.get("X-Hub-Signature-256")
    ):
        abort(401)
    statuses, inbound = webhooks.parse_whatsapp(json.loads(body or b"{}"))
    if not statuses and not inbound:
        return {"ok": True}  # another field (account, templates): nothing to apply or replay
    now = time.time()
    items = [*statuses, *inbound]
    claims = [(item.event_id, item) for item in items
              if item.event_id and webhooks.fresh(item.at, now, webhooks.WHATSAPP_WINDOW)]
    return _apply_once(claims, "whatsapp", webhooks.WHATSAPP_SEEN_SECONDS, offered=len(items))


def _apply_once(claims: list[tuple[str, Any]], channel: str, seconds: int,
                offered: int) -> Any:
    """Apply the items (`StatusUpdate`, `InboundText`) whose id was never claimed, claiming
    it for `seconds`; 409 when none is left of the `offered` ones. A failure releases the
    claims, so the provider's retry is applied; no Redis, no check: 503 and a retry."""
    refused = {"error": "replayed or stale: already applied, or too old", "refused": offered}
    if not claims:
        return refused, 409
    try:
        seen = _seen_ids(_settings().redis_url)
        new = seen.claim(list(dict.fromkeys(id_ for id_, _item in claims)), seconds)
    except (redis.RedisError, ValueError):  # ValueError: no Redis URL configured
        log.warning("webhook %s: cannot check for replays in Redis", channel)
        return {"error": "replay check unavailable, retry later"}, 503, {"Retry-After": "30"}
    applied = [item for id_, item in claims if id_ in new]
    if not applied:
        return refused, 409
    try:
        _apply([item for item in applied if isinstance(item, webhooks.StatusUpdate)],
               [item for item in applied if isinstance(item, webhooks.InboundText)], channel)
    except BaseException:
        seen.release(new)
        raise
    return {"ok": True}


def _seen_ids(redis_url: str) -> webhooks.SeenIds:
    """One Redis client per app (and URL); ids kept apart per JEJAK_LIMIT_SCOPE, like the
    rate-limit counters (tests run several apps on one Redis)."""
    cached = current_app.extensions.get("jejak_webhook_seen")
    if cached is None or cached[0] != redis_url:
        if not redis_url:
            raise ValueError("no JEJAK_REDIS_URL")
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        scope = current_app.config.get("JEJAK_LIMIT_SCOPE", "")
        cached = (redis_url, webhooks.SeenIds(client, f"jejak:webhook-seen:{scope}"))
        current_app.extensions["jejak_webhook_seen"] = cached
    return cached[1]


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
        publish(session, MessageStatus(message_id=message.id, alumnus_id=message.alumnus_id,
                                       status=message.status))
    for text in inbound:
        if webhooks.is_stop_word(text.text):
            alumnus_id = session.scalar(select(Alumnus.id).where(Alumnus.phone == text.sender_e164))
            for phone_channel in ("sms", "whatsapp"):
                opt_out(session, alumnus_id, phone_channel, text.sender_e164, f"{channel}_stop")
    session.commit()
