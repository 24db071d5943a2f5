"""An employer contact's personal link (`/e/<token>`): the alumni they supervise, a rating
page per alumnus, and their company's questions. Public like the alumni form: the token
is the credential. The rules are services/survey/employer_survey.py's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.survey import employer_survey
from services.survey.employer_survey import Parts
from services.survey.form_view import section_view
from services.survey.questionnaire import Problem, ValidationResult, read_form
from shared import auth, db
from shared.models import Employer, EmployerContact

bp = Blueprint("employer_link", __name__)


def _contact(session: Session, token: str) -> tuple[int, EmployerContact]:
    """The link's wave and contact; 404 for a token we did not make or a contact no
    consent names any more."""
    ids = employer_survey.read_token(current_app.config["SECRET_KEY"], token)
    if ids is None:
        abort(404)
    wave_id, contact_id = ids
    contact = employer_survey.contact_of(session, wave_id, contact_id)
    if contact is None:
        abort(404)
    return wave_id, contact


def _posted(parts_form: Any) -> tuple[dict[str, Any], dict[str, list[Problem]]]:
    return read_form(parts_form, request.form.to_dict(flat=False))


@bp.route("/e/<token>", methods=["GET", "POST"])
@auth.public
def overview(token: str) -> Any:
    """The alumni to rate and the company's questions (saved on POST)."""
    session = db.session()
    wave_id, contact = _contact(session, token)
    parts = employer_survey.current_parts(session)
    stored = employer_survey.company_answer(session, wave_id, contact.employer_id)
    answers = stored.answers if stored is not None else {}
    problems: dict[str, list[Problem]] = {}
    status = 200
    if request.method == "POST":
        answers, problems = _posted(parts.company)
        problems = _saved(session, problems, lambda: employer_survey.save_company(
            session, parts, wave_id, contact, answers))
        if not problems:
            return redirect(url_for(".overview", token=token, saved="company"))
        status = 422
    return render_template(
        "survey/employer_link.html", token=token, contact=contact,
        employer=session.get(Employer, contact.employer_id),
        people=employer_survey.supervised(session, wave_id, contact.id),
        section=_section(parts, "company", answers, problems), title=parts.title,
        answered=stored is not None, saved=request.args.get("saved"),
        error_count=len(problems)), status


@bp.route("/e/<token>/a/<int:alumnus_id>", methods=["GET", "POST"])
@auth.public
def rate(token: str, alumnus_id: int) -> Any:
    """One alumnus's rating page; only alumni this contact supervises (with consent)."""
    session = db.session()
    wave_id, contact = _contact(session, token)
    person = next((p for p in employer_survey.supervised(session, wave_id, contact.id)
                   if p.alumnus_id == alumnus_id), None)
    if person is None:
        abort(404)
    parts = employer_survey.current_parts(session)
    stored = employer_survey.rating_of(session, wave_id, alumnus_id)
    answers = stored.answers if stored is not None else {}
    problems: dict[str, list[Problem]] = {}
    status = 200
    if request.method == "POST":
        answers, problems = _posted(parts.alumnus)
        problems = _saved(session, problems, lambda: employer_survey.save_rating(
            session, parts, wave_id, contact, alumnus_id, answers))
        if not problems:
            return redirect(url_for(".overview", token=token, saved="rating"))
        status = 422
    return render_template(
        "survey/employer_rating.html", token=token, person=person, title=parts.title,
        section=_section(parts, "alumnus", answers, problems), error_count=len(problems),
    ), status


def _section(parts: Parts, which: str, answers: dict[str, Any],
             problems: dict[str, list[Problem]]) -> Any:
    form = parts.alumnus if which == "alumnus" else parts.company
    return section_view(form, form.sections[0], answers, problems)


def _saved(session: Session, problems: dict[str, list[Problem]],
           save: Callable[[], ValidationResult]) -> dict[str, list[Problem]]:
    """Save and commit, unless the form or the save found problems (then nothing is kept);
    returns the problems. Two saves of the same rating or company answers at the same
    moment (two taps, two people of one company) both insert: the database keeps the first
    and refuses the second at its flush or commit, which then saves again over the first.
    Neither request fails and the later answers stand, as one after the other would."""
    try:
        return _committed(session, problems, save)
    except IntegrityError:
        session.rollback()
        return _committed(session, problems, save)


def _committed(session: Session, problems: dict[str, list[Problem]],
               save: Callable[[], ValidationResult]) -> dict[str, list[Problem]]:
    found = {**save().problems, **problems}
    if found:
        session.rollback()
        return found
    session.commit()
    return {}
