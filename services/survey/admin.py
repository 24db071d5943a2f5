"""Survey admin pages for staff: waves, roster import, the open link's QR code."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from services.survey import waves
from services.survey.roster import RosterFileError, read_rows, write_rejections_csv
from services.survey.roster_import import import_roster
from shared import auth, db
from shared.models import Program, Wave
from shared.models import Questionnaire as QuestionnaireRow

bp = Blueprint("admin", __name__)
UPLOAD_TYPES = (".csv", ".xlsx")


def _settings() -> Any:
    return current_app.config["JEJAK_SETTINGS"]


def _imports_dir() -> Path:
    folder = _settings().home / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@bp.route("/")
@auth.requires("operator")
def index() -> Any:
    session = db.session()
    rows = session.scalars(select(Wave).order_by(Wave.created_at.desc())).all()
    summaries = {wave.id: waves.wave_summary(session, wave) for wave in rows}
    return render_template(
        "survey/index.html",
        waves=rows,
        summaries=summaries,
        programs=session.scalars(select(Program).order_by(Program.name)).all(),
        questionnaires=session.scalars(
            select(QuestionnaireRow).order_by(QuestionnaireRow.key, QuestionnaireRow.version)
        ).all(),
        base_url=_settings().base_url,
    )


def _end_of_day(value: str) -> datetime | None:
    if not value:
        return None
    day = datetime.strptime(value, "%Y-%m-%d").date()
    return datetime.combine(day, time(23, 59), tzinfo=ZoneInfo(_settings().timezone))


@bp.route("/waves", methods=["POST"])
@auth.requires("operator")
def create_wave() -> Any:
    session = db.session()
    form = request.form
    try:
        wave = waves.create_wave(
            session,
            slug=form.get("slug", "").strip().lower(),
            title=form.get("title", "").strip(),
            questionnaire_id=int(form.get("questionnaire_id") or 0),
            closes_at=_end_of_day(form.get("closes_on", "")),
            program_ids=[int(value) for value in form.getlist("program_ids")],
        )
    except (waves.SurveyError, ValueError) as exc:
        flash(str(getattr(exc, "message", exc)), "error")
        return redirect(url_for(".index"))
    auth.audit(session, auth.current_principal().name, "wave.create", wave.slug)
    session.commit()
    flash(_("Wave %(slug)s created. Open it to fix its target alumni.", slug=wave.slug), "ok")
    return redirect(url_for(".index"))


@bp.route("/waves/<slug>/<any(open, close):action>", methods=["POST"])
@auth.requires("operator")
def change_wave(slug: str, action: str) -> Any:
    session = db.session()
    wave = session.scalar(select(Wave).where(Wave.slug == slug))
    if wave is None:
        abort(404)
    try:
        if action == "open":
            population = waves.open_wave(session, wave)
            flash(_("Wave opened for %(n)d alumni.", n=population), "ok")
        else:
            waves.close_wave(session, wave)
            flash(_("Wave closed. It accepts no more answers."), "ok")
    except waves.SurveyError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".index"))
    auth.audit(session, auth.current_principal().name, f"wave.{action}", slug)
    session.commit()
    return redirect(url_for(".index"))


@bp.route("/import", methods=["GET", "POST"])
@auth.requires("operator")
def import_page() -> Any:
    if request.method == "GET":
        return render_template("survey/import.html", summary=None)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a CSV or XLSX file."), "error")
        return redirect(url_for(".import_page"))
    if not upload.filename.lower().endswith(UPLOAD_TYPES):
        flash(_("Only CSV and XLSX files can be imported."), "error")
        return redirect(url_for(".import_page"))
    try:
        summary = import_roster(
            db.get_db().session_factory, read_rows(upload.stream, upload.filename),
            pii_key=_settings().pii_key,
        )
    except RosterFileError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".import_page"))
    rejected_name = None
    if summary.rejections:
        rejected_name = f"{uuid.uuid4().hex}-rejected.csv"
        with open(_imports_dir() / rejected_name, "w", newline="", encoding="utf-8") as out:
            write_rejections_csv(summary.rejections, out)
    session = db.session()
    auth.audit(session, auth.current_principal().name, "alumni.import", upload.filename,
               imported=summary.imported, updated=summary.updated, rejected=summary.rejected)
    session.commit()
    return render_template("survey/import.html", summary=summary, rejected_name=rejected_name,
                           filename=upload.filename)


@bp.route("/imports/<name>")
@auth.requires("operator")
def rejected_download(name: str) -> Any:
    if not name.endswith("-rejected.csv") or "/" in name or ".." in name:
        abort(404)
    path = _imports_dir() / name
    if not path.exists():
        abort(404)
    return send_file(path, mimetype="text/csv", as_attachment=True,
                     download_name="rejected-rows.csv")
