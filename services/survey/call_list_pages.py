"""The call list pages of a wave (services/survey/call_list.py): the list in call order,
recording an attempt, assigning alumni to staff. The WhatsApp button posts to outreach,
which renders the step's message and records the chat through an event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from babel.dates import get_date_format, get_datetime_format, get_time_format
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
from flask_babel import get_locale, get_timezone
from flask_babel import gettext as _

from services.survey import call_list, interview
from services.survey.links import make_token
from services.survey.wave_pages import programs_and_cohorts, target_or_404, wave_or_404
from services.survey.waves import SurveyError
from shared import auth, db
from shared.models import Wave
from shared.web import form_row_id, page_number

bp = Blueprint("call_list", __name__)


def centre_today() -> date:
    return call_list.centre_today(db.session())


def short_datetime() -> Callable[[datetime], str]:
    """What the `datetimeformat('short')` filter writes (flask_babel's format_datetime: the
    user's time zone, the locale's short date and time), with the locale, the time zone and
    the patterns looked up once: a page of the list shows 150 attempt times, and the filter
    looks all of them up again for each."""
    locale, zone = get_locale(), get_timezone()
    date_pattern = get_date_format("short", locale=locale)
    time_pattern = get_time_format("short", locale=locale)
    layout = get_datetime_format("short", locale=locale).replace("'", "")

    def write(value: datetime) -> str:
        if value.tzinfo is None:  # stored as UTC (SQLite keeps no zone)
            value = value.replace(tzinfo=UTC)
        local = value.astimezone(zone)
        return layout.replace("{0}", time_pattern.apply(local, locale)).replace(
            "{1}", date_pattern.apply(local, locale))

    return write


def _wave_or_404(slug: str) -> Wave:
    """A wave that has opened (a draft has no targets to call), else 404."""
    wave = wave_or_404(slug)
    if wave.status == "draft":
        abort(404)
    return wave


def _me() -> int | None:
    principal = auth.current_principal()
    return principal.user_id if principal is not None else None


def field_name(field: str) -> str:
    """A field named as the page labels it."""
    return {"outcome": _("Outcome"), "callback_on": _("Call back on"), "note": _("Note"),
            "channel": _("Channel"), "user": _("Staff member"), "assigned": _("Assigned to"),
            "group": _("Group"), "program": _("Program"), "cohort": _("Cohort"),
            "alumnus": _("Alumnus")}.get(field, field)


@bp.route("/waves/<slug>/calls")
@auth.requires("operator")
def call_list_page(slug: str) -> Any:
    session = db.session()
    wave = _wave_or_404(slug)
    try:
        filters = call_list.CallFilters.parse(request.args, me=_me())
    except SurveyError as exc:
        flash(f"{field_name(exc.field)}: {exc.message}", "error")
        filters = call_list.CallFilters()
    number = page_number(request.args.get("page"))
    entries, has_next, counts = call_list.page(session, wave.id, filters, number,
                                               today=centre_today())
    session.commit()  # the rows the page mended, if any (call_list.page): kept for the next
    programs, cohorts = programs_and_cohorts()
    return render_template(
        "survey/call_list.html", wave=wave, entries=entries, has_next=has_next, page=number,
        filters=filters, counts=counts, groups=call_list.GROUPS, programs=programs,
        cohorts=cohorts, staff=call_list.staff(session), me=_me(),
        outcomes=list(call_list.OUTCOMES), today=centre_today(), when=short_datetime(),
    )


def _date(text: str | None) -> date | None:
    """A date from the page: YYYY-MM-DD (the date picker) or DD-MM-YYYY (typed)."""
    text = (text or "").strip()
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise SurveyError("callback_on", _("write the date as day-month-year, e.g. 31-12-2026"))


def _back(slug: str) -> Any:
    """Back to the list as it was filtered (the form carries the list's query string)."""
    wanted = request.form.get("back", "")
    target = url_for(".call_list_page", slug=slug)
    if wanted.startswith(target + "?") and "\n" not in wanted and "\r" not in wanted:
        target = wanted
    return redirect(target)


@bp.route("/waves/<slug>/calls/<int:alumnus_id>/attempts", methods=["POST"])
@auth.requires("operator")
def record_attempt(slug: str, alumnus_id: int) -> Any:
    session = db.session()
    wave = _wave_or_404(slug)
    try:
        call_list.record_attempt(
            session, wave, alumnus_id, user_id=_me(), channel="phone",
            outcome=request.form.get("outcome", ""),
            callback_on=_date(request.form.get("callback_on")),
            note=request.form.get("note"), today=centre_today())
    except SurveyError as exc:
        if exc.status == 404:
            abort(404)
        flash(f"{field_name(exc.field)}: {exc.message}", "error")
        return _back(slug)
    session.commit()
    flash(_("Attempt saved."), "ok")
    return _back(slug)


@bp.route("/waves/<slug>/calls/assign", methods=["POST"])
@auth.requires("operator")
def assign(slug: str) -> Any:
    session = db.session()
    wave = _wave_or_404(slug)
    try:
        ids = [form_row_id(value, "alumnus_ids") for value in request.form.getlist("alumnus_ids")
               if value.isdigit()]
        user_text = request.form.get("user", "")
        user_id = None if user_text == "none" else form_row_id(user_text, "user")
        changed = call_list.assign(session, wave, ids, user_id)
    except (SurveyError, ValueError) as exc:
        message = (f"{field_name(exc.field)}: {exc.message}" if isinstance(exc, SurveyError)
                   else str(exc))
        flash(message, "error")
        return _back(slug)
    if changed:
        auth.audit(session, auth.current_principal().name, "call_list.assign",
                   f"wave:{wave.slug}", alumni=len(ids), user=user_id)
    session.commit()
    flash(_("%(count)d alumni assigned.", count=changed) if user_id is not None
          else _("%(count)d alumni unassigned.", count=changed), "ok")
    return _back(slug)


@bp.route("/waves/<slug>/calls/<int:alumnus_id>/interview", methods=["POST"])
@auth.requires("operator")
def start_interview(slug: str, alumnus_id: int) -> Any:
    """Open the alumnus's form for staff to fill in on their behalf (by phone): the same
    form and checks, the mode and who entered it recorded (services/survey/interview.py).
    Audited, since it opens the alumnus's personal form."""
    session = db.session()
    wave = _wave_or_404(slug)
    alumnus = target_or_404(wave, alumnus_id)
    if wave.status != "open":
        flash(_("The wave is not open: no answers can be entered."), "error")
        return redirect(url_for(".call_list_page", slug=slug))
    if alumnus.erased_at is not None or alumnus.consent_withdrawn_at is not None:
        flash(_("This alumnus may not be contacted."), "error")
        return redirect(url_for(".call_list_page", slug=slug))
    auth.audit(session, auth.current_principal().name, "alumnus.interview",
               f"alumnus:{alumnus_id}", wave=slug)
    session.commit()
    interview.start(wave.id, alumnus_id)
    token = make_token(current_app.config["SECRET_KEY"], wave.id, alumnus_id)
    response = redirect(url_for("form.personal", token=token), 303)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/waves/<slug>/calls/<int:alumnus_id>")
@auth.requires("operator")
def attempts_page(slug: str, alumnus_id: int) -> Any:
    """One alumnus's whole history of attempts in the wave, and the form to record one (the
    call list's "Record a call" opens it when the page's script does not run)."""
    session = db.session()
    wave = _wave_or_404(slug)
    alumnus = target_or_404(wave, alumnus_id)
    return render_template(
        "survey/call_attempts.html", wave=wave, alumnus=alumnus,
        attempts=call_list.history(session, wave.id, [alumnus_id]).get(alumnus_id, []),
        outcomes=list(call_list.OUTCOMES), today=centre_today())
