"""The "Impor XLSForm" page (admin): upload an XLSForm, check it in words, save a version.

Upload, preview, save, like the roster import (services/survey/pending_imports.py): the
upload is kept as it came, 0600 under `<home>/imports/<id>-xlsform.<xlsx|xls>` (expired
with the other import files, shared/personal_files.py), and the preview is a GET page, so
the language switch shows it again in the other language. Nothing is stored until "Simpan
sebagai versi baru", which reads the file again under the key and version on that form and
stores it through `catalog.store_version`, the one path of the API and the CLI (audited
there). The importer either translates the form exactly or refuses it: the refusals are
listed one a line, and there is nothing to save.
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path, PurePath
from typing import IO, Any

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

from services.survey import catalog
from services.survey.questionnaire import DefinitionError, definition_from_xlsform
from services.survey.questionnaire.definition import MAX_VERSION
from services.survey.questionnaire.xlsform import XlsFormRefused
from services.survey.questionnaire_preview import preview
from services.survey.xlsform_words import worded_all
from shared import auth, db
from shared.models import Questionnaire as QuestionnaireRow
from shared.personal_files import IMPORTS, open_private, private_folder
from shared.uploads import UploadRejected, check_workbook

bp = Blueprint("questionnaire_import", __name__)
MARK = "-xlsform"
SUFFIXES = (".xlsx", ".xls")
_ID = re.compile(r"[0-9a-f]{32}")
QUESTIONNAIRE_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")  # as the definition's "key"


def read_xlsform(path: Path, *, key: str, version: int) -> tuple[dict[str, Any] | None,
                                                                  list[str]]:
    """The definition the XLSForm at `path` becomes, or why it is refused: one line per
    refusal, in the page's language, naming sheet, row and column.

    The one place the page and the CLI call the importer and word its refusals."""
    try:
        return definition_from_xlsform(path, key=key, version=version), []
    except XlsFormRefused as exc:
        return None, worded_all(exc.refusals)
    except DefinitionError as exc:  # the definition check after translation
        return None, [f"{where}: {message}" if where else message
                      for where, message in exc.problems]


def _home() -> Path:
    return Path(current_app.config["JEJAK_SETTINGS"].home)


def _stored(upload_id: str) -> Path | None:
    if not _ID.fullmatch(upload_id or ""):
        return None
    for suffix in SUFFIXES:
        path = _home() / IMPORTS / f"{upload_id}{MARK}{suffix}"
        if path.is_file():
            return path
    return None


def _store_upload(file: IO[bytes], filename: str) -> str:
    upload_id = uuid.uuid4().hex
    suffix = PurePath(filename).suffix.lower()
    folder = private_folder(_home() / IMPORTS)
    with open_private(folder / f"{upload_id}{MARK}{suffix}", "wb") as out:
        shutil.copyfileobj(file, out)
    return upload_id


def default_key(form_id: str | None, filename: str) -> str:
    """A questionnaire key from the form's `form_id` (settings sheet), else from the file
    name: lowercase letters, digits, '-' and '_', at most 64."""
    for source in (form_id or "", PurePath(filename).stem):
        slug = re.sub(r"[^a-z0-9_-]+", "-", source.strip().lower()).strip("-_")[:64]
        if slug:
            return slug
    return "xlsform"


def _form_id(path: Path) -> str | None:
    """The settings sheet's form_id, or None when it names none or the workbook cannot be
    read: this only proposes a key, and the preview says what is wrong with the file."""
    from pyxform.xls2json_backends import get_xlsform

    try:
        settings = get_xlsform(path).settings or []
    except Exception:  # noqa: BLE001 (any failure to read means no proposal, not a 500)
        return None
    form_id = settings[0].get("form_id") if settings else None
    return str(form_id) if form_id else None


def _version(text: str | None) -> int | None:
    """A version number from the form, or None when it is not one (1 to MAX_VERSION)."""
    text = (text or "").strip()
    if not re.fullmatch(r"[0-9]{1,10}", text) or not 1 <= int(text) <= MAX_VERSION:
        return None
    return int(text)


def _versions() -> list[QuestionnaireRow]:
    return list(db.session().scalars(
        select(QuestionnaireRow).order_by(QuestionnaireRow.key, QuestionnaireRow.version)))


def _upload_page(error: str | None = None, status: int = 200) -> Any:
    return render_template("survey/xlsform_import.html", error=error,
                           questionnaires=_versions()), status


@bp.route("/questionnaires/import", methods=["GET", "POST"])
@auth.requires("admin")
def upload() -> Any:
    """The upload form; a POST keeps the file and shows its preview."""
    if request.method == "GET":
        return _upload_page()
    file = request.files.get("file")
    if file is None or not file.filename:
        return _upload_page(_("Choose an XLSForm file (.xlsx or .xls)."), 422)
    try:
        check_workbook(file.stream, file.filename)
    except UploadRejected as exc:
        return _upload_page(_("The file cannot be read as an Excel workbook (.xlsx or .xls): "
                              "%(reason)s", reason=str(exc)), 422)
    key = request.form.get("key", "").strip()
    if key and not QUESTIONNAIRE_KEY.fullmatch(key):
        return _upload_page(_key_problem(), 422)
    version_text = request.form.get("version", "").strip()
    if version_text and _version(version_text) is None:
        return _upload_page(_version_problem(), 422)
    upload_id = _store_upload(file.stream, file.filename)
    typed = {name: value for name, value in (("key", key), ("version", version_text)) if value}
    return redirect(url_for(".check", upload_id=upload_id, name=file.filename[:200], **typed))


def _key_problem() -> str:
    return _("Key: use lowercase letters, digits, '-' or '_' (at most 64), starting with a "
             "letter or digit.")


def _version_problem() -> str:
    return _("Version: a whole number from 1 to %(most)s.", most=MAX_VERSION)


@bp.route("/questionnaires/import/<upload_id>", methods=["GET", "POST"])
@auth.requires("admin")
def check(upload_id: str) -> Any:
    """GET: the preview. POST ("Simpan sebagai versi baru"): store it as a new version."""
    path = _stored(upload_id)
    if path is None:
        abort(404)
    name = (request.values.get("name") or path.name)[:200]
    # Without a key: the form's form_id or the file name; without a version: the next free.
    key = request.values.get("key", "").strip() or default_key(_form_id(path), name)
    version_text = request.values.get("version", "").strip()
    version = _version(version_text) if version_text else (
        catalog.next_version(db.session(), key) if QUESTIONNAIRE_KEY.fullmatch(key) else None)
    problems = [] if QUESTIONNAIRE_KEY.fullmatch(key) else [_key_problem()]
    if version is None:
        problems.append(_version_problem())
    # With a key or version to fix, the form is still shown (read under stand-ins).
    definition, refusals = read_xlsform(path, key=key if not problems else "preview",
                                        version=version if not problems else 1)
    if problems or definition is None:
        return _preview_page(upload_id, name, key, version_text, definition,
                             problems + refusals, 422)
    session = db.session()
    if request.method == "GET":
        free = catalog.next_version(session, key)
        taken = session.scalar(select(QuestionnaireRow.id).where(
            QuestionnaireRow.key == key, QuestionnaireRow.version == version)) is not None
        return _preview_page(upload_id, name, key, free if taken else version, definition,
                             [_taken(key, version, free)] if taken else [])
    try:
        row = catalog.store_version(session, definition, auth.current_principal().name,
                                    source=name)
    except catalog.VersionTaken as exc:
        session.rollback()
        return _preview_page(upload_id, name, key, exc.free, definition,
                             [_taken(exc.key, exc.version, exc.free)], 409)
    except DefinitionError as exc:  # the importer's definition failed its own check
        session.rollback()
        return _preview_page(upload_id, name, key, version, None, [str(exc)], 422)
    session.commit()
    path.unlink(missing_ok=True)
    flash(_("Saved: %(title)s, key %(key)s, version %(version)s. Choose it when you create "
            "a wave.", title=row.title, key=row.key, version=row.version), "ok")
    return redirect(url_for(".upload"))


def _taken(key: str, version: int, free: int) -> str:
    return _("Version %(version)s of %(key)s exists already; versions are never changed. "
             "Save this form as version %(free)s.", key=key, version=version, free=free)


def _preview_page(upload_id: str, name: str, key: str, version: int | str,
                  definition: dict[str, Any] | None, problems: list[str],
                  status: int = 200) -> Any:
    language = str(get_locale() or "id")
    return render_template(
        "survey/xlsform_preview.html", upload_id=upload_id, filename=name, key=key,
        version=version, form=preview(definition, language) if definition else None,
        problems=problems,
    ), status
