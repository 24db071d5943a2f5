"""What every service app has: config, database, Celery, i18n, the guard, health, errors.

Each service's `create_app(config)` calls `create_service_app` and adds its own routes
(Flask tutorial `flaskr`: an app factory, extensions through init_app).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FunctionType
from typing import Any, NoReturn, TypeVar

import redis
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    jsonify,
    make_response,
    render_template,
    request,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect
from marshmallow import Schema, fields, validate
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from swagger_ui_bundle import swagger_ui_path
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from shared import auth, db, glossary, i18n, logs, metrics, ratelimit
from shared.celery_app import celery_init_app
from shared.config import Settings
from shared.errors import DomainError

_Row = TypeVar("_Row")

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"

shared_bp = Blueprint(
    "jejak",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/_jejak",
)


swagger_bp = Blueprint(
    "swagger_ui", __name__, static_folder=swagger_ui_path, static_url_path="/_swagger"
)


# Ids are 32-bit integers in PostgreSQL; a larger one names no row.
MAX_ROW_ID = 2**31 - 1


def row_id(**kwargs: Any) -> fields.Integer:
    """An id in a query or body, bounded so a huge number is a 422, not a driver overflow."""
    return fields.Integer(validate=validate.Range(1, MAX_ROW_ID), **kwargs)


def _whole_number(value: str | None) -> int | None:
    """`value` as an int, None when absent or not a number: the one reading behind the three
    parsers below, which differ only in what they make of None and of a number out of range."""
    try:
        return int(value or "")
    except ValueError:
        return None


def _choose_from_list(field: str) -> str:
    return _("%(field)s: choose one from the list.", field=field)


def form_row_id(value: str | None, field: str) -> int:
    """An id typed into a staff page's form or query string, as `row_id` bounds it.

    Raises ValueError naming `field` in the page's language (the pages flash it) for text
    that is no id or one past MAX_ROW_ID: handed to the driver, such a number fails as an
    overflow (500) instead of naming the field.
    """
    number = _whole_number(value)
    if number is None or not 1 <= number <= MAX_ROW_ID:
        raise ValueError(_choose_from_list(field))
    return number


def filter_id(value: str | None, field: str) -> int | None:
    """An id filtering a staff page (?program=, ?cohort=): None when absent or not a number
    (the page shows everything), a 400 naming `field` outside 1..MAX_ROW_ID."""
    number = _whole_number(value)
    if number is not None and not 1 <= number <= MAX_ROW_ID:
        abort(400, description=_choose_from_list(field))
    return number


def page_number(value: str | None) -> int:
    """?page= of a staff page: 1 when absent or not a number, 400 past MAX_ROW_ID."""
    page = _whole_number(value)
    if page is None:
        return 1
    if page > MAX_ROW_ID:
        abort(400, description=_("page: at most %(n)d.", n=MAX_ROW_ID))
    return max(1, page)


def personal_data_download(document: Any, filename: str) -> Any:
    """A person's data (an alumnus's or an employer contact's export) as a JSON attachment
    that no cache keeps."""
    response = current_app.response_class(
        json.dumps(document, ensure_ascii=False, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    response.headers["Cache-Control"] = "no-store"
    return response


class RowIdConverter(IntegerConverter):
    """`<int:...>` bounded to a database integer: a larger id names no row (404), whereas
    handing it to the driver fails with an overflow (500)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(url_map, *args, **kwargs)


def settings_of(app: Flask) -> Settings:
    return app.config["JEJAK_SETTINGS"]


class JejakFlask(Flask):
    """Flask, remembering which functions are plain (not coroutines).

    Flask asks `inspect.iscoroutinefunction` of every hook and view on every request (a
    dozen per request here, 5 % of an intake request's CPU); a function does not change
    kind, so the answer is kept. Bound methods (a MethodView's) are new objects each time
    and are asked as before.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain: set[Callable[..., Any]] = set()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if func in self._plain:
            return func
        synced = super().ensure_sync(func)
        if synced is func and type(func) is FunctionType:
            self._plain.add(func)
        return synced


def create_service_app(
    name: str, import_name: str, config: dict[str, Any] | None = None, *, home_page: bool = True
) -> Flask:
    logs.install()  # before anything logs: no phone or email reaches any handler
    config = dict(config or {})
    settings: Settings = config.pop("JEJAK_SETTINGS", None) or Settings.from_env()
    settings.check()
    app = JejakFlask(import_name)
    # Answers are written in the order they were built; sorting every object's keys cost
    # the intake's reply (forty answers) more than writing it.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.converters["int"] = RowIdConverter  # before any route is added
    app.config.update(settings.flask_config())
    app.config.update(config)
    app.config["JEJAK_SERVICE"] = name
    app.config.setdefault("API_TITLE", f"Jejak {name}")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    # Interactive docs from the swagger-ui-bundle wheel: no CDN, works offline.
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", "docs")
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", f"/{name}/_swagger/")

    db.Database.for_url(settings.database_url).init_app(app)
    celery_init_app(app, settings)
    i18n.init_app(app)
    CSRFProtect(app)
    metrics.init_app(app)  # first: a request the guard turns away is counted too
    app.before_request(auth.guard)
    ratelimit.init_app(app)
    app.register_blueprint(shared_bp)
    app.register_blueprint(swagger_bp)
    app.register_blueprint(auth.bp)
    glossary.init_app(app)  # the glossary in templates and the help page, /help
    app.add_url_rule("/healthz", "healthz", healthz)
    if home_page:  # services with their own start page register "/" themselves
        app.add_url_rule("/", "home", home)
    app.register_error_handler(HTTPException, handle_http_error)
    register_database_outage_handler(app)
    app.context_processor(_layout_context)
    app.after_request(security_headers)
    app.session_interface = CookieSessions()
    return app


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the signer or the cookie settings
    for a request that carries no session and sets none (every alumnus and API call)."""

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        if self.get_cookie_name(app) not in request.cookies and app.secret_key:
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        # Secure in production, and on any request that came over HTTPS: through a TLS proxy
        # this is what a trusted X-Forwarded-Proto says (JEJAK_PROXY_HOPS, services/cli.py).
        return super().get_cookie_secure(app) or request.is_secure

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        if not session and not session.modified:  # nothing to set, nothing to delete
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


# No inline script anywhere (the pages load their scripts from /_jejak/), no inline style
# (the SVG charts use presentation attributes, not `style`): an injected tag or handler does
# not run even where escaping were to fail. img data: is for the Swagger UI's icons.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The Swagger UI (a vendored React bundle) sets style attributes itself; it shows no data.
DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # survey links carry tokens: never leak them off-site
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP level 2
    "Cross-Origin-Opener-Policy": "same-origin",
}


_NO_STORE = frozenset({"text/html", "application/json", PROBLEM_JSON})
IMMUTABLE = "public, max-age=31536000, immutable"
_STATIC = Path(__file__).parent / "static"
_VERSIONS: dict[tuple[str, float], str] = {}


def static_url(filename: str) -> str:
    """The URL of a file in shared/static with `?v=` the start of its content's SHA-256.

    Cached per (file, mtime): one stat per use, the hash once per change of the file.
    """
    path = _STATIC / filename
    key = (filename, path.stat().st_mtime)
    version = _VERSIONS.get(key)
    if version is None:
        version = _VERSIONS[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return url_for("jejak.static", filename=filename, v=version)


# What `jejak up` compresses (the compose gateway's nginx does the same, deploy/nginx.conf):
# pages, styles and scripts. Not JSON: the intake's replies are small and CPU-bound.
COMPRESSIBLE = frozenset({"text/html", "text/css", "text/javascript", "application/javascript",
                          "image/svg+xml"})


class Compress:
    """WSGI middleware: gzip for HTML, CSS, JS and SVG when the browser accepts it.

    For `jejak up`, where browsers reach gunicorn directly. Only answers of those types
    above `minimum` bytes are compressed (whole: they are a few KB); every other answer
    passes through untouched, streamed as before. A strong ETag becomes weak,
    since the bytes differ from the file's.
    """

    def __init__(self, app: Any, *, minimum: int = 512, level: int = 6) -> None:
        self.app, self.minimum, self.level = app, minimum, level

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if ("gzip" not in environ.get("HTTP_ACCEPT_ENCODING", "").lower()
                or environ.get("REQUEST_METHOD") == "HEAD"):
            return self.app(environ, start_response)
        held: dict[str, Any] = {}
        written: list[bytes] = []

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            held.update(status=status, headers=headers, exc_info=exc_info)
            return written.append

        body = self.app(environ, hold)
        headers = Headers(held["headers"])
        mimetype = headers.get("Content-Type", "").split(";")[0].strip().lower()
        if (mimetype not in COMPRESSIBLE or "Content-Encoding" in headers
                or held["status"][:3] in ("204", "304")):  # no body to compress
            start_response(held["status"], held["headers"], held["exc_info"])
            return [*written, *body] if written else body
        vary = headers.get("Vary")
        headers["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
        try:
            data = b"".join([*written, *body])
        finally:
            if hasattr(body, "close"):
                body.close()
        if len(data) >= self.minimum:
            data = gzip.compress(data, self.level, mtime=0)
            headers["Content-Encoding"] = "gzip"
            etag = headers.get("ETag")
            if etag and not etag.startswith("W/"):
                headers["ETag"] = "W/" + etag
        headers["Content-Length"] = str(len(data))
        start_response(held["status"], headers.to_wsgi_list(), held["exc_info"])
        return [data]


def security_headers(response: Any) -> Any:
    """after_request for every service: CSP, nosniff, referrer policy, no framing."""
    docs = (request.endpoint or "").startswith("api-docs.")
    wanted = {
        "Content-Security-Policy": DOCS_CONTENT_SECURITY_POLICY if docs
        else CONTENT_SECURITY_POLICY,
        **SECURITY_HEADERS,
    }
    if settings_of(current_app).env == "production" or request.is_secure:
        wanted["Strict-Transport-Security"] = "max-age=31536000"
    # Pages and answers with personal data stay out of shared caches and the back button.
    if response.mimetype in _NO_STORE:
        wanted["Cache-Control"] = "no-store"
    # A versioned static URL (static_url) names one content for ever: browsers keep it a
    # year and never ask again; a changed file gets a new URL. Flask's own "no-cache" goes.
    if request.endpoint == "jejak.static" and request.args.get("v"):
        response.headers["Cache-Control"] = IMMUTABLE
    # A view's own value wins; one pass over the headers instead of a search per header
    # (Headers.setdefault), on every response of every service.
    present = {key.lower() for key, _ in response.headers}
    response.headers.extend(
        (header, value) for header, value in wanted.items() if header.lower() not in present
    )
    return response


class Page(Schema):
    """?page=&per_page= for every list endpoint."""

    page = fields.Integer(load_default=1, validate=validate.Range(1, MAX_ROW_ID))
    per_page = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


def page_of(statement: Any, query: dict[str, Any]) -> Any:
    """The rows of one page of `statement`, as Page's arguments ask."""
    offset = (query["page"] - 1) * query["per_page"]
    return db.session().scalars(statement.offset(offset).limit(query["per_page"])).all()


class ProblemSchema(Schema):
    """An error answer (RFC 9457 problem details), as `problem` writes it: what the API
    documents for every error is what it sends."""

    type = fields.String(metadata={"description": "always about:blank"})
    title = fields.String(metadata={"description": "the HTTP status phrase"})
    status = fields.Integer(metadata={"description": "the HTTP status code"})
    detail = fields.String(metadata={"description": "what went wrong, in the caller's language"})
    errors = fields.Dict(metadata={"description": "messages per field (validation, 422)"})


class JejakApi(Api):
    """flask-smorest's Api, documenting errors as the problem+json they are.

    flask-smorest documents its own error body (code, status, message) as application/json;
    Jejak answers every error through `handle_http_error`, so the documents say that.
    """

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_JSON  # only while errors are registered
        try:
            super()._register_responses()
        finally:
            del self.DEFAULT_RESPONSE_CONTENT_TYPE


def create_api(app: Flask) -> Api:
    """The service's flask-smorest Api, answering errors as problem+json.

    Its document names the service's prefix as its server (`/survey`): the paths in it are
    relative to the service, so Swagger's "Try it out" and generated clients need the prefix
    the gateway and `jejak up` mount the service under.
    """
    service = app.config["JEJAK_SERVICE"]
    options = app.config.setdefault("API_SPEC_OPTIONS", {})
    options.setdefault("servers", [{"url": f"/{service}",
                                    "description": f"the {service} service"}])
    api = JejakApi(app)
    # flask-smorest registers its own JSON error handler; ours is the one contract.
    app.register_error_handler(HTTPException, handle_http_error)
    # The OpenAPI document and its viewer are public: they describe, they reveal no data.
    app.config["JEJAK_PUBLIC_ENDPOINTS"] = {
        endpoint for endpoint in app.view_functions if endpoint.startswith("api-docs.")
    }
    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "description": "jejak token create"}
    )
    return api


@auth.public
def healthz() -> Any:
    """Database and broker reachable? 200 when both are, else 503 naming the failure."""
    from flask import current_app

    checks: dict[str, str] = {}
    try:
        db.session().execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # health must answer, whatever broke
        checks["database"] = f"error: {type(exc).__name__}"
    redis_url = settings_of(current_app).redis_url
    try:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"error: {type(exc).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    body = {"status": "ok" if healthy else "error", "service": current_app.config["JEJAK_SERVICE"]}
    body.update(checks)
    return jsonify(body), 200 if healthy else 503


@auth.requires("viewer")
def home() -> Any:
    from flask import current_app

    return render_template("service_home.html", service=current_app.config["JEJAK_SERVICE"])


def get_or_404(model: type[_Row], row_id: Any, what: str) -> _Row:
    """The row with this primary key, or a 404 problem+json saying which kind was missing."""
    from flask_smorest import abort

    found = db.session().get(model, row_id)
    if found is None:
        abort(404, message=f"no {what} with this id")
    return found


def abort_domain(exc: DomainError) -> NoReturn:
    """Answer a domain error as problem+json naming its field."""
    from flask_smorest import abort

    abort(exc.status, message=exc.message, errors={exc.field: [exc.message]})
    raise AssertionError("unreachable")


def problem(
    status: int, title: str, detail: str | None = None, errors: dict[str, Any] | None = None
) -> Any:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = _string_keys(errors)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    return response


def _string_keys(value: Any) -> Any:
    # marshmallow keys errors by None (a nameless multipart part) or by list index; JSON's
    # sorted keys cannot mix those with strings, and the error answer must not fail itself.
    if isinstance(value, dict):
        return {str(key): _string_keys(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_string_keys(inner) for inner in value]
    return value


def handle_http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    if not auth.wants_json() and status in (400, 403, 404, 405, 413, 429):
        page = current_app.make_response(
            (render_template("error.html", status=status, message=exc.description), status))
        return _with_retry_after(page, exc)
    errors = None
    data = getattr(exc, "data", None)  # webargs and flask_smorest.abort put details here
    if isinstance(data, dict) and "messages" in data:
        errors = _flatten_field_errors(data["messages"])
    elif isinstance(data, dict) and "errors" in data:
        errors = data["errors"]
    detail = data.get("message") if isinstance(data, dict) else None
    if detail is None and not errors:
        detail = exc.description
    response = problem(status, exc.name, detail, errors)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return _with_retry_after(response, exc)


def _with_retry_after(response: Any, exc: HTTPException) -> Any:
    for header, value in exc.get_headers() or []:
        if header.lower() == "retry-after":
            response.headers[header] = value
    return response


# Seconds a client should wait after a 503 for a database outage: a PostgreSQL restart or
# failover takes a few seconds; intake clients resend the same id, which is safe.
DATABASE_RETRY_AFTER = 5


def register_database_outage_handler(app: Flask) -> None:
    """Answer 503 + Retry-After when the database cannot be reached, in every service.

    SQLAlchemy has already invalidated the dead connection (and, on a disconnect, every
    pooled connection older than it) before the error reaches here, so the next request
    opens a fresh one: the service recovers by itself when the database is back, with no
    pre-ping round trip on every request. Nothing is half-stored: the request's transaction
    never committed. OperationalError also covers SQLite's "database is locked" after the
    busy timeout, for which "try again shortly" is the right answer too.
    """
    app.register_error_handler(sa_exc.OperationalError, handle_database_outage)
    app.register_error_handler(sa_exc.InterfaceError, handle_database_outage)
    app.register_error_handler(sa_exc.TimeoutError, handle_database_outage)  # pool exhausted


def handle_database_outage(exc: Exception) -> Any:
    log.warning("database unavailable on %s %s: %s", request.method, request.path,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    # The page layout names the signed-in user; do not ask the database who that is.
    g.setdefault("jejak_principal", None)
    message = _("The database cannot be reached. Try again in a minute.")
    if auth.wants_json():
        response = problem(503, "Service Unavailable", message)
    else:
        response = make_response(render_template("error.html", status=503, message=message), 503)
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response


def _flatten_field_errors(messages: dict[str, Any]) -> dict[str, Any]:
    """webargs nests messages by location ({"json": {"field": [...]}}); keep the fields."""
    if len(messages) == 1:
        ((location, inner),) = messages.items()
        if location in ("json", "query", "form", "files", "headers") and isinstance(inner, dict):
            return inner
    return messages


def _layout_context() -> dict[str, Any]:
    from flask_babel import get_locale

    # Only the principal the guard already found: looking it up here, after a public view
    # began its transaction, would wait on that transaction's SQLite write lock (a signed-in
    # operator opening the open link hung for the busy timeout, then failed).
    principal = g.get("jejak_principal") if request else None
    return {
        "principal": principal,
        "services": [
            ("survey", _("Survey")),
            ("outreach", _("Outreach")),
            ("analytics", _("Analytics")),
        ],
        "current_locale": str(get_locale()),
        "centre_name": settings_of(current_app).centre_name,
        "centre_contact": settings_of(current_app).centre_contact,
        "static_url": static_url,
    }

