"""Staff access: passwords, API tokens, one guard for every route, login and logout.

Every view declares who may call it, with `@public` or `@requires(role)`. The guard runs
before every request of every service and refuses anything undeclared, so a new route
without a declaration is closed, not open.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import db, ratelimit
from shared.models import ApiToken, AuditEntry, User, utcnow

ROLES = ("viewer", "operator", "admin")  # each role may do everything the ones before it may
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
LOCKOUT_AFTER = 5
LOCKOUT_FOR = timedelta(minutes=15)
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


def token_digest(token: str) -> str:
    # Tokens are 256 bits of randomness, so a plain SHA-256 is enough to store them.
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(db_session: Session, username: str, password: str, role: str) -> User:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    user = User(username=username, password_hash=hash_password(password), role=role)
    db_session.add(user)
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
    if "jejak_principal" in g:
        return g.jejak_principal
    principal = _principal_from_bearer() or _principal_from_session()
    g.jejak_principal = principal
    return principal


# The guard reads in its own short session: on SQLite every transaction holds the write
# lock, and the request's session must not start (and hold it) before the view needs it.


def _principal_from_bearer() -> Principal | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    digest = token_digest(header.removeprefix("Bearer ").strip())
    with db.get_db().session_factory() as lookup:
        token = lookup.scalar(
            select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
        )
        if token is None:
            return None
        return Principal(name=f"token:{token.name}#{token.id}", role=token.role,
                         user_id=token.user_id)


def _principal_from_session() -> Principal | None:
    user_id = session.get("user_id")
    if user_id is None:
        return None
    with db.get_db().session_factory() as lookup:
        user = lookup.get(User, user_id)
        if user is None or not user.active:
            session.clear()
            return None
        return Principal(name=user.username, role=user.role, user_id=user.id)


def guard() -> Any:
    """before_request for every service: authenticate, authorise, check CSRF."""
    access = access_of(current_app, request.endpoint, request.method)
    if access != "public":
        principal = current_principal()
        if principal is None:
            if wants_json():
                abort(401)
            back = request.script_root + request.full_path.rstrip("?")
            return redirect(url_for("auth.login", next=back))
        if not principal.may(access):
            abort(403)
    # Cookie-authenticated writes need the CSRF token; bearer calls carry no cookie to forge.
    if (
        request.method not in ("GET", "HEAD", "OPTIONS")
        and access != "public"
        and not request.headers.get("Authorization", "").startswith("Bearer ")
    ):
        current_app.extensions["csrf"].protect()
    return None


# --- login and logout ------------------------------------------------------------------

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never bounce a fresh login to another host.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return request.script_root + "/"


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    from flask_wtf.csrf import validate_csrf
    from wtforms import ValidationError

    error = None
    status = 200
    if request.method == "POST":
        # Per address, before any password is checked: the lockout guards one account, this
        # guards against one address trying many accounts. Only failures count: a training
        # room signing in behind one address is not what is being stopped.
        ratelimit.refuse_when_exhausted("login", ratelimit.client_address())
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError:
            abort(400, _("The form expired. Please try again."))
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        db_session = db.session()
        user = db_session.scalar(select(User).where(User.username == username))
        now = utcnow()
        if user is not None and user.locked_until and user.locked_until > now:
            error, status = _("Too many failed attempts. Try again in 15 minutes."), 429
        elif user is None or not user.active or not verify_password(user.password_hash, password):
            if user is not None:
                user.failed_logins += 1
                if user.failed_logins >= LOCKOUT_AFTER:
                    user.locked_until = now + LOCKOUT_FOR
                    user.failed_logins = 0
            audit(db_session, username or "?", "login.failed")
            db_session.commit()
            ratelimit.charge("login", ratelimit.client_address(), refuse=False)
            error, status = _("Wrong username or password."), 401
        else:
            user.failed_logins = 0
            user.locked_until = None
            user.last_login_at = now
            audit(db_session, user.username, "login")
            db_session.commit()
            session.clear()
            session["user_id"] = user.id
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error), status


@bp.route("/logout", methods=["POST"])
@requires("viewer")
def logout() -> Any:
    principal = current_principal()
    if principal is not None:
        audit(db.session(), principal.name, "logout")
        db.session().commit()
    session.clear()
    return redirect(url_for("auth.login"))
