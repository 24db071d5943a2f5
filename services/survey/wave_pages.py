"""Staff pages of one wave: adding late alumni, closing and reopening, and the follow-up of
who has not answered (docs/architecture.md §1: the page and services/survey/api/followup.py
call the same functions in services/survey/waves.py and services/survey/followup.py)."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from services.survey import followup, waves
from shared import auth, db
from shared.models import Alumnus, Cohort, Program, Wave
from shared.web import form_row_id, page_number

bp = Blueprint("wave_pages", __name__)


def _settings() -> Any:
    return current_app.config["JEJAK_SETTINGS"]


def wave_or_404(slug: str) -> Wave:
    """The wave of a staff page's URL, else 404 (the call list's pages use it too)."""
    wave = db.session().scalar(select(Wave).where(Wave.slug == slug))
    if wave is None:
        abort(404)
    return wave


def _ids(name: str) -> list[int]:
    """Ids ticked in the form; one past a database integer names no row (ValueError naming
    the field, which the page shows)."""
    return [form_row_id(value, name) for value in request.form.getlist(name) if value.isdigit()]


def programs_and_cohorts() -> tuple[list[Any], list[Any]]:
    """The filter choices as plain rows (id, name) and ((id, label), program name): the
    follow-up page is read often, and ORM objects for every cohort cost more than its query."""
    session = db.session()
    return (session.execute(select(Program.id, Program.name).order_by(Program.name)).all(),
            [(row, row.program_name) for row in session.execute(
                select(Cohort.id, Cohort.label, Program.name.label("program_name"))
                .join(Program, Program.id == Cohort.program_id)
                .order_by(Program.name, Cohort.label))])


@bp.route("/waves/<slug>")
@auth.requires("operator")
def wave_page(slug: str, preview: dict[str, Any] | None = None) -> Any:
    session = db.session()
    wave = wave_or_404(slug)
    programs, cohorts = programs_and_cohorts()
    return render_template(
        "survey/wave.html", wave=wave, summary=waves.wave_summary(session, wave),
        published=waves.published_report(session, wave), programs=programs, cohorts=cohorts,
        overlaps=waves.overlaps_of(session, wave), preview=preview, zone=_settings().timezone,
        coverage=_coverage(wave),
    )


def _coverage(wave: Any) -> str | None:
    """Which indicators the wave will have, in the page's language (None: its mapping
    cannot be used, which create_wave refuses)."""
    try:
        return waves.indicator_coverage(wave.questionnaire.definition).sentence()
    except waves.SurveyError as exc:
        return exc.message


@bp.route("/waves/<slug>/targets", methods=["POST"])
@auth.requires("operator")
def add_targets(slug: str) -> Any:
    """Two steps: `preview` says how many would be added; `add` adds them (audited)."""
    session = db.session()
    wave = wave_or_404(slug)
    try:
        chosen = {"program_ids": _ids("program_ids"), "cohort_ids": _ids("cohort_ids")}
    except ValueError as exc:  # an id past a database integer: no such program or cohort
        flash(str(exc), "error")
        return redirect(url_for(".wave_page", slug=slug))
    numbers = request.form.get("registration_nos", "")
    ids, unknown = waves.alumni_by_registration(session, numbers.split())
    chosen["alumnus_ids"] = ids
    try:
        if request.form.get("action") != "add":
            preview = waves.preview_targets(session, wave, **chosen)
            preview.update(chosen, unknown=unknown, registration_nos=numbers)
            return wave_page(slug, preview=preview)
        added = waves.add_targets(session, wave, **chosen)
    except waves.SurveyError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".wave_page", slug=slug))
    auth.audit(session, auth.current_principal().name, "wave.targets_add", slug,
               added=len(added), **chosen)
    session.commit()
    flash(_("%(n)d alumni added to the wave.", n=len(added)), "ok")
    return redirect(url_for(".wave_page", slug=slug))


@bp.route("/waves/<slug>/reopen", methods=["POST"])
@auth.requires("operator")
def reopen(slug: str) -> Any:
    from services.survey.admin import _end_of_day

    session = db.session()
    wave = wave_or_404(slug)
    try:
        waves.reopen_wave(session, wave, closes_at=_end_of_day(request.form.get("closes_on", "")))
    except (waves.SurveyError, ValueError) as exc:
        flash(str(getattr(exc, "message", exc)), "error")
        return redirect(url_for(".wave_page", slug=slug))
    auth.audit(session, auth.current_principal().name, "wave.reopen", slug)
    session.commit()
    flash(_("Wave reopened. It accepts answers again."), "ok")
    return redirect(url_for(".wave_page", slug=slug))


# --- follow-up ---------------------------------------------------------------------------


def _filters() -> followup.Filters:
    try:
        return followup.Filters.parse(request.args)
    except waves.SurveyError:
        return followup.Filters()


@bp.route("/waves/<slug>/alumni")
@auth.requires("operator")
def followup_page(slug: str) -> Any:
    session = db.session()
    wave = wave_or_404(slug)
    filters = _filters()
    number = page_number(request.args.get("page"))
    rows, has_next, counts = followup.page_and_counts(session, wave.id, filters, number)
    programs, cohorts = programs_and_cohorts()
    return render_template(
        "survey/followup.html", wave=wave, rows=rows, has_next=has_next, page=number,
        filters=filters, counts=counts,
        statuses=followup.STATUSES, programs=programs, cohorts=cohorts,
    )


@bp.route("/waves/<slug>/alumni.<any(csv, xlsx):kind>")
@auth.requires("operator")
def followup_download(slug: str, kind: str) -> Any:
    from services.survey.api.followup import download_answer

    return download_answer(db.session(), wave_or_404(slug), _filters(), kind)


def target_or_404(wave: Wave, alumnus_id: int) -> Alumnus:
    """The wave's target of a staff page's URL, else 404."""
    try:
        return followup.target_alumnus(db.session(), wave, alumnus_id)
    except waves.SurveyError:
        abort(404)


@bp.route("/waves/<slug>/alumni/<int:alumnus_id>")
@auth.requires("operator")
def alumnus_page(slug: str, alumnus_id: int, link: str | None = None) -> Any:
    session = db.session()
    wave = wave_or_404(slug)
    alumnus = target_or_404(wave, alumnus_id)
    response = followup.answers_of(session, wave.id, alumnus_id)
    return render_template(
        "survey/wave_alumnus.html", wave=wave, alumnus=alumnus,
        status=followup.status_of(session, wave.id, alumnus_id),
        in_waves=waves.waves_of_alumnus(session, alumnus_id), response=response,
        questions=_question_texts(session, wave), channels=followup.CHANNELS, link=link,
    )


def _question_texts(session: Any, wave: Wave) -> dict[str, tuple[str, dict[Any, str]]]:
    """Answer key → (question label, answer code → label) in the page's language, to show
    the answers as the alumnus saw them."""
    locale = str(get_locale() or "id")
    form = waves.questionnaire(session, wave.questionnaire_id)
    return {question.key: (question.label.get(locale),
                           {option.code: option.label.get(locale)
                            for option in question.options})
            for question in form.answerable}


@bp.route("/waves/<slug>/alumni/<int:alumnus_id>/contact", methods=["POST"])
@auth.requires("operator")
def correct_contact(slug: str, alumnus_id: int) -> Any:
    session = db.session()
    wave = wave_or_404(slug)
    alumnus = target_or_404(wave, alumnus_id)
    try:
        changes = followup.correct_contact(session, alumnus, phone=request.form.get("phone"),
                                           email=request.form.get("email"))
    except waves.SurveyError as exc:
        field = {"phone": _("Phone"), "email": _("Email")}.get(exc.field, exc.field)
        flash(f"{field}: {exc.message}", "error")
        return redirect(url_for(".alumnus_page", slug=slug, alumnus_id=alumnus_id))
    if changes:
        auth.audit(session, auth.current_principal().name, "alumnus.contact_correct",
                   f"alumnus:{alumnus_id}", **changes)
    session.commit()
    flash(_("Contact details saved.") if changes else _("Nothing changed."), "ok")
    return redirect(url_for(".alumnus_page", slug=slug, alumnus_id=alumnus_id))


@bp.route("/waves/<slug>/alumni/<int:alumnus_id>/invitation", methods=["POST"])
@auth.requires("operator")
def resend_invitation(slug: str, alumnus_id: int) -> Any:
    session = db.session()
    wave = wave_or_404(slug)
    channel = request.form.get("channel", "")
    try:
        followup.request_invitation(session, wave, alumnus_id, channel)
    except waves.SurveyError as exc:
        if exc.status == 404:
            abort(404)
        flash(exc.message, "error")
        return redirect(url_for(".alumnus_page", slug=slug, alumnus_id=alumnus_id))
    auth.audit(session, auth.current_principal().name, "alumnus.invitation_resend",
               f"alumnus:{alumnus_id}", wave=slug, channel=channel)
    session.commit()
    flash(_("The invitation will be sent again shortly."), "ok")
    return redirect(url_for(".alumnus_page", slug=slug, alumnus_id=alumnus_id))


@bp.route("/waves/<slug>/alumni/<int:alumnus_id>/link", methods=["POST"])
@auth.requires("operator")
def copy_link(slug: str, alumnus_id: int) -> Any:
    """The personal link, shown once on this answer (never on a GET), and audited."""
    session = db.session()
    wave = wave_or_404(slug)
    try:
        link = followup.personal_link(session, wave, alumnus_id, base_url=_settings().base_url,
                                      secret_key=_settings().secret_key)
    except waves.SurveyError as exc:
        if exc.status == 404:
            abort(404)
        flash(exc.message, "error")
        return redirect(url_for(".alumnus_page", slug=slug, alumnus_id=alumnus_id))
    auth.audit(session, auth.current_principal().name, "alumnus.link_copy",
               f"alumnus:{alumnus_id}", wave=slug)
    session.commit()
    page = alumnus_page(slug, alumnus_id, link=link)
    response = current_app.make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response
