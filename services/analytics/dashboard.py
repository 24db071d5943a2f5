"""The staff dashboard of a wave, its routes: its indicators, filtered, as server-drawn SVG charts.

`GET /` shows the newest snapshot of the chosen wave (the indicators of docs/indicators.md,
computed from its cells by `indicators`), the response progress and the cross-wave trend,
which two small statements read (`dashboard_queries`); the page is built by
`dashboard_figures`, its numbers written by `dashboard_text` over `numbers`.
`POST /refresh` asks the worker for a full refresh.
Labels of answer codes come from the wave's questionnaire definition as stored in the
`questionnaires` table: analytics reads the table, it does not import the survey service.

Every figure goes through the small-group rule of the wave's cells (`disclosure`): a group
or figure over fewer than 5 respondents, or one from which such a figure could be worked
out, shows no number and says "n < 5" (these pages end up on projectors, and a viewer may
filter down to one person). A selection hidden as a whole shows nothing but a notice; hidden
programs are left out of the charts and named below them. An admin sees the figures
unsuppressed only with `unsuppressed=1`, which is audited.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
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
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from kombu.exceptions import OperationalError
from sqlalchemy import select

from services.analytics.dashboard_figures import build_page
from services.analytics.dashboard_queries import Filters
from services.analytics.employer_dashboard import employer_section
from shared import auth, db
from shared.models import Wave

log = logging.getLogger(__name__)
bp = Blueprint("dashboard", __name__)

REFRESH_TASK = "analytics.refresh"


def _settings() -> Any:
    return current_app.config["JEJAK_SETTINGS"]


def _choose_wave(waves: Sequence[Wave], slug: str | None) -> Wave | None:
    """The wave asked for (404 when unknown), else the newest open one, else the newest
    that ran, else the newest."""
    if slug:
        for wave in waves:
            if wave.slug == slug:
                return wave
        abort(404)
    for wanted in (("open",), ("open", "closed")):
        for wave in waves:
            if wave.status in wanted:
                return wave
    return waves[0] if waves else None


@bp.route("/")
@auth.requires("viewer")
def index() -> Any:
    session = db.session()
    waves = session.scalars(select(Wave).order_by(Wave.created_at.desc(), Wave.id.desc())).all()
    wave = _choose_wave(waves, request.args.get("wave"))
    filters = Filters.from_args(request.args)
    if filters.unsuppressed:
        principal = auth.current_principal()
        if not principal.may("admin"):
            abort(403)
        if wave is not None:
            auth.audit(session, principal.name, "dashboard.unsuppressed", wave.slug,
                       **{name: value for name, value in filters.as_args().items()
                          if name in ("program", "cohort", "gender")})
            session.commit()
    page = (build_page(session, wave, filters, timezone=_settings().timezone,
                       locale=str(get_locale())) if wave is not None else {})
    return render_template(
        "analytics/dashboard.html", waves=waves, wave=wave, filters=filters,
        genders=[("L", _("Men")), ("P", _("Women"))],
        computed_at=format_datetime(page["snapshot"].computed_at, "d MMM y, HH:mm")
        if page.get("snapshot") else None,
        employer=employer_section(session, wave, filters, page),  # "Pengguna lulusan"
        **page,
    )


@bp.route("/refresh", methods=["POST"])
@auth.requires("operator")
def refresh() -> Any:
    session = db.session()
    wave = session.scalar(select(Wave).where(Wave.slug == request.form.get("wave", "")))
    if wave is None:
        abort(404)
    back = {"wave": wave.slug, **Filters.from_args(request.form).as_args()}
    try:
        # No publish retries: with the broker down, say so now rather than hang the page.
        current_app.extensions["celery"].send_task(REFRESH_TASK, args=[wave.id], retry=False)
    except OperationalError:
        log.exception("could not queue %s for wave %s", REFRESH_TASK, wave.slug)
        flash(_("The task queue cannot be reached. Try again in a minute."), "error")
        return redirect(url_for(".index", **back))
    auth.audit(session, auth.current_principal().name, "analytics.refresh", wave.slug)
    session.commit()
    flash(_("Refresh requested. Reload this page in a minute to see the new figures."), "ok")
    return redirect(url_for(".index", **back))
