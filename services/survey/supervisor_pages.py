"""The supervisor block of the thank-you page (`/s/<token>/atasan`): the page of
services/survey/supervisors.py. Public like the form: the personal link's token is the
credential."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from services.survey import employers, intake, roster, supervisors
from services.survey.roster import Problem
from services.survey.waves import SurveyError, wave_info_by_id
from shared import auth, db

bp = Blueprint("supervisor", __name__)


def field_labels() -> dict[str, str]:
    """The block's fields as the page names them, in the request's language."""
    return {
        "company": _("Company or office"),
        "supervisor_name": _("Supervisor's name"),
        "supervisor_position": _("Supervisor's position"),
        "supervisor_phone": _("Supervisor's phone (WhatsApp)"),
        "supervisor_email": _("Supervisor's email"),
    }


def problem_text(problem: Problem, labels: dict[str, str]) -> str:
    """One problem as a sentence in the page's language naming the field (the roster's and
    the employer records' sentences, translated)."""
    texts = {**roster.PROBLEM_TEXTS, **employers.PROBLEM_TEXTS}
    return problem.text(labels, _(texts[problem.code]))


def errors_by_field(problems: list[Problem], labels: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in problems:
        found.setdefault(problem.column, []).append(problem_text(problem, labels))
    return found


def render_thanks(token: str, *, posted: Any = None, errors: dict[str, list[str]] | None = None,
                  not_stored: bool = False, status: int = 200) -> Any:
    """The thank-you page, with the supervisor block when it is offered."""
    session = db.session()
    try:
        wave_id, respondent = intake.respondent_by_token(
            session, current_app.config["SECRET_KEY"], token)
    except SurveyError:
        return render_template("survey/form_message.html", message="invalid"), 404
    wave = wave_info_by_id(session, wave_id)
    offer = supervisors.offer(session, wave_id, respondent.alumnus_id)
    return render_template("survey/thanks.html", name=respondent.full_name, wave=wave,
                           token=token, offer=offer, posted=posted or {}, errors=errors or {},
                           labels=field_labels(), not_stored=not_stored), status


@bp.route("/s/<token>/atasan", methods=["POST"])
@auth.public
def give(token: str) -> Any:
    """Store the supervisor (with the consent ticked), or show what to fix."""
    session = db.session()
    try:
        wave_id, respondent = intake.respondent_by_token(
            session, current_app.config["SECRET_KEY"], token)
    except SurveyError:
        return render_template("survey/form_message.html", message="invalid"), 404
    try:
        outcome = supervisors.give_supervisor(session, wave_id, respondent.alumnus_id,
                                              request.form)
    except employers.EmployerError:
        session.rollback()
        return redirect(url_for("form.thanks", token=token))
    if outcome.stored:
        try:
            session.commit()
        except IntegrityError:
            # The same alumnus sent the block twice at once (two taps): the other one won.
            session.rollback()
            return redirect(url_for("form.thanks", token=token))
        flash(_("Thank you. The training centre may now ask your supervisor about your work."),
              "ok")
        return redirect(url_for("form.thanks", token=token))
    session.rollback()
    if outcome.problems:
        return render_thanks(token, posted=request.form, status=422,
                             errors=errors_by_field(outcome.problems, field_labels()))
    return render_thanks(token, posted=request.form, not_stored=True)
