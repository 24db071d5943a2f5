"""The public web form: personal links, the open link, save-and-resume, thank-you.

Server-rendered and usable without JavaScript: branching is enforced here (answers to
questions that no longer apply are dropped); the small script only shows and hides.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from services.survey import intake
from services.survey.form_view import section_keys, section_view, visible_sections
from services.survey.links import make_token
from services.survey.privacy import withdraw_consent
from services.survey.questionnaire import (
    Questionnaire,
    Section,
    answers_from_form,
    validate_answers,
)
from services.survey.roster import normalise_phone
from services.survey.waves import SurveyError, questionnaire, wave_info, wave_info_by_id
from shared import auth, db, ratelimit
from shared.models import Alumnus, Response, ResponseEdit, utcnow

bp = Blueprint("form", __name__)


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _unavailable(message: str, status: int) -> Any:
    return render_template("survey/form_message.html", message=message), status


@bp.route("/s/<token>", methods=["GET", "POST"])
@auth.public
def personal(token: str) -> Any:
    session = db.session()
    try:
        wave_id, respondent = intake.respondent_by_token(session, _secret(), token)
    except SurveyError:
        return _unavailable("invalid", 404)
    wave = wave_info_by_id(session, wave_id)
    if wave is None:
        return _unavailable("invalid", 404)
    refusal = wave.refusal(utcnow())
    if refusal:
        return _unavailable("closed" if "closed" in refusal else "not_open", 410)
    if _declined(session, respondent.alumnus_id):
        return render_template("survey/declined.html", token=token)
    form = questionnaire(session, wave.questionnaire_id)
    response = intake.response_of(session, wave.id, respondent.alumnus_id)
    if request.method == "POST" and request.form.get("action") == "refuse":
        _refuse(session, respondent.alumnus_id, response)
        session.commit()
        return redirect(url_for(".declined", token=token))
    stored: dict[str, Any] = {}
    if response is not None:
        stored = response.draft if response.draft is not None else response.answers
    sections = visible_sections(form, stored)
    step = _step(request.values.get("step"), len(sections))
    errors: dict[str, list[str]] = {}
    shown = stored
    status = 200
    if request.method == "POST":
        section = sections[step - 1]
        keys = section_keys(section)
        typed = _iso_dates(form, section, request.form)
        parsed, errors = answers_from_form(form, typed)
        merged = {key: value for key, value in stored.items() if key not in keys}
        merged.update({key: value for key, value in parsed.items() if key in keys})
        merged = intake.prune(form, merged)
        checked = validate_answers(form, merged, complete=True)
        errors = {key: messages for key, messages in {**checked.errors, **errors}.items()
                  if key in keys}
        shown = merged
        if errors:
            status = 422
        else:
            action = request.form.get("action", "next")
            response = intake.save_draft(session, wave=wave, questionnaire=form,
                                         alumnus_id=respondent.alumnus_id, answers=merged)
            if action == "finish":
                try:
                    intake.finish(session, response, form)
                except intake.AnswersInvalid as exc:
                    session.commit()  # keep the draft; send them where the problem is
                    sections = visible_sections(form, merged)
                    step, errors = _first_section_with(sections, exc.errors)
                    status = 422
                else:
                    _commit(session)
                    return redirect(url_for(".thanks", token=token))
            else:
                _commit(session)
                sections = visible_sections(form, merged)
                if action == "save":
                    return redirect(url_for(".personal", token=token, step=step, saved=1))
                step = _step(str(step - 1 if action == "back" else step + 1), len(sections))
                return redirect(url_for(".personal", token=token, step=step))
    return render_template(
        "survey/form.html",
        wave=wave,
        name=respondent.full_name,
        section=section_view(form, sections[step - 1], shown, errors),
        step=step,
        steps=len(sections),
        titles=[s.title for s in sections],
        token=token,
        saved=request.args.get("saved") == "1",
        editing=response is not None and response.status == "complete",
        error_count=len(errors),
        consent_notice=_asks_consent(sections[step - 1]),
    ), status


def _asks_consent(section: Section) -> bool:
    """The section holding the consent question (a yes that must be yes): the notice and
    the "I do not agree" button go there, before the first real question."""
    return any(question.type == "boolean" and question.must_be is True
               for question in section.questions)


def _declined(session: Any, alumnus_id: int) -> bool:
    """They said no on the form: the link shows the polite ending, never the questions."""
    return session.scalar(select(Alumnus.consent_withdrawn_source)
                          .where(Alumnus.id == alumnus_id)) == "form"


def _refuse(session: Any, alumnus_id: int, response: Response | None) -> None:
    """"Tidak setuju": a refusal recorded as withdrawn consent (privacy.withdraw_consent).

    That is what the response rates count as a refusal, and its event
    (`alumnus.consent_withdrawn`) makes outreach cancel every pending reminder. A draft
    they had saved goes: they said no to its processing, and with no response left the
    disposition is the refusal. A submitted response stays (withdrawal keeps answers, as
    when staff record it; erasure is the separate right the notice names).
    """
    withdraw_consent(session, alumnus_id, source="form")
    if response is None:
        return
    if response.status == "complete":
        response.draft = None
        return
    session.execute(delete(ResponseEdit).where(ResponseEdit.response_id == response.id))
    session.delete(response)
    session.flush()


_DAY_MONTH_YEAR = re.compile(r"\s*(\d{1,2})[-/. ](\d{1,2})[-/. ](\d{4})\s*")


def _iso_dates(form: Questionnaire, section: Section, posted: MultiDict[str, str]
               ) -> dict[str, list[str]]:
    """The posted fields, with this section's dates typed day-month-year (the form's
    locale-free text input, "31-12-2025") turned into the engine's YYYY-MM-DD. Anything
    else is left as typed, for the engine to refuse with its message."""
    fields_ = posted.to_dict(flat=False)
    for key in section_keys(section):
        question = form.by_answer_key.get(key)
        values = fields_.get(key)
        if question is None or question.type != "date" or not values:
            continue
        if match := _DAY_MONTH_YEAR.fullmatch(values[0]):
            day, month, year = (int(part) for part in match.groups())
            fields_[key] = [f"{year:04d}-{month:02d}-{day:02d}"]
    return fields_


@bp.app_template_filter("day_month_year")
def day_month_year(value: Any) -> str:
    """A stored YYYY-MM-DD as the form shows it, 31-12-2025; anything else as it is."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        year, month, day = value.split("-")
        return f"{day}-{month}-{year}"
    return "" if value is None else str(value)


def _commit(session: Any) -> None:
    try:
        session.commit()
    except IntegrityError:
        # The same alumnus saved twice at once (two tabs): the other save won; retry is safe.
        session.rollback()
        raise


def _step(value: str | None, steps: int) -> int:
    try:
        return min(max(int(value or 1), 1), steps)
    except ValueError:
        return 1


def _first_section_with(sections: list[Any], errors: dict[str, list[str]]
                        ) -> tuple[int, dict[str, list[str]]]:
    for number, section in enumerate(sections, start=1):
        mine = {key: value for key, value in errors.items() if key in section_keys(section)}
        if mine:
            return number, mine
    return len(sections), errors


@bp.route("/s/<token>/terima-kasih")
@auth.public
def thanks(token: str) -> Any:
    try:
        wave_id, respondent = intake.respondent_by_token(db.session(), _secret(), token)
    except SurveyError:
        return _unavailable("invalid", 404)
    wave = wave_info_by_id(db.session(), wave_id)
    return render_template("survey/thanks.html", name=respondent.full_name, wave=wave,
                           token=token)


@bp.route("/s/<token>/tidak-setuju")
@auth.public
def declined(token: str) -> Any:
    try:
        intake.respondent_by_token(db.session(), _secret(), token)
    except SurveyError:
        return _unavailable("invalid", 404)
    return render_template("survey/declined.html", token=token)


@bp.route("/w/<slug>", methods=["GET", "POST"])
@auth.public
def open_link(slug: str) -> Any:
    """An open link (QR code at events): identify with registration number and birth date."""
    session = db.session()
    wave = wave_info(session, slug)
    if wave is None:
        return _unavailable("invalid", 404)
    refusal = wave.refusal(utcnow())
    if refusal:
        return _unavailable("closed" if "closed" in refusal else "not_open", 410)
    error = None
    if request.method == "POST":
        # Only failed identifications count (guessing): alumni at an event share one Wi-Fi
        # address. Per address, and per registration number (or phone) from anywhere, so
        # many addresses cannot together try every birth date of one person.
        address = ratelimit.client_address()
        ratelimit.refuse_when_exhausted("identify", address)
        registration_no = request.form.get("registration_no", "").strip()
        phone = None if registration_no else normalise_phone(request.form.get("phone", ""))
        person = (f"number:{intake.registration_key(registration_no)}" if registration_no
                  else f"phone:{phone or ''}")
        ratelimit.refuse_when_exhausted("identify", person)
        try:
            respondent = intake.respondent_by_identity(
                session, wave, _birth_date(request.form),
                registration_no=registration_no or None, phone=phone)
        except (ValueError, SurveyError):
            # One message for every miss: unknown number, wrong birth date, not a date.
            error = "not_found"
            ratelimit.charge("identify", address, refuse=False)
            ratelimit.charge("identify", person, refuse=False)
        else:
            token = make_token(_secret(), wave.id, respondent.alumnus_id)
            return redirect(url_for(".personal", token=token))
    return render_template("survey/identify.html", wave=wave, error=error), (
        422 if error else 200)


def _birth_date(posted: MultiDict[str, str]) -> date:
    """The birth date from the three day, month and year fields (no browser date picker,
    whose format follows the phone's locale); `birth_date` as YYYY-MM-DD still works.
    ValueError when it is no date."""
    parts = [posted.get(f"birth_{name}", "").strip() for name in ("year", "month", "day")]
    if any(parts):
        year, month, day = (int(part) for part in parts)
        if not 1900 <= year <= 9999:
            raise ValueError("year out of range")
        return date(year, month, day)
    return date.fromisoformat(posted.get("birth_date", "").strip())
