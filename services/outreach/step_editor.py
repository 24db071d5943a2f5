"""The campaign page's edges that alumni and employer campaigns share: the step editor's
rows read into the API's step list, its errors in words, saving the steps, and launch /
pause / resume. Each campaign kind passes its own rule (`campaigns` or
`employer_campaigns`); the pages stay one per kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from flask import flash, request
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from services.outreach.campaigns import OutreachError
from shared.centre import applied


class CampaignRule(Protocol):
    """What a campaign kind's module offers the pages (services/outreach/campaigns.py and
    employer_campaigns.py)."""

    def launch(self, session: Session, campaign: Any, settings: Any) -> int: ...
    def pause(self, campaign: Any) -> None: ...
    def resume(self, campaign: Any) -> None: ...


STEP_FIELDS = ("day_offset", "channel", "subject_id", "body_id", "subject_en", "body_en")


def steps_from_form(form: Any) -> list[dict[str, Any]]:
    """The step editor's rows (`day_offset-0`, `channel-0`, `body_id-0`, …) as the API's step
    list: a row marked `remove-N`, or a row with no message at all, is left out."""
    positions = sorted({int(key.rsplit("-", 1)[1]) for key in form
                        if key.rsplit("-", 1)[0] in STEP_FIELDS and key[-1].isdigit()})
    steps = []
    for n in positions:
        value = {name: (form.get(f"{name}-{n}") or "").strip() for name in STEP_FIELDS}
        if form.get(f"remove-{n}") or not (value["body_id"] or value["body_en"]):
            continue
        template = {}
        for language in ("id", "en"):
            if value[f"body_{language}"]:
                template[language] = {"subject": value[f"subject_{language}"] or None,
                                      "body": value[f"body_{language}"]}
        try:
            day = int(value["day_offset"] or 0)
        except ValueError:
            day = -1  # refused below with the field named
        steps.append({"day_offset": day, "channel": value["channel"], "template": template})
    return steps


def step_error(exc: OutreachError) -> str:
    """"Step 2, day: must be 0 or more", translated; the position is the step's number."""
    messages = {
        "must be email, sms, whatsapp or best": _("choose email, SMS, WhatsApp or best"),
        "must be 0 or more": _("must be 0 or more"),
        "the Indonesian message is required": _("the Indonesian message is required"),
        "give at least one step": _("give at least one step"),
        "the steps can only be changed before launch": _(
            "the steps can only be changed before launch"),
    }
    text = messages.get(exc.message, exc.message)
    parts = exc.field.split(".")
    if len(parts) > 1 and parts[1].isdigit():
        field = {"channel": _("channel"), "day_offset": _("day"),
                 "template": _("Indonesian message")}.get(parts[2], parts[2])
        return f"{_('Step %(n)d', n=int(parts[1]) + 1)}, {field}: {text}"
    return text


def save_steps(session: Session, replace_steps: Callable[[list[dict[str, Any]]], None],
               audited: Callable[..., None]) -> None:
    """The step editor's POST: the form's steps through the kind's rule, audited (the
    route's `audited(steps=n)` writes its own action: the audit sentences are found by
    reading the routes) and committed, or its first problem flashed in words (nothing
    kept)."""
    steps = steps_from_form(request.form)
    try:
        replace_steps(steps)
    except OutreachError as exc:
        session.rollback()
        flash(step_error(exc), "error")
        return
    audited(steps=len(steps))
    session.commit()
    flash(_("Steps saved."), "ok")


def take_action(session: Session, rule: CampaignRule, campaign: Any, action: str,
                audited: Callable[[], None]) -> None:
    """Launch, pause or resume, audited (`audited()`, the route's own action) and
    committed, with what happened flashed; a refusal flashed as the rule words it (nothing
    kept)."""
    try:
        if action == "launch":
            planned = rule.launch(session, campaign, applied())
            flash(_("Launched: %(n)d messages planned.", n=planned), "ok")
        elif action == "pause":
            rule.pause(campaign)
            flash(_("Paused. Nothing more is sent until you resume."), "ok")
        else:
            rule.resume(campaign)
            flash(_("Resumed where it stopped."), "ok")
    except OutreachError as exc:
        session.rollback()
        flash(exc.message, "error")
        return
    audited()
    session.commit()
