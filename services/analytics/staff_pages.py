"""Staff pages of analytics beside the dashboard: reports (exports), the centre's settings,
the minimum wages (issue 14) and the decent-work presets (issue 18).

Each page calls the function its API twin calls (one code path): `start_export`
(exports_api), `shared.centre.check`/`save_centre` (settings_api) and `wages.set_wage`
(api); the presets page `decent_store.save_preset`. The pages add only forms, messages in
the user's language and redirects. Saving a wage or a preset queues a full refresh of the
waves it affects (decent work is weighed when cells are filled), and the page says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select

from services.analytics import numbers
from services.analytics.api_schemas import MinimumWageIn
from services.analytics.decent import PRESET_NAMES
from services.analytics.decent_store import (
    preset_rows,
    queue_refreshes,
    save_preset,
    waves_of_year,
)
from services.analytics.exports_api import QueueUnavailable, may_export, start_export
from services.analytics.reports.kinds import KINDS
from services.analytics.wages import (
    REGION_CHOICES,
    label,
    parse_rupiah,
    region_choice,
    rupiah_exact,
    set_wage,
)
from shared import auth, db
from shared.centre import SETTING_NAMES, centre, check, logo_data_url, save_centre
from shared.errors import DomainError
from shared.models import Cohort, Export, MinimumWage, Program, User, Wave
from shared.web import filter_id

bp = Blueprint("staff", __name__)

PAGE_EXPORTS = 50


@bp.app_template_global()
def wage_label(wage: MinimumWage) -> str:
    """ "UMK Kota Bontang 2026: Rp 3.799.480" for the dashboard's wage line."""
    return label(wage)


def _kind_labels() -> dict[str, str]:
    return {"xlsx": _("Indicator workbook (XLSX)"), "pdf": _("PDF report"),
            "csv": _("Indicator table (CSV)"), "raw_xlsx": _("Raw responses (XLSX)")}


def _status_labels() -> dict[str, str]:
    return {"queued": _("queued"), "running": _("running"), "done": _("done"),
            "failed": _("failed")}


def _size_text(size: int) -> str:
    if size < 1024:
        return _("%(n)s bytes", n=size)
    if size < 1024 * 1024:
        return _("%(n)s KB", n=numbers.decimal(size / 1024, 1, locale=get_locale()))
    return _("%(n)s MB", n=numbers.decimal(size / 1024 / 1024, 1, locale=get_locale()))


# --- reports ---------------------------------------------------------------------------------


@bp.route("/reports")
@auth.requires("viewer")
def reports() -> Any:
    """The export buttons per wave and filter, and the exports made so far."""
    session = db.session()
    principal = auth.current_principal()
    waves = session.scalars(select(Wave).order_by(Wave.created_at.desc(), Wave.id.desc())).all()
    chosen = request.args.get("wave") or (waves[0].slug if waves else None)
    rows = session.execute(
        select(Export, User.username).outerjoin(User, User.id == Export.created_by)
        .order_by(Export.created_at.desc()).limit(PAGE_EXPORTS)).all()
    kind_labels, status_labels = _kind_labels(), _status_labels()  # once, not per row
    exports = []
    for export, username in rows:
        path = Path(export.path) if export.path else None
        present = path is not None and path.is_file()
        exports.append({
            "row": export, "by": username or "-",
            "kind": kind_labels.get(export.kind, export.kind),
            "status": status_labels.get(export.status, export.status),
            "when": format_datetime(export.created_at, "d MMM y, HH:mm"),
            "size": _size_text(path.stat().st_size) if present and path else None,
            "expired": export.status == "done" and not present,
            "may_download": may_export(principal, export.kind,
                                        bool(export.params.get("unsuppressed"))),
            "active": export.status in ("queued", "running"),
        })
    kinds = [(kind, label) for kind, label in kind_labels.items()
             if may_export(principal, kind)]
    return render_template(
        "analytics/reports.html", waves=waves, chosen=chosen, kinds=kinds, exports=exports,
        programs=session.scalars(select(Program).order_by(Program.name)).all(),
        cohorts=session.execute(select(Cohort.id, Cohort.label, Program.name)
                                .join(Program, Program.id == Cohort.program_id)
                                .order_by(Program.name, Cohort.label)).all(),
        genders=[("L", _("Men")), ("P", _("Women"))],
        any_active=any(item["active"] for item in exports),
        retention_days=centre(session).retention_days,
        args=request.args)


@bp.route("/reports", methods=["POST"])
@auth.requires("viewer")
def start_report() -> Any:
    """Queue one export (the same `start_export` as POST /api/v1/exports)."""
    form = request.form
    kind = form.get("kind", "")
    back = {name: form[name] for name in ("wave", "program", "cohort", "gender")
            if form.get(name)}
    principal = auth.current_principal()
    if kind not in KINDS:
        flash(_("Choose a kind of report."), "error")
        return redirect(url_for(".reports", **back))
    if not may_export(principal, kind):
        abort(403)
    body = {"kind": kind, "wave": form.get("wave", ""),
            # An id past a database integer is a 400 naming the field, not an overflow (500).
            "program": filter_id(form.get("program"), "program"),
            "cohort": filter_id(form.get("cohort"), "cohort"),
            "gender": form.get("gender") if form.get("gender") in ("L", "P") else None}
    try:
        export = start_export(db.session(), principal, body)
    except DomainError as exc:
        messages = {"wave": _("Wave: no such wave, or its figures have not been computed yet "
                              "(refresh it on the dashboard)."),
                    "program": _("Program: no such program."),
                    "cohort": _("Cohort: no such cohort.")}
        flash(messages.get(exc.field, exc.message), "error")
        return redirect(url_for(".reports", **back))
    except QueueUnavailable:
        flash(_("The task queue cannot be reached. Try again in a minute."), "error")
        return redirect(url_for(".reports", **back))
    flash(_("%(kind)s is being made; it appears below when ready.",
            kind=_kind_labels()[kind]), "ok")
    return redirect(url_for(".reports", export=str(export.id), **back))


# --- settings --------------------------------------------------------------------------------


def _field_labels() -> dict[str, str]:
    return {
        "name": _("Centre name"), "short_name": _("Short name"), "address": _("Address"),
        "contact": _("Contact"), "head_name": _("Head of centre"),
        "head_nip": _("NIP of the head of centre"), "city": _("City (for dates and signature)"),
        "region_code": _("Region code (BPS) of the city or regency"),
        "region_name": _("City or regency"), "province_code": _("Province code (BPS)"),
        "province_name": _("Province"), "base_url": _("Public URL"),
        "quiet_hours": _("Quiet hours"), "timezone": _("Time zone"),
        "retention_days": _("Data retention (days)"), "logo": _("Logo"),
    }


def _problem_text(message: str) -> str:
    """The user's language for the messages of shared.centre.check and wages."""
    known = {
        "not a PNG or JPEG image": _("not a PNG or JPEG image"),
        "empty file": _("the file is empty"),
        "a whole number of days from 1 to 3650": _("a whole number of days from 1 to 3650"),
        "an address starting with http:// or https://":
            _("an address starting with http:// or https://"),
        "not a time zone, e.g. Asia/Makassar": _("not a time zone, e.g. Asia/Makassar"),
        "two times, e.g. 20:00-07:00": _("two times, e.g. 20:00-07:00"),
        "digits only": _("digits only"),
        "not an amount in rupiah, e.g. 3.799.480": _("not an amount in rupiah, e.g. 3.799.480"),
        "an amount from 1 to 999.999.999 rupiah": _("an amount from 1 to 999.999.999 rupiah"),
        "at most two decimals (sen)": _("at most two decimals (sen)"),
    }
    if message.startswith("larger than"):
        return _("larger than %(n)s KB", n=message.split()[2])
    if message.startswith("longer than"):
        return _("longer than %(n)s characters", n=message.split()[2])
    return known.get(message, message)


@bp.route("/settings", methods=["GET", "POST"])
@auth.requires("admin")
def settings_page() -> Any:
    """The centre's settings; saving calls the same check/save as PUT /api/v1/settings."""
    session = db.session()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values: dict[str, Any] = {name: request.form.get(name, "")
                                  for name in SETTING_NAMES if name != "logo"}
        upload = request.files.get("logo")
        if upload is not None and upload.filename:
            values["logo"] = upload.read(1024 * 1024 + 1)
        elif request.form.get("remove_logo"):
            values["logo"] = b""
        clean, errors = check(values)
        if not errors:
            save_centre(session, clean, auth.current_principal().name)
            session.commit()
            flash(_("Settings saved."), "ok")
            return redirect(url_for(".settings_page"))
        session.rollback()
    current = centre(session, fresh=True)  # what was saved, whichever worker saved it
    return render_template(
        "analytics/settings.html", centre=current, labels=_field_labels(),
        errors={name: [_problem_text(text) for text in texts]
                for name, texts in errors.items()},
        form=request.form if errors else None,
        logo=logo_data_url(current.logo)), 422 if errors else 200


# --- minimum wages ---------------------------------------------------------------------------


@bp.route("/minimum-wages", methods=["GET", "POST"])
@auth.requires("admin")
def wages_page() -> Any:
    """The minimum wages by year and region; saving calls `set_wage` like PUT
    /api/v1/minimum-wages."""
    session = db.session()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = request.form
        raw: dict[str, Any] = {name: form.get(name, "").strip() for name in (
            "year", "level", "region_code", "region_name", "source", "note")}
        # A region picked from the list (shared.regions) names its level, code and name.
        raw.update(region_choice(form.get("region", "")))
        amount = None
        try:
            amount = parse_rupiah(form.get("amount", ""))
        except ValueError as exc:
            errors["amount"] = [_problem_text(str(exc))]
        try:
            body = MinimumWageIn().load({**raw, "amount": str(amount or 1),
                                         "note": raw["note"] or None})
        except ValidationError as exc:
            errors.update({name: [_("This value is not valid.")]
                           for name in exc.messages})
        if not errors:
            body["amount"] = amount
            set_wage(session, body, auth.current_principal().name)
            session.commit()
            flash(_("Minimum wage saved."), "ok")
            _recompute(waves_of_year(session, body["year"]))
            return redirect(url_for(".wages_page"))
    wages = session.scalars(select(MinimumWage).order_by(
        MinimumWage.year.desc(), MinimumWage.level, MinimumWage.region_code)).all()
    current = centre(session)
    return render_template(
        "analytics/wages.html", wages=[(wage, rupiah_exact(wage)) for wage in wages],
        centre=current, errors=errors, form=request.form if errors else None,
        levels=[("city", _("UMK (city or regency)")), ("province", _("UMP (province)"))],
        regions=REGION_CHOICES, chosen_region=request.form.get("region", "") if errors else "",
    ), 422 if errors else 200


def _recompute(wave_ids: list[int]) -> None:
    """Queue the refresh a saved wage or preset needs, and say so on the next page."""
    if not wave_ids:
        return
    if queue_refreshes(wave_ids):
        flash(_("The figures of %(n)s waves are being recomputed with it; the dashboard shows "
                "them in a few minutes.", n=len(wave_ids)), "ok")
    else:
        flash(_("The task queue cannot be reached: the figures will be recomputed tonight."),
              "error")


# --- decent-work presets ---------------------------------------------------------------------


def _preset_labels() -> dict[str, str]:
    labels = {"pay_percent": _("Pay above (percent of the minimum wage)"),
              "contract_required": _("Employees need a written contract (PKWTT or PKWT)"),
              "further_study": _("Weight of further study (hundredths)")}
    for table, who in (("employee", _("Employees")), ("self_employed", _("Self-employed"))):
        labels.update({
            f"{table}.full_months": _("%(who)s: full weight when waiting under (months)",
                                      who=who),
            f"{table}.partial_months": _("%(who)s: partial weight when waiting under (months)",
                                         who=who),
            f"{table}.full": _("%(who)s: full weight (hundredths)", who=who),
            f"{table}.partial_paid": _("%(who)s: weight when later but paid above "
                                       "(hundredths)", who=who),
            f"{table}.partial_unpaid": _("%(who)s: weight when later and paid less "
                                         "(hundredths)", who=who),
        })
    return labels


def _preset_problem(message: str) -> str:
    if message.startswith("a whole number from"):
        low, high = message.split()[4], message.split()[6]
        return _("a whole number from %(low)s to %(high)s", low=low, high=high)
    return {"not more than the second limit": _("not more than the second limit"),
            "this preset cannot be changed": _("this preset cannot be changed")
            }.get(message, message)


@bp.route("/settings/decent-work", methods=["GET", "POST"])
@auth.requires("admin")
def decent_work_page() -> Any:
    """The decent-work presets: IKU 2 as published (read only) and the centre's own "blk",
    saved by `save_preset` (audited); saving queues a refresh of every open wave."""
    session = db.session()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        problems = save_preset(session, "blk", dict(request.form),
                               auth.current_principal().name)
        if not problems:
            session.commit()
            flash(_("The centre's decent-work rule was saved."), "ok")
            _recompute(waves_of_year(session, None))
            return redirect(url_for(".decent_work_page"))
        session.rollback()
        errors = {name: [_preset_problem(text)] for name, text in problems.items()}
    return render_template(
        "analytics/decent_work.html", presets=preset_rows(session), names=PRESET_NAMES,
        labels=_preset_labels(), errors=errors, form=request.form if errors else None,
    ), 422 if errors else 200

