"""Staff access: passwords, API tokens, one guard for every route, login and logout.

Every view declares who may call it, with `@public` or `@requires(role)`. The guard runs
before every request of every service and refuses anything undeclared, so a new route
without a declaration is closed, not open.

A request authenticates in one way only. With an `Authorization: Bearer` header it is the
token's, or nobody's when the token is not valid; the session cookie is then never read.
Without one, it is the session cookie's: signed, and refused when its user's
`session_version` has moved on (logout, a new password or role, deactivation) or when it
was last used longer ago than `Settings.session_idle_hours`. Any write that carries a
signed-in session cookie needs the CSRF token, whatever other headers come with it.

A third, narrow credential is the kiosk pass (`@kiosk` routes only): a signed cookie an
operator's unlock sets on one browser for one wave (services/survey/kiosk_pages.py). It
lets that browser reach the kiosk's routes and nothing else; its writes need the
`X-Jejak-Kiosk` header instead of the session's CSRF token (docs/security.md, "Kiosk").
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from shared import db, ratelimit
from shared.models import ApiToken, AuditEntry, LoginFailure, User, utcnow

ROLES = ("viewer", "operator", "admin")  # each role may do everything the ones before it may
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
# Failed sign-ins count per (username as typed, address). From SLOW_AFTER on, each next
# attempt from there waits 1, 2, 4 … seconds after the last failure; LOCKOUT_AFTER failures
# lock that pair for LOCKOUT_FOR. The owner elsewhere signs in as usual.
SLOW_AFTER = 3
LOCKOUT_AFTER = 10
LOCKOUT_FOR = timedelta(minutes=15)
USERNAME_MAX = 80  # User.username; a longer name matches no account
# The session cookie's last-seen time is rewritten when older than this: idle expiry is
# exact to these few minutes, and an active session is not re-signed on every request.
SEEN_EVERY_SECONDS = 300
_hasher = PasswordHasher()
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    """Whoever is calling: a signed-in user or an API token."""

    name: str
    role: str
    user_id: int | None = None

    def may(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


# --- passwords and tokens --------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    """A hash of nothing anyone knows, with the real hashes' cost: sign-in checks a password
    against it when no active account has the name, so both take one check's time."""
    return _hasher.hash(secrets.token_urlsafe(32))


def token_digest(token: str) -> str:
    # Tokens are 256 bits of randomness, so a plain SHA-256 is enough to store them.
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(db_session: Session, username: str, password: str, role: str) -> User:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    user = User(username=username, password_hash=hash_password(password), role=role)
    db_session.add(user)
    return user


def _user_named(db_session: Session, username: str) -> User:
    user = db_session.scalar(select(User).where(User.username == username))
    if user is None:
        raise LookupError(f"no staff account named {username!r}")
    return user


def end_sessions(user: User) -> None:
    """Every session cookie issued to `user` so far stops working (they carry the version)."""
    user.session_version = (user.session_version or 0) + 1


def change_password(db_session: Session, username: str, password: str, actor: str) -> User:
    """A new password; the sessions signed in with the old one end."""
    user = _user_named(db_session, username)
    user.password_hash = hash_password(password)
    end_sessions(user)
    audit(db_session, actor, "user.passwd", username)
    return user


def change_role(db_session: Session, username: str, role: str, actor: str) -> User:
    """A new role; open sessions end, so nobody keeps working under the old one."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    user = _user_named(db_session, username)
    previous, user.role = user.role, role
    end_sessions(user)
    audit(db_session, actor, "user.role", username, **{"from": previous, "to": role})
    return user


def deactivate_user(db_session: Session, username: str, actor: str) -> User:
    """The account can no longer sign in, and its open sessions end now."""
    user = _user_named(db_session, username)
    user.active = False
    end_sessions(user)
    audit(db_session, actor, "user.deactivate", username)
    return user


def create_token(db_session: Session, role: str, name: str = "cli") -> str:
    """Create an API token and return it; only its digest is stored."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    token = "jk_" + secrets.token_urlsafe(32)
    db_session.add(ApiToken(name=name, token_hash=token_digest(token), role=role))
    return token


def audit(
    db_session: Session, actor: str, action: str, target: str | None = None, **details: Any
) -> None:
    """Append one line to the audit log, in the caller's transaction."""
    ip = request.remote_addr if request else None
    db_session.add(AuditEntry(actor=actor, action=action, target=target, ip=ip, details=details))


# --- declaring access ------------------------------------------------------------------


def public(view: F) -> F:
    """Open to anyone: health, the survey form, unsubscribe, signed webhooks."""
    view._jejak_access = "public"  # type: ignore[attr-defined]
    return view


# The kiosk pass: an event day's length, then staff unlock again.
KIOSK = "kiosk"
KIOSK_COOKIE = "jejak_kiosk"
KIOSK_HEADER = "X-Jejak-Kiosk"
KIOSK_HOURS = 16


def kiosk(view: F) -> F:
    """Open to a browser holding a valid kiosk pass (`kiosk_pass`), and to no one else:
    not even a signed-in admin without one, so an unlocked kiosk reaches only these routes
    and staff sessions reach none of them by accident."""
    view._jejak_access = KIOSK  # type: ignore[attr-defined]
    return view


def _kiosk_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="jejak-kiosk")


def issue_kiosk_pass(wave_id: int) -> str:
    """The cookie value of a kiosk pass for `wave_id`; `nonce` names this unlock (the name
    search's key is derived from it, so each unlock hashes names differently)."""
    return _kiosk_signer().dumps({"wave": wave_id, "nonce": secrets.token_urlsafe(12)})


def kiosk_pass() -> dict[str, Any] | None:
    """The request's valid kiosk pass ({"wave", "nonce"}), else None (none, forged, or
    older than KIOSK_HOURS: the signed time is the expiry, a browser cannot renew it)."""
    value = request.cookies.get(KIOSK_COOKIE)
    if not value:
        return None
    try:
        held = _kiosk_signer().loads(value, max_age=KIOSK_HOURS * 3600)
    except BadSignature:
        return None
    if not isinstance(held, dict) or not isinstance(held.get("wave"), int):
        return None
    return held


def requires(role: str) -> Callable[[F], F]:
    if role not in ROLES:
        raise ValueError(role)

    def mark(view: F) -> F:
        view._jejak_access = role  # type: ignore[attr-defined]
        return view

    return mark


def access_of(app: Flask, endpoint: str | None, method: str) -> str:
    """The access a route declared; undeclared routes need admin (closed by default)."""
    if endpoint is None:
        return "public"  # 404s and the like: nothing to protect
    if endpoint == "static" or endpoint.endswith(".static"):
        return "public"
    if endpoint in app.config.get("JEJAK_PUBLIC_ENDPOINTS", ()):
        return "public"
    view = app.view_functions.get(endpoint)
    if view is None:
        return "admin"
    view_class = getattr(view, "view_class", None)
    if view_class is not None:  # flask-smorest MethodView: per-method, else the class
        method_view = getattr(view_class, method.lower(), None)
        declared = getattr(method_view, "_jejak_access", None) or getattr(
            view_class, "_jejak_access", None
        )
        if declared:
            return declared
    return getattr(view, "_jejak_access", "admin")


def wants_json() -> bool:
    return "/api/" in request.path or request.accept_mimetypes.best == "application/json"


def current_principal() -> Principal | None:
    """The token's principal when a bearer header is sent (None when the token is not
    valid: the cookie never stands in for it), else the session's."""
    if "jejak_principal" in g:
        return g.jejak_principal
    token = _bearer_token()
    principal = _principal_from_session() if token is None else _principal_from_bearer(token)
    g.jejak_principal = principal
    return principal


def api_principal() -> Principal | None:
    """The bearer token's principal, never a session's: for endpoints that are meant for
    tokens and personal links (the public intake) and so ignore cookies altogether."""
    return current_principal() if _bearer_token() is not None else None


def _bearer_token() -> str | None:
    """The token of an `Authorization: Bearer` header (the scheme in any case), else None.
    Other schemes (a proxy's Basic) are not Jejak's and leave the cookie in charge."""
    scheme, _space, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


# The guard reads in its own short session: on SQLite every transaction holds the write
# lock, and the request's session must not start (and hold it) before the view needs it.


def _principal_from_bearer(token: str) -> Principal | None:
    digest = token_digest(token)
    with db.get_db().session_factory() as lookup:
        row = lookup.scalar(
            select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
        )
        if row is None:
            return None
        return Principal(name=f"token:{row.name}#{row.id}", role=row.role, user_id=row.user_id)


def _principal_from_session() -> Principal | None:
    user_id = session.get("user_id")
    if user_id is None:
        return None
    now = int(time.time())
    seen = session.get("seen")
    idle = current_app.config["JEJAK_SETTINGS"].session_idle_hours * 3600
    if not isinstance(seen, int) or now - seen > idle:
        session.clear()  # idle too long (the time is signed: a browser cannot renew it)
        return None
    with db.get_db().session_factory() as lookup:
        user = lookup.get(User, user_id)
        if user is None or not user.active or session.get("sv") != user.session_version:
            session.clear()
            return None
        if now - seen >= SEEN_EVERY_SECONDS:
            session["seen"] = now
        return Principal(name=user.username, role=user.role, user_id=user.id)


def _start_session(user: User) -> None:
    session.clear()
    session["user_id"] = user.id
    session["sv"] = user.session_version
    session["seen"] = int(time.time())
    session.permanent = True


def guard() -> Any:
    """before_request for every service: authenticate, authorise, check CSRF."""
    access = access_of(current_app, request.endpoint, request.method)
    if access == KIOSK:
        return _kiosk_guard()
    if access != "public":
        principal = current_principal()
        if principal is None:
            if wants_json():
                abort(401)
            back = request.script_root + request.full_path.rstrip("?")
            return redirect(url_for("auth.login", next=back))
        if not principal.may(access):
            abort(403)
    # Writes need the CSRF token unless they come with a bearer token and no signed-in
    # session: a browser adds its cookie whatever else a forged request carries.
    if (
        request.method not in ("GET", "HEAD", "OPTIONS")
        and access != "public"
        and (_bearer_token() is None or "user_id" in session)
    ):
        current_app.extensions["csrf"].protect()
    return None


def _kiosk_guard() -> Any:
    """A kiosk route: the pass, else 401 (JSON) or the sign-in page (staff must unlock);
    a write also needs the kiosk header. A cross-site page can make a browser send the
    cookie with a form (were SameSite to fail) but cannot add a header without a CORS
    preflight, which nothing here answers. The session's CSRF token is not used: it
    expires, and answers queued offline are sent hours later."""
    held = kiosk_pass()
    if held is None:
        if wants_json() or request.method not in ("GET", "HEAD"):
            abort(401)
        back = request.script_root + request.full_path.rstrip("?")
        return redirect(url_for("auth.login", next=back))
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.headers.get(
            KIOSK_HEADER) != "1":
        abort(400, _("This kiosk request is missing its header. Reload the kiosk page."))
    g.jejak_kiosk = held
    return None


# --- login and logout ------------------------------------------------------------------

bp = Blueprint("auth", __name__)
# Never part of a redirect: C0 controls but tab, DEL and C1 controls. (A tab is legal in a
# header, and browsers drop it from URLs: "/\t/evil" is sent home like "//evil".)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


@bp.record_once
def _warm_dummy_hash(_state: Any) -> None:
    _dummy_hash()  # at start, so even the first unknown name costs no more than later ones


def _next_target(target: str | None) -> str:
    """Where to go after sign-in: `target` when it is a path on this site, else the service
    home. A control character cannot be in any redirect: 400 (it used to fail as a 500)."""
    home = request.script_root + "/"
    if not target:
        return home
    if _CONTROL.search(target):
        abort(400, _("The address to go back to after signing in is not valid."))
    # "//host" and "/\host" name another host to a browser, which also reads "\" as "/"
    # and drops tabs; a same-site path has neither scheme nor host.
    if (not target.startswith("/") or target.startswith("//")
            or "\\" in target or "\t" in target):
        return home
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else home


def _wait_after(failures: int) -> timedelta:
    """How long after the last of `failures` failures the next attempt must wait: the
    setting `login_slow_seconds` (JEJAK_LOGIN_SLOW_SECONDS, 1 s), doubling."""
    if failures >= LOCKOUT_AFTER:
        return LOCKOUT_FOR
    if failures < SLOW_AFTER:
        return timedelta(0)
    base = current_app.config["JEJAK_SETTINGS"].login_slow_seconds
    return timedelta(seconds=base * 2 ** (failures - SLOW_AFTER))


def _too_soon(db_session: Session, username: str, address: str, now: datetime) -> int:
    """Seconds this (username, address) must still wait before trying again; 0 if none."""
    failure = db_session.get(LoginFailure, (username, address))
    if failure is None or failure.last_failed_at <= now - LOCKOUT_FOR:
        return 0
    ready_at = failure.last_failed_at + _wait_after(failure.failures)
    return max(0, math.ceil((ready_at - now).total_seconds()))


def _count_failure(db_session: Session, username: str, address: str, now: datetime) -> None:
    """One more failure for (username, address), in one statement (concurrent failures
    add up instead of colliding); a count older than the lockout starts again at one, and
    stale rows of every pair go."""
    stale = now - LOCKOUT_FOR
    insert = db.insert_for(db_session)
    statement = insert(LoginFailure).values(
        username=username, address=address, failures=1, last_failed_at=now)
    db_session.execute(statement.on_conflict_do_update(
        index_elements=[LoginFailure.username, LoginFailure.address],
        set_={
            "failures": case((LoginFailure.last_failed_at <= stale, 1),
                             else_=LoginFailure.failures + 1),
            "last_failed_at": now,
        },
    ))
    db_session.execute(delete(LoginFailure).where(LoginFailure.last_failed_at <= stale))


def _failures_since(db_session: Session, username: str, since: datetime) -> str | None:
    """What the owner is told at sign-in: failed attempts on the name since `since`."""
    failed = (AuditEntry.actor == username, AuditEntry.action == "login.failed",
              AuditEntry.at > since)
    count = db_session.scalar(select(func.count()).select_from(AuditEntry).where(*failed))
    if not count:
        return None
    last = db_session.scalar(select(AuditEntry.ip).where(*failed)
                             .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(1))
    return ngettext(
        "%(num)d failed sign-in attempt since your last sign-in, the last from %(address)s.",
        "%(num)d failed sign-in attempts since your last sign-in, the last from %(address)s.",
        count, address=last or "?")


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    from flask_wtf.csrf import validate_csrf
    from wtforms import ValidationError

    target = _next_target(request.args.get("next"))
    error = None
    status = 200
    headers: dict[str, str] = {}
    if request.method == "POST":
        address = ratelimit.client_address()
        # Per address, before any password is checked: the per-(name, address) count below
        # guards one account, this guards against one address trying many accounts. Only
        # failures count: a training room signing in behind one address is not stopped.
        ratelimit.refuse_when_exhausted("login", address)
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError:
            abort(400, _("The form expired. Please try again."))
        username = request.form.get("username", "").strip()[:USERNAME_MAX]
        password = request.form.get("password", "")
        db_session = db.session()
        now = utcnow()
        # Names that exist and names that do not are counted, slowed and checked alike.
        wait = _too_soon(db_session, username, address, now)
        if wait:
            headers["Retry-After"] = str(wait)
            error, status = (
                _("Too many failed attempts. Wait %(seconds)d seconds and try again.",
                  seconds=wait) if wait < 120 else
                _("Too many failed attempts. Try again in %(minutes)d minutes.",
                  minutes=math.ceil(wait / 60))), 429
            db_session.rollback()
        else:
            user = db_session.scalar(select(User).where(User.username == username))
            known = user is not None and user.active
            checked = verify_password(user.password_hash if known else _dummy_hash(), password)
            if not (known and checked):
                _count_failure(db_session, username, address, now)
                audit(db_session, username or "?", "login.failed")
                db_session.commit()
                ratelimit.charge("login", address, refuse=False)
                error, status = _("Wrong username or password."), 401
            else:
                assert user is not None  # known
                db_session.execute(delete(LoginFailure).where(
                    LoginFailure.username == username, LoginFailure.address == address))
                notice = _failures_since(db_session, user.username,
                                         user.last_login_at or user.created_at)
                user.last_login_at = now
                audit(db_session, user.username, "login")
                db_session.commit()
                _start_session(user)
                if notice:
                    flash(notice, "warning")
                return redirect(target)
    return render_template("login.html", error=error), status, headers


@bp.route("/logout", methods=["POST"])
@requires("viewer")
def logout() -> Any:
    """Sign out: every session of the account ends, copies of this cookie included."""
    principal = current_principal()
    if principal is not None:
        db_session = db.session()
        if principal.user_id is not None and _bearer_token() is None:
            user = db_session.get(User, principal.user_id)
            if user is not None:
                end_sessions(user)
        audit(db_session, principal.name, "logout")
        db_session.commit()
    session.clear()
    return redirect(url_for("auth.login"))
