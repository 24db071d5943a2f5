"""Survey admin pages for staff: waves, roster import, the open link's QR code, alumni and
their data-subject rights (export, consent withdrawal, erasure), the audit log."""

from __future__ import annotations

import io
from datetime import date, datetime, time
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
from sqlalchemy import func, or_, select

from services.survey import catalog, pending_imports, privacy, roster, roster_template, waves
from services.survey.import_texts import describer, rejection_out
from services.survey.roster import RosterFileError
from services.survey.roster_import import REJECTED_SUFFIX, write_rejected_rows
from shared import audit_log, auth, db
from shared.centre import applied
from shared.models import Alumnus, Cohort, Message, Program, Response, Wave
from shared.models import Questionnaire as QuestionnaireRow
from shared.personal_files import IMPORTS
from shared.web import form_row_id, page_number, personal_data_download

bp = Blueprint("admin", __name__)
UPLOAD_TYPES = (".csv", ".xlsx")


def _settings() -> Any:
    return applied()  # shared/centre.py: the admin's public URL over the environment's


def _imports_dir() -> Path:
    return _settings().home / IMPORTS


@bp.route("/")
@auth.requires("operator")
def index(**extra: Any) -> Any:
    session = db.session()
    rows = session.scalars(select(Wave).order_by(Wave.created_at.desc())).all()
    summaries = {wave.id: waves.wave_summary(session, wave) for wave in rows}
    return render_template(
        "survey/index.html",
        waves=rows,
        summaries=summaries,
        programs=session.scalars(select(Program).order_by(Program.name)).all(),
        cohorts=session.execute(select(Cohort, Program.name).join(Program)
                                .order_by(Program.name, Cohort.label)).all(),
        questionnaires=session.scalars(
            select(QuestionnaireRow).where(QuestionnaireRow.key != catalog.EMPLOYER_KEY)
            .order_by(QuestionnaireRow.key, QuestionnaireRow.version)
        ).all(),
        base_url=_settings().base_url,
        **extra,
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
        program_ids = [form_row_id(value, "program_ids") for value in form.getlist("program_ids")]
        cohort_ids = [form_row_id(value, "cohort_ids") for value in form.getlist("cohort_ids")]
        # The same person traced twice by overlapping waves: said before, created on confirm.
        overlaps = waves.overlapping_waves(session, program_ids=program_ids,
                                           cohort_ids=cohort_ids)
        if overlaps and form.get("overlap_ok") != "yes":
            return index(overlaps=overlaps, pending=form)
        wave = waves.create_wave(
            session,
            slug=form.get("slug", "").strip().lower(),
            title=form.get("title", "").strip(),
            questionnaire_id=form_row_id(form.get("questionnaire_id"), "questionnaire_id"),
            closes_at=_end_of_day(form.get("closes_on", "")),
            program_ids=program_ids,
            cohort_ids=cohort_ids,
        )
    except (waves.SurveyError, ValueError) as exc:
        flash(str(getattr(exc, "message", exc)), "error")
        return redirect(url_for(".index"))
    auth.audit(session, auth.current_principal().name, "wave.create", wave.slug)
    session.commit()
    flash(_("Wave %(slug)s created. Open it to fix its target alumni.", slug=wave.slug) + " "
          + waves.indicator_coverage(wave.questionnaire.definition).sentence(), "ok")
    return redirect(url_for(".index"))


@bp.route("/waves/<slug>/<any(open, close):action>", methods=["POST"])
@auth.requires("operator")
def change_wave(slug: str, action: str) -> Any:
    session = db.session()
    wave = session.scalar(select(Wave).where(Wave.slug == slug))
    if wave is None:
        abort(404)
    if action == "close" and request.form.get("confirm") != "yes":
        # Closing is confirmed on the wave's page (it can be undone until a report is out).
        flash(_("Tick the box to confirm closing the wave."), "error")
        return redirect(url_for("wave_pages.wave_page", slug=slug))
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
    return redirect(url_for("wave_pages.wave_page", slug=slug) if action == "close"
                    else url_for(".index"))


@bp.route("/waves/<slug>/poster.pdf")
@auth.requires("operator")
def wave_poster(slug: str) -> Any:
    """The wave's printable QR poster (the same PDF as the API's /waves/<slug>/poster.pdf)."""
    from services.survey.poster import poster_pdf

    session = db.session()
    wave = session.scalar(select(Wave).where(Wave.slug == slug))
    if wave is None:
        abort(404)
    settings = applied(session=session)
    body = poster_pdf(settings.centre, wave.title, f"{settings.base_url}/survey/w/{slug}")
    return current_app.response_class(body, mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=poster-{slug}.pdf"})


@bp.route("/import", methods=["GET", "POST"])
@auth.requires("operator")
def import_page() -> Any:
    """Upload a roster: it is kept as a pending import and previewed before anything is
    written (services/survey/pending_imports.py)."""
    if request.method == "GET":
        return render_template("survey/import.html", summary=None)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a CSV or XLSX file."), "error")
        return redirect(url_for(".import_page"))
    if not upload.filename.lower().endswith(UPLOAD_TYPES):
        flash(_("Only CSV and XLSX files can be imported."), "error")
        return redirect(url_for(".import_page"))
    import_id = pending_imports.store_upload(_settings().home, upload.stream, upload.filename)
    return redirect(url_for(".import_preview", import_id=import_id, name=upload.filename))


@bp.route("/import/template.<any(csv, xlsx):kind>")
@auth.requires("operator")
def import_template(kind: str) -> Any:
    """The roster template: Indonesian headers and one example row."""
    data = roster_template.template_csv() if kind == "csv" else roster_template.template_xlsx()
    mimetype = ("text/csv" if kind == "csv" else
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                     download_name=f"template-alumni.{kind}")


def _filename() -> str:
    return (request.values.get("name") or "roster")[:200]


@bp.route("/import/<import_id>")
@auth.requires("operator")
def import_preview(import_id: str) -> Any:
    try:
        seen = pending_imports.preview(db.session(), _settings().home, import_id, _filename(),
                                       _settings().pii_key)
    except FileNotFoundError:
        abort(404)
    except RosterFileError as exc:
        pending_imports.discard(_settings().home, import_id)
        flash(str(exc), "error")
        return redirect(url_for(".import_page"))
    return render_template(
        "survey/import_preview.html", preview=seen, filename=_filename(),
        rejections=[rejection_out(r, seen.titles) for r in seen.rejections[:50]],
        field_names=_field_names(seen.titles))


def _field_names(titles: dict[str, str]) -> dict[str, str]:
    """The changed fields under the file's own column names (`nik`, `nama`, …)."""
    return {name: titles.get(name, roster.COLUMNS.get(name, name)) for name in roster.COLUMNS}


@bp.route("/import/<import_id>/<any(apply, discard):action>", methods=["GET", "POST"])
@auth.requires("operator")
def import_apply(import_id: str, action: str) -> Any:
    """Apply the pending import (with the suspicious updates the operator confirmed, one by
    one or all) or discard it. A GET (the language switch of the result page) goes back to
    the import page: only a POST changes anything."""
    if request.method == "GET":
        return redirect(url_for(".import_page", lang=request.args.get("lang")))
    home = _settings().home
    if pending_imports.pending_path(home, import_id) is None:
        abort(404)
    session = db.session()
    actor = auth.current_principal().name
    if action == "discard":
        pending_imports.discard(home, import_id)
        auth.audit(session, actor, "alumni.import_discard", _filename())
        session.commit()
        flash(_("The upload was discarded; nothing was imported."), "ok")
        return redirect(url_for(".import_page"))
    session.close()  # the import writes through its own sessions (SQLite: one writer)
    try:
        applied = pending_imports.apply(
            db.get_db().session_factory, home, import_id, _filename(),
            pii_key=_settings().pii_key, confirm=request.form.getlist("confirm"),
            confirm_all=bool(request.form.get("confirm_all")))
    except RosterFileError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".import_page"))
    summary = applied.summary
    rejected_name = None
    if summary.rejections:  # 0600 in <home>/imports, deleted after personal_files_days
        rejected_name = write_rejected_rows(home, summary.rejections, applied.titles,
                                            describer(applied.titles)).name
    session = db.session()
    auth.audit(session, actor, "alumni.import", _filename(), imported=summary.imported,
               updated=summary.updated, rejected=summary.rejected,
               identity_changes=applied.retired, held=len(applied.held))
    session.commit()
    return render_template(
        "survey/import.html", summary=summary, rejected_name=rejected_name,
        filename=_filename(), applied=applied,
        rejections=[rejection_out(r, applied.titles) for r in summary.rejections[:50]])


@bp.route("/imports/<name>")
@auth.requires("operator")
def rejected_download(name: str) -> Any:
    if not name.endswith(REJECTED_SUFFIX) or "/" in name or ".." in name:
        abort(404)
    path = _imports_dir() / name
    if not path.exists():
        abort(404)
    return send_file(path, mimetype="text/csv", as_attachment=True,
                     download_name="rejected-rows.csv")


# --- alumni and their rights (UU PDP) -------------------------------------------------------

PAGE_SIZE = 50


def _page_number() -> int:
    return page_number(request.args.get("page"))


@bp.route("/alumni")
@auth.requires("operator")
def alumni_list() -> Any:
    session = db.session()
    search = request.args.get("q", "").strip()[:100]
    query = (select(Alumnus, Cohort.label, Program.name)
             .join(Cohort, Cohort.id == Alumnus.cohort_id)
             .join(Program, Program.id == Cohort.program_id))
    if search:
        needle = search.lower()
        query = query.where(or_(
            func.lower(Alumnus.registration_no).contains(needle, autoescape=True),
            func.lower(Alumnus.full_name).contains(needle, autoescape=True)))
    page = _page_number()
    rows = session.execute(query.order_by(Alumnus.registration_no)
                           .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
    return render_template("survey/alumni.html", rows=rows[:PAGE_SIZE], search=search,
                           page=page, has_next=len(rows) > PAGE_SIZE)


def _alumnus_or_404(alumnus_id: int) -> Alumnus:
    alumnus = db.session().get(Alumnus, alumnus_id)
    if alumnus is None:
        abort(404)
    return alumnus


@bp.route("/alumni/<int:alumnus_id>")
@auth.requires("operator")
def alumnus_detail(alumnus_id: int) -> Any:
    session = db.session()
    alumnus = _alumnus_or_404(alumnus_id)
    cohort = session.get(Cohort, alumnus.cohort_id)
    counts = {
        "responses": session.scalar(select(func.count()).select_from(Response)
                                    .where(Response.alumnus_id == alumnus_id)),
        "messages": session.scalar(select(func.count()).select_from(Message)
                                   .where(Message.alumnus_id == alumnus_id)),
        "pending": session.scalar(select(func.count()).select_from(Message)
                                  .where(Message.alumnus_id == alumnus_id,
                                         Message.status.in_(("planned", "queued")))),
    }
    return render_template("survey/alumnus.html", alumnus=alumnus, cohort=cohort,
                           counts=counts, is_admin=auth.current_principal().may("admin"),
                           in_waves=waves.waves_of_alumnus(session, alumnus_id))


@bp.route("/alumni/<int:alumnus_id>/export.json")
@auth.requires("admin")
def alumnus_export(alumnus_id: int) -> Any:
    session = db.session()
    try:
        document = privacy.export_alumnus(session, alumnus_id, pii_key=_settings().pii_key)
    except privacy.PrivacyError as exc:
        abort(exc.status, exc.message)
    auth.audit(session, auth.current_principal().name, "alumnus.export", f"alumnus:{alumnus_id}")
    session.commit()
    return personal_data_download(document, f"jejak-alumnus-{alumnus_id}.json")


@bp.route("/alumni/<int:alumnus_id>/consent-withdrawal", methods=["POST"])
@auth.requires("operator")
def alumnus_withdraw_consent(alumnus_id: int) -> Any:
    session = db.session()
    try:
        recorded = privacy.withdraw_consent(session, alumnus_id, source="staff")
    except privacy.PrivacyError as exc:
        if exc.status == 404:
            abort(404)
        flash(exc.message, "error")
        return redirect(url_for(".alumnus_detail", alumnus_id=alumnus_id))
    auth.audit(session, auth.current_principal().name, "alumnus.consent_withdraw",
               f"alumnus:{alumnus_id}", recorded=recorded)
    session.commit()
    flash(_("Consent withdrawal recorded. No more messages go to this alumnus.")
          if recorded else _("Consent had already been withdrawn."), "ok")
    return redirect(url_for(".alumnus_detail", alumnus_id=alumnus_id))


@bp.route("/alumni/<int:alumnus_id>/erase", methods=["GET", "POST"])
@auth.requires("admin")
def alumnus_erase(alumnus_id: int) -> Any:
    session = db.session()
    alumnus = _alumnus_or_404(alumnus_id)
    if request.method == "GET" or alumnus.erased_at is not None:
        return render_template("survey/erase.html", alumnus=alumnus, error=None)
    # The confirmation step: the admin types the registration number of the person.
    if request.form.get("confirm", "").strip() != alumnus.registration_no:
        return render_template(
            "survey/erase.html", alumnus=alumnus,
            error=_("Type the registration number exactly to confirm."),
        ), 422
    try:
        erasure = privacy.erase_alumnus(session, alumnus_id, pii_key=_settings().pii_key,
                                        home=_settings().home)
    except privacy.FilesToDeleteByHand as exc:
        return render_template(
            "survey/erase.html", alumnus=alumnus, files=exc.paths,
            error=_("These files may hold this person's data and cannot be rewritten "
                    "without it. Delete them by hand (or wait until they expire), then "
                    "erase again."),
        ), 409
    auth.audit(session, auth.current_principal().name, "alumnus.erase", f"alumnus:{alumnus_id}",
               already_erased=erasure.already_erased,
               responses_deidentified=erasure.responses_deidentified,
               answers_removed=erasure.answers_removed,
               rejected_rows_removed=erasure.rejected_rows_removed)
    session.commit()
    flash(_("Personal data erased. The answers stay in the indicators without identity."), "ok")
    return redirect(url_for(".alumnus_detail", alumnus_id=alumnus_id))


# --- the audit log ------------------------------------------------------------------------


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.route("/audit")
@auth.requires("admin")
def audit_page() -> Any:
    session = db.session()
    filters = {"actor": request.args.get("actor", "").strip()[:120] or None,
               "action": request.args.get("action", "").strip()[:64] or None,
               "since": _day("since"), "until": _day("until")}
    page = _page_number()
    rows = session.scalars(
        audit_log.entries(**filters, timezone=_settings().timezone)
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    ).all()
    return render_template(
        "survey/audit.html", entries=rows[:PAGE_SIZE], filters=filters, page=page,
        has_next=len(rows) > PAGE_SIZE, actions=audit_log.known_actions(session),
        zone=ZoneInfo(_settings().timezone), sentence=audit_log.sentence,
    )
