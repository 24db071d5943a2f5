"""Staff pages for employers (survey admin): the company list, a company's page, adding a
company or a contact, merging duplicates, importing a list of partners. The rules live in
services/survey/employers.py and employer_import.py; these views parse, call, audit,
commit (docs/employers.md)."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from services.survey import employer_import, employer_privacy, employers, roster
from services.survey.roster import Problem, RosterFileError
from shared import auth, db
from shared.centre import applied
from shared.models import Employer, EmployerContact
from shared.tokens import employer_link
from shared.web import form_row_id, page_number, personal_data_download

bp = Blueprint("employer_pages", __name__)


def employer_labels() -> dict[str, str]:
    """Each field of a company, a contact and the import file as the pages name it."""
    return {
        "name": _("Name"),
        "kbli_section": _("Sector (KBLI section)"),
        "city": _("City"),
        "address": _("Address"),
        "phone": _("Phone"),
        "email": _("Email"),
        "position": _("Position"),
        "contact_name": _("Contact's name"),
        "contact_position": _("Contact's position"),
        "contact_phone": _("Contact's phone"),
        "contact_email": _("Contact's email"),
    }


def sentence(problem: Problem, labels: dict[str, str]) -> str:
    """A problem in the page's language naming the field (as the file named its column,
    when `labels` holds the file's headers)."""
    texts = {**roster.PROBLEM_TEXTS, **employers.PROBLEM_TEXTS}
    return problem.text(labels, _(texts[problem.code]))


def kbli_choices() -> list[tuple[str, str]]:
    return [(letter, _(name)) for letter, name in employers.KBLI_SECTIONS.items()]


def _actor() -> str:
    return auth.current_principal().name


@bp.route("/employers")
@auth.requires("operator")
def employer_list(**extra: Any) -> Any:
    search = request.args.get("q", "")[:200]
    page = page_number(request.args.get("page"))
    lines, has_next = employers.employer_list(db.session(), search, page=page)
    return render_template("survey/employers.html", lines=lines, search=search, page=page,
                           has_next=has_next, kbli=kbli_choices(), labels=employer_labels(),
                           posted=extra.get("posted", {}), errors=extra.get("errors", {})
                           ), extra.get("status", 200)


@bp.route("/employers", methods=["POST"])
@auth.requires("operator")
def add_employer() -> Any:
    """A company typed by staff: recorded, or found on record by the deduplication rule."""
    session = db.session()
    fields, problems = employers.check_employer(request.form)
    if problems or fields is None:
        labels = employer_labels()
        errors: dict[str, list[str]] = {}
        for problem in problems:
            errors.setdefault(problem.column, []).append(sentence(problem, labels))
        return employer_list(posted=request.form, errors=errors, status=422)
    employer, created = employers.record_employer(session, fields, source="staff")
    if created:
        auth.audit(session, _actor(), "employer.create", f"employer:{employer.id}",
                   name=employer.name)
        flash(_("Company %(name)s added.", name=employer.name), "ok")
    else:
        flash(_("%(name)s is already on record: its page is below.", name=employer.name), "ok")
    session.commit()
    return redirect(url_for(".employer_page", employer_id=employer.id))


@bp.route("/employers/<int:employer_id>")
@auth.requires("operator")
def employer_page(employer_id: int, **extra: Any) -> Any:
    session = db.session()
    try:
        shown = employers.employer_page(session, employer_id)
    except employers.EmployerError:
        abort(404)
    sections = dict(employers.KBLI_SECTIONS)
    return render_template(
        "survey/employer.html", **shown, kbli_name=sections.get(shown["employer"].kbli_section
                                                              or "", ""),
        duplicates=employers.others_with_key(session, shown["employer"]),
        labels=employer_labels(), posted=extra.get("posted", {}),
        errors=extra.get("errors", {}), links=extra.get("links", []),
        link_contact=extra.get("link_contact")), extra.get("status", 200)


@bp.route("/employers/<int:employer_id>/contacts", methods=["POST"])
@auth.requires("operator")
def add_contact(employer_id: int) -> Any:
    session = db.session()
    employer = session.get(Employer, employer_id)
    if employer is None:
        abort(404)
    fields, problems = employers.check_contact(request.form, reachable=True)
    if problems or fields is None:
        labels = employer_labels()
        errors: dict[str, list[str]] = {}
        for problem in problems:
            errors.setdefault(problem.column, []).append(sentence(problem, labels))
        return employer_page(employer_id, posted=request.form, errors=errors, status=422)
    contact, created = employers.record_contact(session, employer, fields, source="staff")
    if created:
        auth.audit(session, _actor(), "employer.contact_add", f"employer:{employer_id}",
                   contact=contact.id)
        flash(_("Contact %(name)s added.", name=contact.name), "ok")
    else:
        flash(_("%(name)s is already a contact of this company.", name=contact.name), "ok")
    session.commit()
    return redirect(url_for(".employer_page", employer_id=employer_id))


@bp.route("/employers/<int:employer_id>/contacts/<int:contact_id>/link", methods=["POST"])
@auth.requires("operator")
def contact_link(employer_id: int, contact_id: int) -> Any:
    """Show a contact's personal links (one per wave a consent names them in), to send by
    hand until an employer campaign sends them. The link is a credential: audited."""
    session = db.session()
    contact = session.get(EmployerContact, contact_id)
    if contact is None or contact.employer_id != employer_id:
        abort(404)
    settings = applied()
    links = [(slug, employer_link(settings.base_url, settings.secret_key, wave_id, contact_id))
             for wave_id, slug in employers.link_waves(session, contact_id)]
    auth.audit(session, _actor(), "employer.link_copy", f"employer:{employer_id}",
               contact=contact_id, links=len(links))
    session.commit()
    if not links:
        flash(_("No alumnus named this contact with consent: there is no link to send."),
              "error")
        return redirect(url_for(".employer_page", employer_id=employer_id))
    return employer_page(employer_id, links=links, link_contact=contact)


def _contact_or_404(employer_id: int, contact_id: int) -> EmployerContact:
    contact = db.session().get(EmployerContact, contact_id)
    if contact is None or contact.employer_id != employer_id:
        abort(404)
    return contact


@bp.route("/employers/<int:employer_id>/contacts/<int:contact_id>/export.json")
@auth.requires("admin")
def contact_export(employer_id: int, contact_id: int) -> Any:
    """A contact's own data (their right of access), for an admin to hand them; audited."""
    _contact_or_404(employer_id, contact_id)
    session = db.session()
    document = employer_privacy.export_contact(session, contact_id)
    auth.audit(session, _actor(), "employer.contact_export", f"employer:{employer_id}",
               contact=contact_id)
    session.commit()
    return personal_data_download(document, f"jejak-employer-contact-{contact_id}.json")


@bp.route("/employers/<int:employer_id>/contacts/<int:contact_id>/erase", methods=["POST"])
@auth.requires("admin")
def contact_erase(employer_id: int, contact_id: int) -> Any:
    """Erase a contact on their request (confirmed by typing their name); audited."""
    contact = _contact_or_404(employer_id, contact_id)
    session = db.session()
    if " ".join(request.form.get("confirm", "").split()) != contact.name:
        flash(_("Type the contact's name exactly to confirm."), "error")
        return redirect(url_for(".employer_page", employer_id=employer_id))
    removed = employer_privacy.erase_contact(session, contact_id)
    auth.audit(session, _actor(), "employer.contact_erase", f"employer:{employer_id}",
               contact=contact_id, consents_removed=removed)
    session.commit()
    flash(_("The contact's personal data was erased. What they answered stays, without "
            "their name."), "ok")
    return redirect(url_for(".employer_page", employer_id=employer_id))


@bp.route("/employers/<int:employer_id>/merge", methods=["POST"])
@auth.requires("operator")
def merge(employer_id: int) -> Any:
    """Fold a duplicate into this company (confirmed by a ticked box)."""
    session = db.session()
    try:
        duplicate_id = form_row_id(request.form.get("duplicate_id"), "duplicate_id")
    except ValueError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".employer_page", employer_id=employer_id))
    if request.form.get("confirm") != "yes":
        flash(_("Tick the box to confirm the merge."), "error")
        return redirect(url_for(".employer_page", employer_id=employer_id))
    try:
        merged = employers.merge_employers(session, employer_id, duplicate_id)
    except employers.EmployerError as exc:
        session.rollback()
        if exc.status == 404:
            abort(404)
        flash(_("A company cannot be merged into itself."), "error")
        return redirect(url_for(".employer_page", employer_id=employer_id))
    auth.audit(session, _actor(), "employer.merge", f"employer:{employer_id}",
               duplicate=duplicate_id, contacts_moved=merged.contacts_moved,
               contacts_joined=merged.contacts_joined)
    session.commit()
    flash(_("Merged: %(moved)d contacts moved, %(joined)d joined to one already here.",
            moved=merged.contacts_moved, joined=merged.contacts_joined), "ok")
    return redirect(url_for(".employer_page", employer_id=employer_id))


@bp.route("/employers/import", methods=["GET", "POST"])
@auth.requires("operator")
def import_page() -> Any:
    """Upload a list of industry partners (CSV or XLSX): recorded at once, deduplicated."""
    if request.method == "GET":
        return render_template("survey/employer_import.html", summary=None)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a CSV or XLSX file."), "error")
        return redirect(url_for(".import_page"))
    session = db.session()
    filename = upload.filename[:200]
    try:
        summary = employer_import.import_employers(session, upload.stream, filename)
    except RosterFileError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".import_page"))
    auth.audit(session, _actor(), "employers.import", filename, created=summary.created,
               matched=summary.matched, contacts=summary.contacts_added,
               rejected=len(summary.rejected))
    session.commit()
    labels = {**employer_labels(), **summary.titles}
    rejected = [(row.line, [sentence(problem, labels) for problem in row.problems])
                for row in summary.rejected[:100]]
    return render_template("survey/employer_import.html", summary=summary, filename=filename,
                           rejected=rejected)
