"""Event day (kiosk) routes: unlock from the wave page, the kiosk page, its JSON, lock.

An operator unlocks a kiosk on the browser of a tablet or laptop: that browser's staff
session ends and it gets a kiosk pass for the wave (shared/auth.py `kiosk`), so the kiosk
reaches the kiosk's routes only. The page holds the wave's whole questionnaire at once
(every section, each condition with its full `data-if`), so form.js shows and hides offline;
kiosk.js (shared/static/kiosk.js) finds people in the cached name index, queues each answer
in IndexedDB under its response UUID and sends it here when the network allows. A resend of
a stored UUID is answered 200 and stores nothing (intake.submit's replay rule). What the
server refuses (another birth date, invalid answers) stays on the kiosk as "needs staff".
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from services.survey import intake, kiosk
from services.survey.form import asks_consent, iso_dates
from services.survey.form_view import problem_texts, section_view
from services.survey.questionnaire import is_visible, read_form, validate_answers
from services.survey.wave_pages import wave_or_404
from services.survey.waves import SurveyError, questionnaire, wave_info_by_id
from shared import auth, db, ratelimit
from shared.models import utcnow
from shared.web import static_url

bp = Blueprint("kiosk", __name__)
WORKER = Path(__file__).parents[2] / "shared" / "static" / "kiosk-sw.js"
IDLE_SECONDS = 120  # no touch for this long: the kiosk goes back to its start screen


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _held() -> dict[str, Any]:
    return g.jejak_kiosk  # set by the guard for every @auth.kiosk route


@bp.route("/waves/<slug>/kiosk", methods=["POST"])
@auth.requires("operator")
def unlock(slug: str) -> Any:
    """"Buka mode kiosk": this browser becomes the wave's kiosk and leaves the staff
    account, so whoever stands at it next reaches no staff page."""
    wave = wave_or_404(slug)
    if wave.status != "open":
        flash(_("Only an open wave can have a kiosk."), "error")
        return redirect(url_for("wave_pages.wave_page", slug=slug))
    principal = auth.current_principal()
    db_session = db.session()
    auth.audit(db_session, principal.name if principal else "?", "kiosk.unlock", wave.slug)
    db_session.commit()
    session.clear()
    response = redirect(url_for(".kiosk_page"))
    response.set_cookie(
        auth.KIOSK_COOKIE, auth.issue_kiosk_pass(wave.id),
        max_age=auth.KIOSK_HOURS * 3600, httponly=True, samesite="Strict",
        secure=current_app.session_interface.get_cookie_secure(current_app),
        path=(request.script_root or "") + "/")
    return response


@bp.route("/kiosk/")
@auth.kiosk
def kiosk_page() -> Any:
    db_session = db.session()
    wave = wave_info_by_id(db_session, _held()["wave"])
    if wave is None:
        return render_template("survey/form_message.html", message="invalid"), 404
    form = questionnaire(db_session, wave.questionnaire_id)
    every_key = frozenset(form.by_answer_key)
    sections = [section_view(form, section, {}, {}, page_keys=every_key)
                for section in form.sections]
    consent_at = next((s.key for s in form.sections if asks_consent(s)), None)
    return render_template(
        "survey/kiosk.html", wave=wave, sections=sections, idle_seconds=IDLE_SECONDS,
        consent_at=consent_at,
        offline_files=[static_url(name) for name in ("form.css", "favicon.svg", "form.js",
                                                     "kiosk.js")])


@bp.route("/kiosk/roster.json")
@auth.kiosk
def roster() -> Any:
    held = _held()
    return jsonify(kiosk.roster_index(db.session(), _secret(), held["wave"], held["nonce"]))


def _refused(reason: str, status: int = 422, **more: Any) -> Any:
    return jsonify({"refused": reason, **more}), status


def _birth_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _confirmed(db_session: Any, body: dict[str, Any]) -> tuple[Any, Any]:
    """(target, None) when the body names a target of the wave and their birth date, else
    (None, refusal). Birth-date misses count against the open link's identification limit,
    per person, so a kiosk cannot be used to try every date of one alumnus."""
    opaque = str(body.get("target", ""))[:64]
    person = f"kiosk:{opaque}"
    ratelimit.refuse_when_exhausted("identify", person)
    target = kiosk.target_of(db_session, _secret(), _held()["wave"], opaque)
    if target is None:
        return None, _refused("target")
    typed = _birth_date(body.get("birth_date"))
    if typed is None or not kiosk.same_birth_date(target, typed):
        ratelimit.charge("identify", person, refuse=False)
        return None, _refused("birth_date")
    return target, None


@bp.route("/kiosk/check", methods=["POST"])
@auth.kiosk
def check() -> Any:
    """Online, before the questions: does the birth date match the chosen person? (Offline
    the kiosk cannot know, holding no birth dates: the answer's own send checks again.)"""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _refused("body", 400)
    _target, refusal = _confirmed(db.session(), body)
    return refusal if refusal is not None else jsonify({"ok": True})


@bp.route("/kiosk/answers", methods=["POST"])
@auth.kiosk
def take_answer() -> Any:
    """One queued answer: {id (the response UUID), target, birth_date, fields (the form
    as URL-encoded text)}. 201 stored, 200 already stored (a resend), 422 refused (the
    kiosk keeps it for staff), 410 the wave takes no answers now."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _refused("body", 400)
    db_session = db.session()
    wave = wave_info_by_id(db_session, _held()["wave"])
    if wave is None or wave.refusal(utcnow()):
        return _refused("closed", 410)
    try:
        response_id = kiosk.answer_id(body.get("id"))
    except ValueError:
        return _refused("id")
    target, refusal = _confirmed(db_session, body)
    if refusal is not None:
        return refusal
    form = questionnaire(db_session, wave.questionnaire_id)
    fields_ = body.get("fields")
    posted: MultiDict[str, str] = MultiDict(parse_qsl(
        fields_ if isinstance(fields_, str) else "", keep_blank_values=True))
    parsed, problems = read_form(form, iso_dates(form, frozenset(form.by_answer_key), posted))
    answers = intake.prune(form, parsed)
    checked = validate_answers(form, answers, complete=True)
    # A field it could not read counts when its question applies: a hidden question's
    # leftover text is dropped, as its readable answers are (prune).
    problems = {**{key: found for key, found in problems.items()
                   if is_visible(form.by_answer_key[key], answers)}, **checked.problems}
    if problems:
        return _refused("answers", errors=problem_texts(form, problems, answers))
    try:
        _stored, new = intake.submit(db_session, submission_id=response_id, wave=wave,
                                     questionnaire=form, alumnus_id=target.alumnus_id,
                                     answers=checked.answers, source=kiosk.MODE)
    except intake.AnswersInvalid:
        return _refused("answers")
    except SurveyError as error:
        return _refused(error.field, error.status)  # 409: the UUID is another's
    db_session.commit()
    return jsonify({"stored": new}), 201 if new else 200


@bp.route("/kiosk/lock", methods=["POST"])
@auth.kiosk
def lock() -> Any:
    """The kiosk's pass goes, and the browser is told to clear what this site cached and
    stored (kiosk.js clears its cache, queue and worker itself as well)."""
    response = jsonify({"locked": True})
    response.delete_cookie(auth.KIOSK_COOKIE, path=(request.script_root or "") + "/")
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@bp.route("/sw.js")
@auth.public
def service_worker() -> Any:
    """The kiosk's service worker, at the survey's root so its scope is the survey's pages
    (it serves only the kiosk's own files from its cache; see kiosk-sw.js)."""
    response = current_app.response_class(WORKER.read_text(encoding="utf-8"),
                                          mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response
