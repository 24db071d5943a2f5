"""The public web form: personal links, the open link, save-and-resume, thank-you.

Server-rendered and usable without JavaScript: branching is enforced here (answers to
questions that no longer apply are dropped); the small script only shows and hides.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.exc import IntegrityError

from services.survey import intake
from services.survey.form_view import section_keys, section_view, visible_sections
from services.survey.links import make_token
from services.survey.questionnaire import answers_from_form, validate_answers
from services.survey.waves import (
    SurveyError,
    mark_opened,
    questionnaire,
    wave_info,
    wave_info_by_id,
)
from shared import auth, db, ratelimit
from shared.models import utcnow

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
    form = questionnaire(session, wave.questionnaire_id)
    response = intake.response_of(session, wave.id, respondent.alumnus_id)
    if request.method == "GET" and response is None:
        mark_opened(session, wave.id, respondent.alumnus_id)  # staff's follow-up: "opened"
        session.commit()
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
        parsed, errors = answers_from_form(form, request.form.to_dict(flat=False))
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
    ), status


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
        # Per address, and only failed identifications count (guessing): alumni at an event
        # share one Wi-Fi address.
        ratelimit.refuse_when_exhausted("identify", ratelimit.client_address())
        registration_no = request.form.get("registration_no", "").strip()
        try:
            birth_date = datetime.strptime(request.form.get("birth_date", ""), "%Y-%m-%d").date()
            respondent = intake.respondent_by_registration(session, wave, registration_no,
                                                           birth_date)
        except (ValueError, SurveyError):
            error = "not_found"
            ratelimit.charge("identify", ratelimit.client_address(), refuse=False)
        else:
            token = make_token(_secret(), wave.id, respondent.alumnus_id)
            return redirect(url_for(".personal", token=token))
    return render_template("survey/identify.html", wave=wave, error=error), (
        422 if error else 200)
