"""The public web form: personal links, the open link, save-and-resume, thank-you.

Server-rendered and usable without JavaScript: branching is decided here from all stored
answers (answers to questions that no longer apply are dropped); the small script only
shows and hides within a page, by the part of each condition the server left to it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from services.survey import call_list, intake, interview
from services.survey.form_view import day_month_year, section_view, summary
from services.survey.links import make_token
from services.survey.privacy import withdraw_consent
from services.survey.questionnaire import (
    Problem,
    Questionnaire,
    Section,
    applying,
    first_unfinished,
    is_visible,
    read_form,
    section_keys,
    shown_sections,
    validate_answers,
)
from services.survey.roster import normalise_phone
from services.survey.supervisor_pages import render_thanks
from services.survey.waves import (
    SurveyError,
    mark_opened,
    questionnaire,
    wave_info,
    wave_info_by_id,
)
from shared import auth, db, ratelimit
from shared.i18n import chosen_language
from shared.models import Alumnus, Response, ResponseEdit, Wave, utcnow

bp = Blueprint("form", __name__)


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _unavailable(message: str, status: int) -> Any:
    return render_template("survey/form_message.html", message=message), status


@bp.route("/s/<token>", methods=["GET", "POST"])
@auth.public
def personal(token: str) -> Any:
    """One page of the form. Which pages and questions show is decided from ALL stored
    answers (the draft, plus this page's posted answers on a POST); see docs/questionnaire.md.

    `step` numbers the pages shown for the answers so far. Without a step, a returning
    alumnus lands on the first page still missing a required answer, and one who has sent
    their answers sees the read-only summary.
    """
    # Before the request's session begins: on SQLite the principal's lookup is a second
    # connection, which would wait for this request's write lock.
    staff = interview.interviewer_of(_secret(), token)  # None: the alumnus themself
    session = db.session()
    respondent, wave = _respondent_and_wave(session, token)
    if _declined(session, respondent.alumnus_id):
        return render_template("survey/declined.html", token=token)
    form = questionnaire(session, wave.questionnaire_id)
    response = intake.response_of(session, wave.id, respondent.alumnus_id)
    if request.method == "POST" and request.form.get("action") == "refuse":
        _refuse(session, respondent.alumnus_id, response)
        session.commit()
        return redirect(url_for(".declined", token=token))
    if request.method == "GET" and response is None and staff is None:
        mark_opened(session, wave.id, respondent.alumnus_id)  # staff's follow-up: "opened"
        session.commit()
    stored: dict[str, Any] = {}
    if response is not None:
        stored = response.draft if response.draft is not None else response.answers
    sections = shown_sections(form, stored)
    if request.method == "GET" and "step" not in request.args and response is not None:
        if response.status == "complete" and response.draft is None:
            return redirect(url_for(".answers", token=token))
        resume = first_unfinished(form, stored)
        return redirect(url_for(".personal", token=token,
                                step=len(sections) if resume is None else resume + 1))
    step = _step(request.values.get("step"), len(sections))
    problems: dict[str, list[Problem]] = {}
    shown = stored
    status = 200
    revealed = False
    if request.method == "POST":
        section = sections[step - 1]
        keys = section_keys(section)
        typed = iso_dates(form, keys, request.form)
        parsed, problems = read_form(form, typed)
        merged = {key: value for key, value in stored.items() if key not in keys}
        merged.update({key: value for key, value in parsed.items() if key in keys})
        merged = intake.prune(form, merged)
        action = request.form.get("action", "next")
        checked = validate_answers(form, merged, complete=True)
        problems = {key: found for key, found in {**checked.problems, **problems}.items()
                    if key in keys}
        if action in ("next", "finish") and "script" not in request.form:
            # Without the script, questions this page's answers opened were not seen yet:
            # show them before moving on (the script shows them as they open).
            opened = _opened(form, section, stored, merged, request.form)
            if opened:
                revealed = True
                problems = {key: found for key, found in problems.items()
                            if key not in opened}
        shown = merged
        if problems:
            status = 422
        else:
            response = intake.save_draft(session, wave=wave, questionnaire=form,
                                         alumnus_id=respondent.alumnus_id, answers=merged)
            if staff is not None:
                interview.record_mode(response, staff.user_id)
            if revealed:
                _commit(session)
                step = _position(form, shown_sections(form, merged), section)
                return redirect(url_for(".personal", token=token, step=step, more=1))
            if action == "finish":
                if checked.problems:  # on another page: keep the draft, send them there
                    session.commit()
                    sections = shown_sections(form, merged)
                    step, problems = _first_section_with(sections, checked.problems)
                    status = 422
                else:
                    intake.finish(session, response, form)
                    if staff is not None:
                        return _interview_done(session, wave, respondent.alumnus_id, staff)
                    _commit(session)
                    return redirect(url_for(".thanks", token=token))
            else:
                _commit(session)
                after = shown_sections(form, merged)
                if action == "save":
                    return redirect(url_for(".personal", token=token,
                                            step=_position(form, after, section), saved=1))
                step = _neighbour(form, after, section, -1 if action == "back" else 1)
                return redirect(url_for(".personal", token=token, step=step))
    else:
        revealed = request.args.get("more") == "1"
    return render_template(
        "survey/form.html",
        interviewer=staff,
        wave=wave,
        name=respondent.full_name,
        section=section_view(form, sections[step - 1], shown, problems),
        step=step,
        steps=len(sections),
        titles=[s.title for s in sections],
        token=token,
        saved=request.args.get("saved") == "1",
        revealed=revealed,
        editing=response is not None and response.status == "complete",
        error_count=len(problems),
        consent_notice=asks_consent(sections[step - 1]),
        **_language_switch(form),
    ), status


def _interview_done(session: Any, wave: Any, alumnus_id: int, staff: Any) -> Any:
    """Staff sent an interview's answers: the call is recorded as completed, and they go
    back to the call list (services/survey/interview.py)."""
    wave_row = session.get(Wave, wave.id)
    call_list.record_attempt(session, wave_row, alumnus_id, user_id=staff.user_id,
                             channel="phone", outcome="completed",
                             today=call_list.centre_today(session))
    _commit(session)
    interview.stop()
    flash(_("The interview's answers were sent."), "ok")
    return redirect(url_for("call_list.call_list_page", slug=wave_row.slug))


class _Unavailable(Exception):
    """The link does not lead to an open form; the page says why (`form_message.html`)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@bp.errorhandler(_Unavailable)
def _show_unavailable(exc: _Unavailable) -> Any:
    return _unavailable(exc.message, exc.status)


def _respondent_and_wave(session: Any, token: str) -> tuple[Any, Any]:
    """The respondent and their open wave; raises _Unavailable when there is none."""
    try:
        wave_id, respondent = intake.respondent_by_token(session, _secret(), token)
    except SurveyError:
        raise _Unavailable("invalid", 404) from None
    wave = wave_info_by_id(session, wave_id)
    if wave is None:
        raise _Unavailable("invalid", 404)
    _refuse_unless_open(wave)
    return respondent, wave


def _refuse_unless_open(wave: Any) -> None:
    """Raises _Unavailable (410, "closed" or "not_open") when the wave takes no answers now."""
    refusal = wave.refusal(utcnow())
    if refusal:
        raise _Unavailable("closed" if "closed" in refusal else "not_open", 410)


def _opened(form: Questionnaire, section: Section, before: dict[str, Any],
            after: dict[str, Any], posted: Any) -> set[str]:
    """Answer keys of questions on this page that apply now but did not when it was drawn,
    and that came with no value at all (so the alumnus has not seen them)."""
    was, now = applying(form, before), applying(form, after)
    return {
        key
        for question in section.questions
        if is_visible(question, now) and not is_visible(question, was)
        for key in question.answer_keys
        if key not in after and not any(value.strip() for value in posted.getlist(key))
    }


def _position(form: Questionnaire, sections: list[Section], section: Section) -> int:
    """The step of `section` among the shown sections, or of the nearest one before it."""
    order = {s.key: index for index, s in enumerate(form.sections)}
    at = order[section.key]
    before = [n for n, s in enumerate(sections, start=1) if order[s.key] <= at]
    return before[-1] if before else 1


def _neighbour(form: Questionnaire, sections: list[Section], section: Section,
               direction: int) -> int:
    """The step of the next (1) or previous (-1) shown section after `section`, in the
    definition's order, so a page that appeared or vanished with this page's answers is not
    stepped over or into by counting."""
    order = {s.key: index for index, s in enumerate(form.sections)}
    at = order[section.key]
    steps = [(n, order[s.key]) for n, s in enumerate(sections, start=1)]
    if direction > 0:
        later = [n for n, index in steps if index > at]
        return later[0] if later else len(sections)
    earlier = [n for n, index in steps if index < at]
    return earlier[-1] if earlier else 1


def _language_switch(form: Questionnaire) -> dict[str, Any]:
    """The questionnaire's languages besides id and en, for the switch (public.html)."""
    return {"form_languages": dict(form.languages), "form_language": chosen_language()}


def asks_consent(section: Section) -> bool:
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


def iso_dates(form: Questionnaire, keys: frozenset[str], posted: MultiDict[str, str]
              ) -> dict[str, list[str]]:
    """The posted fields, with the dates among `keys` (a page's; the kiosk's: all) typed
    day-month-year (the form's locale-free text input, "31-12-2025") turned into the
    engine's YYYY-MM-DD. Anything else is left as typed, for the engine to refuse with its
    message."""
    fields_ = posted.to_dict(flat=False)
    for key in keys:
        question = form.by_answer_key.get(key)
        values = fields_.get(key)
        if question is None or question.type != "date" or not values:
            continue
        if match := _DAY_MONTH_YEAR.fullmatch(values[0]):
            day, month, year = (int(part) for part in match.groups())
            fields_[key] = [f"{year:04d}-{month:02d}-{day:02d}"]
    return fields_


# The date field shows a stored answer as the alumnus types it (the summary does the same).
bp.add_app_template_filter(day_month_year, "day_month_year")


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


def _first_section_with(sections: list[Section], problems: dict[str, list[Problem]]
                        ) -> tuple[int, dict[str, list[Problem]]]:
    for number, section in enumerate(sections, start=1):
        mine = {key: value for key, value in problems.items() if key in section_keys(section)}
        if mine:
            return number, mine
    return len(sections), problems


@bp.route("/s/<token>/terima-kasih")
@auth.public
def thanks(token: str) -> Any:
    """The thank-you page, with the optional supervisor block (supervisor_pages)."""
    return render_thanks(token)


@bp.route("/s/<token>/jawaban")
@auth.public
def answers(token: str) -> Any:
    """"Lihat jawaban saya": the sent answers, read-only, with a link per page to change them
    (while the wave is open; a closed wave refuses like the form does)."""
    session = db.session()
    respondent, wave = _respondent_and_wave(session, token)
    if _declined(session, respondent.alumnus_id):
        return render_template("survey/declined.html", token=token)
    form = questionnaire(session, wave.questionnaire_id)
    response = intake.response_of(session, wave.id, respondent.alumnus_id)
    if response is None:
        return redirect(url_for(".personal", token=token))
    stored = response.draft if response.draft is not None else response.answers
    pages = summary(form, shown_sections(form, stored), stored)
    return render_template("survey/answers.html", wave=wave, name=respondent.full_name,
                           pages=pages, token=token,
                           complete=response.status == "complete", **_language_switch(form))


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
    _refuse_unless_open(wave)
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
