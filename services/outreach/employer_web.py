"""Employer campaign pages for staff (operator and admin), and a contact's opt-out link.

The pages follow the alumni campaign pages: a list with a form to start a campaign for a
wave, a campaign page with its steps (editable until launch), launch / pause / resume, the
messages counted by state, and the wave's contacts with a click-to-chat button. Every write
is audited and carries the session's CSRF token.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from services.outreach import employer_campaigns as campaigns
from services.outreach import employer_delivery, templating
from services.outreach.campaigns import STEP_CHANNELS, OutreachError
from services.outreach.step_editor import save_steps, take_action
from shared import auth, db
from shared.centre import applied
from shared.models import Employer, EmployerCampaign, EmployerContact, Wave
from shared.web import form_row_id

bp = Blueprint("outreach_employers", __name__)


def _names(session: Any, contact_ids: list[int]) -> list[dict[str, Any]]:
    """The contacts for the page: name, company, whether they have a phone (no address
    is shown: the page needs none)."""
    if not contact_ids:
        return []
    rows = session.execute(
        select(EmployerContact.id, EmployerContact.name, EmployerContact.phone,
               EmployerContact.email, Employer.name)
        .join(Employer, Employer.id == EmployerContact.employer_id)
        .where(EmployerContact.id.in_(contact_ids)).order_by(EmployerContact.name))
    return [{"id": row[0], "name": row[1], "has_phone": bool(row[2]),
             "has_email": bool(row[3]), "company": row[4]} for row in rows]


@bp.route("/employers")
@auth.requires("operator")
def index() -> Any:
    session = db.session()
    rows = session.scalars(select(EmployerCampaign).order_by(EmployerCampaign.id.desc())).all()
    totals = {row.id: campaigns.counts(session, row.id) for row in rows}
    waves = session.scalars(select(Wave).where(Wave.status == "open")).all()
    audience = {wave.id: len(campaigns.audience_contacts(session, wave.id)) for wave in waves}
    return render_template("outreach/employers.html", campaigns=rows, totals=totals,
                           waves=waves, audience=audience)


@bp.route("/employers", methods=["POST"])
@auth.requires("operator")
def create() -> Any:
    session = db.session()
    try:
        wave_id = form_row_id(request.form.get("wave_id"), "wave_id")
        campaign = campaigns.create_campaign(
            session, name=request.form.get("name", "").strip()[:200]
            or _("Employer survey invitations"),
            wave_id=wave_id, language=request.form.get("language", "id"),
            created_by=auth.current_principal().user_id)
    except ValueError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".index"))
    except OutreachError as exc:
        session.rollback()
        flash(_("Choose a wave.") if exc.field in ("wave_id", "language") else exc.message,
              "error")
        return redirect(url_for(".index"))
    auth.audit(session, auth.current_principal().name, "employer_campaign.create",
               str(campaign.id), wave=campaign.wave_id)
    session.commit()
    return redirect(url_for(".detail", employer_campaign_id=campaign.id))


@bp.route("/employers/<int:employer_campaign_id>")
@auth.requires("operator")
def detail(employer_campaign_id: int) -> Any:
    session = db.session()
    campaign = session.get(EmployerCampaign, employer_campaign_id) or abort(404)
    contacts = _names(session, campaigns.audience_contacts(session, campaign.wave_id))
    counts = campaigns.alumni_counts(session, campaign.wave_id)
    for contact in contacts:
        contact["alumni"] = counts.get(contact["id"], 0)
    return render_template(
        "outreach/employer_detail.html", campaign=campaign,
        wave=session.get(Wave, campaign.wave_id), totals=campaigns.counts(session, campaign.id),
        contacts=contacts, channels=STEP_CHANNELS)


@bp.route("/employers/<int:employer_campaign_id>/steps", methods=["POST"])
@auth.requires("operator")
def edit_steps(employer_campaign_id: int) -> Any:
    session = db.session()
    campaign = session.get(EmployerCampaign, employer_campaign_id) or abort(404)
    save_steps(session, lambda steps: campaigns.replace_steps(campaign, steps),
               lambda **details: auth.audit(session, auth.current_principal().name,
                                            "employer_campaign.steps",
                                            str(employer_campaign_id), **details))
    return redirect(url_for(".detail", employer_campaign_id=employer_campaign_id))


@bp.route("/employers/<int:employer_campaign_id>/<any(launch, pause, resume):action>",
          methods=["POST"])
@auth.requires("operator")
def act(employer_campaign_id: int, action: str) -> Any:
    session = db.session()
    campaign = session.get(EmployerCampaign, employer_campaign_id) or abort(404)
    take_action(session, campaigns, campaign, action, lambda: auth.audit(
        session, auth.current_principal().name, f"employer_campaign.{action}",
        str(employer_campaign_id)))
    return redirect(url_for(".detail", employer_campaign_id=employer_campaign_id))


@bp.route("/employers/<int:employer_campaign_id>/contacts/<int:contact_id>/chat",
          methods=["POST"])
@auth.requires("operator")
def open_chat(employer_campaign_id: int, contact_id: int) -> Any:
    """Click-to-chat: WhatsApp on the staff phone with the first message ready to send."""
    session = db.session()
    campaign = session.get(EmployerCampaign, employer_campaign_id) or abort(404)
    try:
        address = employer_delivery.chat_address(session, campaign, contact_id, applied())
    except OutreachError as exc:
        if exc.status == 404:
            abort(404)
        flash(exc.message, "error")
        return redirect(url_for(".detail", employer_campaign_id=employer_campaign_id))
    except templating.TemplateProblem as exc:
        flash(_("The step's message cannot be written: %(problem)s", problem=str(exc)),
              "error")
        return redirect(url_for(".detail", employer_campaign_id=employer_campaign_id))
    auth.audit(session, auth.current_principal().name, "employer.chat_open",
               f"contact:{contact_id}", campaign=employer_campaign_id)
    session.commit()
    response = redirect(address, 303)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/eu/<token>", methods=["GET", "POST"])
@auth.public
def unsubscribe(token: str) -> Any:
    """A contact's opt-out link from an employer message (the token is the credential)."""
    session = db.session()
    target = employer_delivery.unsubscribe_target(session, applied(), token)
    if target is None:
        return render_template("outreach/unsubscribe.html", state="invalid"), 404
    _contact, channel, address = target
    if request.method == "POST":
        employer_delivery.opt_out(session, channel, address, "link")
        session.commit()
        return render_template("outreach/unsubscribe.html", state="done", channel=channel)
    return render_template("outreach/unsubscribe.html", state="ask", channel=channel)
