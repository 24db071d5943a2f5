"""The `jejak` command and the WSGI entry points: the one place that knows all services."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click
from flask import Flask
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.utils import redirect

from shared.config import ConfigError, Settings, key_file

SERVICES = ("survey", "outreach", "analytics")


def create_service(name: str, config: dict[str, Any] | None = None) -> Flask:
    if name == "survey":
        from services.survey import create_app
    elif name == "outreach":
        from services.outreach import create_app
    elif name == "analytics":
        from services.analytics import create_app
    else:
        raise click.BadParameter(f"unknown service {name!r}; expected one of {SERVICES}")
    return create_app(config)


def _outside_services(environ: dict[str, Any], start_response: Any) -> Any:
    """Everything outside /survey, /outreach and /analytics: `/` redirects to the dashboard,
    any other path is 404; with the security headers every service answer has."""
    from shared.web import CONTENT_SECURITY_POLICY, SECURITY_HEADERS

    if environ.get("PATH_INFO", "/") in ("", "/"):
        response = redirect("/analytics/")
    else:
        response = NotFound().get_response(environ)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers.update(SECURITY_HEADERS)
    return response(environ, start_response)


def compose(names: tuple[str, ...] = SERVICES, config: dict[str, Any] | None = None,
            proxy_hops: int = 1) -> Any:
    """Mount each service under its own prefix, as the gateway does in production.

    `proxy_hops` proxies in front are trusted for X-Forwarded-*: the client address the
    rate limits count by comes from there, and from X-Forwarded-Proto whether the request
    came over HTTPS (then the session cookie is Secure, and CSRF checks the Referer). With
    none in front (0), those headers are the client's own words and are ignored (gunicorn
    is told to ignore them too: web_argv).
    """
    mounts = {f"/{name}": create_service(name, config) for name in names}
    dispatcher = DispatcherMiddleware(_outside_services, mounts)
    if not proxy_hops:
        return dispatcher
    return ProxyFix(dispatcher, x_for=proxy_hops, x_proto=proxy_hops, x_host=proxy_hops)


def _proxy_hops(default: int) -> int:
    return int(os.environ.get("JEJAK_PROXY_HOPS", default))


def embedded_wsgi() -> Any:
    """gunicorn entry point of `jejak up`: all three services in one process, reached
    directly by browsers (no proxy unless JEJAK_PROXY_HOPS says so)."""
    from shared.web import Compress

    # No gateway in front to compress pages, styles and scripts (the compose one does).
    return Compress(compose(proxy_hops=_proxy_hops(0)))


def service_wsgi(name: str) -> Any:
    """gunicorn entry point of one service container (docker-compose), behind nginx."""
    return compose((name,), proxy_hops=_proxy_hops(1))


def create_worker_app(queues: tuple[str, ...], config: dict[str, Any] | None = None) -> Flask:
    """A Flask app for a worker: the tasks of the services whose queues it consumes."""
    import importlib

    from shared.web import create_service_app

    app = create_service_app("worker", __name__, config)
    for name in queues:
        importlib.import_module(f"services.{name}.tasks")
    import shared.events  # noqa: F401  (registers the relay task)

    return app


def _settings() -> Settings:
    """The settings of every command; the first one run in a data directory makes its keys
    (shared/config.py ensure_key_file), unless the environment sets both."""
    settings = Settings.from_env(make_keys=True)
    try:
        settings.check()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    return settings


@click.group()
def main() -> None:
    """Jejak: tracer studies for vocational training centres."""
    from shared import logs

    logs.install()  # every command, app or not: no phone or email in any log line


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (SQLite or PostgreSQL, from JEJAK_DATABASE_URL)."""
    from shared.migrate import upgrade

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    seed(settings.database_url, settings.timezone)
    click.echo("database is up to date")


@main.command()
@click.argument("service", type=click.Choice(SERVICES))
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", default=2, show_default=True)
def web(service: str, host: str, port: int, workers: int) -> None:
    """Serve one service under gunicorn (one container per service in production)."""
    settings = _settings()
    # Every gunicorn worker counts into this folder and /metrics adds them up (emptied now).
    _metrics_dir(settings.home / "metrics" / f"web-{service}")
    from services.embedded import gunicorn_argv

    argv = gunicorn_argv(host, port, workers, f"services.cli:service_wsgi({service!r})")
    os.execv(sys.executable, argv)


@main.command()
@click.option(
    "--queues",
    default=",".join(SERVICES),
    show_default=True,
    help="Comma-separated service queues; the events queue is always consumed.",
)
@click.option("--concurrency", default=2, show_default=True)
@click.option("--beat", "with_beat", is_flag=True, help="Run beat inside (embedded mode only).")
@click.option("--schedule", default=None, help="Beat schedule file.")
def worker(queues: str, concurrency: int, with_beat: bool, schedule: str | None) -> None:
    """Run a Celery worker for the given service queues."""
    names = tuple(q.strip() for q in queues.split(",") if q.strip())
    unknown = set(names) - set(SERVICES)
    if unknown:
        raise click.BadParameter(f"unknown queues {sorted(unknown)}", param_hint="--queues")
    settings = _settings()
    if settings.worker_metrics_port:
        # Prefork children count into this folder; the main process serves the sum.
        _metrics_dir(settings.home / "metrics" / f"worker-{'-'.join(names)}")
    app = create_worker_app(names)
    if settings.worker_metrics_port:
        from shared import metrics

        metrics.start_worker_server(settings.worker_metrics_port)
    argv = [
        "worker",
        "--loglevel=INFO",
        "-Q",
        ",".join((*names, "events")),
        "--concurrency",
        str(concurrency),
        "--hostname",
        f"{'-'.join(names)}@%h",
    ]
    if with_beat:
        argv += ["--beat", "--schedule", schedule or str(settings.home / "celerybeat-schedule")]
    app.extensions["celery"].worker_main(argv)


def _metrics_dir(default: Path) -> None:
    """Set PROMETHEUS_MULTIPROC_DIR (unless a parent, `jejak up`, set it already) to an
    emptied folder; before anything imports prometheus_client (shared/metrics.py)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(default)
    from shared import metrics

    metrics.fresh_multiprocess_dir(default)


@main.command()
def relay() -> None:
    """Send committed events to their subscribers (the outbox relay). Run one or more."""
    from shared.events import RelayLoop

    _settings()
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    loop = RelayLoop(create_worker_app(()))
    signal.signal(signal.SIGTERM, lambda _signum, _frame: loop.stop())
    signal.signal(signal.SIGINT, lambda _signum, _frame: loop.stop())
    logging.getLogger(__name__).info("relay: sending committed events from the outbox")
    loop.run()


@main.command()
@click.option("--schedule", default=None, help="Beat schedule file.")
def beat(schedule: str | None) -> None:
    """Run Celery beat. Exactly one must run."""
    settings = _settings()
    app = create_worker_app(())
    app.extensions["celery"].start(
        [
            "beat",
            "--loglevel=INFO",
            "--schedule",
            schedule or str(settings.home / "celerybeat-schedule"),
        ]
    )


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), required=True)
@click.option("--name", default="cli", show_default=True)
def token_create(role: str, name: str) -> None:
    """Create an API token and print it (it is shown only once)."""
    from shared.auth import audit, create_token
    from shared.db import Database

    settings = _settings()
    with Database.for_url(settings.database_url).session_factory() as db_session:
        value = create_token(db_session, role, name)
        audit(db_session, "cli", "token.create", name, role=role)
        db_session.commit()
    click.echo(value)


@token.command("list")
def token_list() -> None:
    """List API tokens (never their values): id, name, role, created, revoked."""
    from sqlalchemy import select

    from shared.db import Database
    from shared.models import ApiToken

    settings = _settings()
    with Database.for_url(settings.database_url).session_factory() as db_session:
        for row in db_session.scalars(select(ApiToken).order_by(ApiToken.id)):
            revoked = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
            click.echo(f"{row.id}\t{row.name}\t{row.role}\t{row.created_at:%Y-%m-%d}\t{revoked}")


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke an API token by id (see `jejak token list`): it stops working at once."""
    from shared.auth import audit
    from shared.db import Database
    from shared.models import ApiToken, utcnow

    settings = _settings()
    with Database.for_url(settings.database_url).session_factory() as db_session:
        row = db_session.get(ApiToken, token_id)
        if row is None:
            raise click.ClickException(f"no API token with id {token_id}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            audit(db_session, "cli", "token.revoke", row.name, token_id=token_id, role=row.role)
            db_session.commit()
    click.echo(f"revoked token {token_id} ({row.name})")


@main.group()
def keys() -> None:
    """Key rotation (docs/security.md)."""


@keys.command("rotate-pii")
@click.option("--forget-erasure-tombstones", is_flag=True,
              help="Rotate even though erased alumni exist (see docs/security.md).")
def keys_rotate_pii(forget_erasure_tombstones: bool) -> None:
    """Re-encrypt every NIK from JEJAK_PII_KEY_PREVIOUS to JEJAK_PII_KEY."""
    from shared.auth import audit
    from shared.db import Database
    from shared.keys import RotationError, erased_tombstones, rotate_pii_key

    settings = _settings()
    previous = os.environ.get("JEJAK_PII_KEY_PREVIOUS", "")
    database = Database.for_url(settings.database_url)
    with database.session_factory() as db_session:
        tombstones = erased_tombstones(db_session)
    if tombstones and not forget_erasure_tombstones:
        # A tombstone is an HMAC of the erased number under the old key: it cannot be
        # re-keyed, so after rotation an old roster file could bring those people back.
        raise click.ClickException(
            f"{tombstones} erased alumni are recognised by tombstones keyed with the old key; "
            "after rotation an old roster file would re-import them. Remove old roster files, "
            "then run again with --forget-erasure-tombstones (docs/security.md).")
    try:
        summary = rotate_pii_key(database.session_factory, previous, settings.pii_key)
    except RotationError as exc:
        raise click.ClickException(str(exc)) from exc
    with database.session_factory() as db_session:
        audit(db_session, "cli", "keys.rotate_pii", None, rotated=summary.rotated,
              already_new=summary.already_new)
        db_session.commit()
    click.echo(f"rotated {summary.rotated} NIK(s); {summary.already_new} already under the "
               "new key")


@main.group()
def user() -> None:
    """Staff accounts."""


@user.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), required=True)
@click.password_option()
def user_create(username: str, role: str, password: str) -> None:
    """Create a staff account."""
    from shared.auth import audit, create_user
    from shared.db import Database

    settings = _settings()
    with Database.for_url(settings.database_url).session_factory() as db_session:
        create_user(db_session, username, password, role)
        audit(db_session, "cli", "user.create", username, role=role)
        db_session.commit()
    click.echo(f"created {username} ({role})")


def _change_user(change: Any, username: str, *args: str) -> None:
    """Apply a shared.auth account change (it ends the account's sessions and audits)."""
    from shared.db import Database

    settings = _settings()
    with Database.for_url(settings.database_url).session_factory() as db_session:
        try:
            change(db_session, username, *args, "cli")
        except (LookupError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
        db_session.commit()


@user.command("passwd")
@click.argument("username")
@click.password_option()
def user_passwd(username: str, password: str) -> None:
    """Set a staff account's password; its open sessions end."""
    from shared.auth import change_password

    _change_user(change_password, username, password)
    click.echo(f"password changed for {username}; their sessions have ended")


@user.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(["viewer", "operator", "admin"]))
def user_role(username: str, role: str) -> None:
    """Give a staff account another role; its open sessions end."""
    from shared.auth import change_role

    _change_user(change_role, username, role)
    click.echo(f"{username} is now {role}; their sessions have ended")


@user.command("deactivate")
@click.argument("username")
def user_deactivate(username: str) -> None:
    """Stop a staff account from signing in; its open sessions end now."""
    from shared.auth import deactivate_user

    _change_user(deactivate_user, username)
    click.echo(f"deactivated {username}; their sessions have ended")


@main.group()
def alumni() -> None:
    """The roster of alumni."""


@alumni.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def alumni_import(path: str) -> None:
    """Import a roster file (CSV or XLSX); good rows import, bad rows are listed.

    Through the same pending import as the page (services/survey/pending_imports.py):
    suspicious updates (a known registration number with another name or birth date) are
    held, not imported; confirm them on the import page. The rejected rows go to a new
    file in JEJAK_HOME/imports (mode 0600, deleted after JEJAK_PERSONAL_FILES_DAYS days),
    under the file's own headers, never beside PATH: that folder may be shared, and only
    files Jejak knows can be expired and cleaned by an erasure.
    """
    from services.survey import pending_imports
    from services.survey.roster import RosterFileError
    from services.survey.roster_import import write_rejected_rows
    from shared.auth import audit
    from shared.db import Database

    settings = _settings()
    database = Database.for_url(settings.database_url)
    try:
        with open(path, "rb") as handle:
            import_id = pending_imports.store_upload(settings.home, handle, path)
    except RosterFileError as exc:
        raise click.ClickException(str(exc)) from exc
    with click.progressbar(length=1, label="Importing", show_pos=True) as bar:
        def progress(done: int, total: int | None) -> None:
            if total and bar.length != total:
                bar.length = total
            bar.update(done - bar.pos)

        try:
            applied = pending_imports.apply(database.session_factory, settings.home,
                                            import_id, path, pii_key=settings.pii_key,
                                            on_progress=progress)
        except RosterFileError as exc:
            pending_imports.discard(settings.home, import_id)
            raise click.ClickException(str(exc)) from exc
    summary = applied.summary
    with database.session_factory() as db_session:
        audit(db_session, "cli", "alumni.import", path, imported=summary.imported,
              updated=summary.updated, rejected=summary.rejected, held=len(applied.held))
        db_session.commit()
    click.echo(f"imported {summary.imported}, updated {summary.updated}, "
               f"unchanged {summary.unchanged}, rejected {summary.rejected}, "
               f"held {len(applied.held)}")
    if summary.rejections:
        target = write_rejected_rows(settings.home, summary.rejections, applied.titles)
        for rejection in summary.rejections[:10]:
            click.echo(f"  line {rejection.line}: {rejection.message}")
        if summary.rejected > 10:
            click.echo(f"  ... and {summary.rejected - 10} more")
        click.echo(f"rejected rows written to {target}")
    if applied.held:
        for row in applied.held[:10]:
            click.echo(f"  held, line {row.line}: {row.registration_no} is on the roster "
                       f"under another name or birth date")
        click.echo(f"confirm the held rows on the import page: /survey/import/"
                   f"{applied.pending_id}")


@main.group()
def calls() -> None:
    """The call lists of the waves."""


@calls.command("rebuild")
@click.argument("slug")
def calls_rebuild(slug: str) -> None:
    """Recompute the call list's state of every target of wave SLUG from the responses,
    messages and attempts (services/survey/call_list_state.py): the repair when it drifted
    from a change no event announced. Safe to run at any time; the assignments stay."""
    from sqlalchemy import select

    from services.survey import call_list_state
    from shared.db import Database
    from shared.models import Wave

    settings = _settings()
    with Database.for_url(settings.database_url).session_factory() as db_session:
        wave_id = db_session.scalar(select(Wave.id).where(Wave.slug == slug))
        if wave_id is None:
            raise click.ClickException(f"no wave {slug!r}")
        targets = call_list_state.rebuild(db_session, wave_id)
        db_session.commit()
    click.echo(f"call list of {slug}: {targets} targets recomputed")


@main.group()
def questionnaire() -> None:
    """Questionnaire versions."""


@questionnaire.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", required=True, help="The questionnaire's key, e.g. tracer-2026.")
@click.option("--version", "version", type=click.IntRange(1, 2**31 - 1), required=True,
              help="The new version's number; an existing one is refused.")
def questionnaire_import(path: Path, key: str, version: int) -> None:
    """Import an XLSForm (.xlsx or .xls) as a new questionnaire version.

    The same importer and store as the "Impor XLSForm" page and the API: the form is
    translated exactly or refused. On a refusal each reason is printed and nothing is
    saved (exit status 1).
    """
    from services.survey import catalog
    from services.survey.questionnaire import DefinitionError
    from services.survey.questionnaire_import import read_xlsform
    from services.survey.questionnaire_preview import preview
    from services.survey.waves import SurveyError, indicator_coverage
    from shared.db import Database
    from shared.uploads import UploadRejected, check_workbook

    settings = _settings()
    try:
        with open(path, "rb") as handle:
            check_workbook(handle, path.name)
    except UploadRejected as exc:
        raise click.ClickException(str(exc)) from exc
    with _english():
        definition, refusals = read_xlsform(path, key=key, version=version)
        seen = preview(definition, "en") if definition is not None else None
    if definition is None or seen is None:
        for line in refusals:
            click.echo(f"  {line}", err=True)
        raise click.ClickException(f"{path.name} is refused ({len(refusals)} reason(s)); "
                                   "nothing was saved")
    with Database.for_url(settings.database_url).session_factory() as db_session:
        try:
            row = catalog.store_version(db_session, definition, "cli", source=path.name)
        except (DefinitionError, SurveyError) as exc:
            raise click.ClickException(str(exc)) from exc
        db_session.commit()
    click.echo(f"{seen.title}: {len(seen.sections)} sections, {seen.question_count} "
               f"questions; languages: {', '.join(seen.languages)}")
    click.echo(f"saved as {row.key} version {row.version}")
    with _english():
        click.echo(f"indicators: {indicator_coverage(definition).sentence()}")


@contextlib.contextmanager
def _english() -> Any:
    """The page code's gettext outside a request: English, as every command speaks."""
    from flask import Flask

    from shared import i18n

    app = Flask(__name__)
    i18n.init_app(app)
    with app.test_request_context("/?lang=en"):
        yield


@main.group("analytics")
def analytics_group() -> None:
    """Indicators."""


@analytics_group.command("refresh")
def analytics_refresh() -> None:
    """Recompute every wave's indicators now (beat also does it nightly at 02:00 WITA)."""
    from services.analytics.refresh import refresh_all
    from shared.db import Database

    settings = _settings()
    results = refresh_all(Database.for_url(settings.database_url).session_factory)
    click.echo(f"refreshed {len(results)} wave(s)")


@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), required=False)
def backup_command(path: Path | None) -> None:
    """Write a backup of the database to PATH (a new file; default: a dated file in
    JEJAK_HOME/backups, deleted after JEJAK_PERSONAL_FILES_DAYS; docs/operations.md)."""
    from shared.backup import BackupError, backup, default_backup_path

    settings = _settings()
    try:
        click.echo(backup(settings.database_url, path or default_backup_path(settings.home)))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(key_reminder(settings))


def key_reminder(settings: Settings) -> str:
    """Where the key a backup needs is: the NIKs in it are encrypted with JEJAK_PII_KEY."""
    if "JEJAK_PII_KEY" in os.environ:
        where = "JEJAK_PII_KEY (set in the environment)"
    else:
        where = f"the key file {key_file(settings.home)}"
    return (f"The NIKs in this backup are encrypted with {where}: a backup without it "
            "cannot decrypt them. Keep a copy of it somewhere safe, apart from the backups "
            "(docs/operations.md).")


@main.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
def restore_command(path: Path, force: bool) -> None:
    """Restore the database from a backup made by `jejak backup` (stop the services first)."""
    from shared.backup import BackupError, restore

    settings = _settings()
    try:
        click.echo(restore(settings.database_url, path, force=force))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc


@main.group("events")
def events_group() -> None:
    """The event plumbing: dead letters (events a consumer gave up on), retention."""


@events_group.command("dead-letters")
@click.option("--all", "show_all", is_flag=True, help="Replayed and discarded ones too.")
def events_dead_letters(show_all: bool) -> None:
    """List dead letters: id, consumer, event type, event id, tries, when, last error line."""
    from shared.db import Database
    from shared.dead_letters import listing

    settings = _settings()
    with Database.for_url(settings.database_url).session_factory() as db_session:
        rows = db_session.scalars(listing(None if show_all else "dead")).all()
        for row in rows:
            last_line = (row.error.strip().splitlines() or [""])[-1]
            click.echo(f"{row.id}\t{row.status}\t{row.consumer}\t{row.event_type}\t"
                       f"{row.event_id}\t{row.attempts}\t{row.failed_at:%Y-%m-%d %H:%M}\t"
                       f"{last_line}")
    if not rows:
        click.echo("no dead letters")


@events_group.command("replay")
@click.argument("dead_letter_id", type=int)
def events_replay(dead_letter_id: int) -> None:
    """Send a dead letter's event again (its subscribers that applied it skip it)."""
    from shared.dead_letters import replay

    _resolve_dead_letter(replay, "replayed", dead_letter_id)


@events_group.command("discard")
@click.argument("dead_letter_id", type=int)
def events_discard(dead_letter_id: int) -> None:
    """Give up on a dead letter's event for good (audited)."""
    from shared.dead_letters import discard

    _resolve_dead_letter(discard, "discarded", dead_letter_id)


def _resolve_dead_letter(resolve: Any, done: str, dead_letter_id: int) -> None:
    """Apply shared.dead_letters' `resolve` (replay or discard) as the cli; say it is `done`."""
    from shared.db import Database
    from shared.dead_letters import DeadLetterError

    settings = _settings()
    with Database.for_url(settings.database_url).session_factory() as db_session:
        try:
            row = resolve(db_session, dead_letter_id, "cli")
        except DeadLetterError as exc:
            raise click.ClickException(str(exc)) from exc
        db_session.commit()
        click.echo(f"{done} dead letter {row.id} ({row.consumer}, {row.event_type})")


@events_group.command("prune")
def events_prune() -> None:
    """Delete relayed outbox rows and processed_events older than the retention now."""
    from datetime import timedelta

    from shared.db import Database
    from shared.events import prune_events

    settings = _settings()
    outbox, processed = prune_events(Database.for_url(settings.database_url).session_factory,
                                     timedelta(days=settings.event_retention_days))
    click.echo(f"pruned {outbox} outbox rows and {processed} processed_events rows older "
               f"than {settings.event_retention_days} days")


@main.command("demo-data")
def demo_data() -> None:
    """Load demonstration data: a roster, an open wave and answers (once)."""
    from services.demo import load_demo_data

    settings = _settings()
    click.echo(load_demo_data(settings.database_url, settings.pii_key))


def seed(database_url: str, timezone: str = "Asia/Makassar") -> None:
    """Data every installation needs: the shipped questionnaires (blk-tracer v1 and v2, the
    employer survey blk-employer v1), and the East Kalimantan minimum wages (UMP and UMK Kota
    Bontang 2025-2026) for years with no wage and no wave."""
    from services.analytics.wages import seed_east_kalimantan
    from services.survey.catalog import ensure_employer, ensure_shipped
    from shared.db import Database

    with Database.for_url(database_url).session_factory() as db_session:
        ensure_shipped(db_session)
        ensure_employer(db_session)
        seed_east_kalimantan(db_session, timezone)
        db_session.commit()


def plain_http_warning(host: str) -> str | None:
    """What `jejak up --host HOST` must say when HOST is reachable from other machines:
    its pages travel unencrypted. None for a loopback host (this machine only)."""
    name = host.strip("[]")
    if name == "localhost":
        return None
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(name).is_loopback:
            return None
    return (
        f"WARNING: listening on {host or 'every address'}, beyond this machine, and pages are "
        "served over plain HTTP: anyone on the same network can read staff passwords, "
        "personal survey links and answers on the way. Put a reverse proxy with TLS (HTTPS) "
        "in front, with JEJAK_PROXY_HOPS=1 and JEJAK_BASE_URL=https://<its address>: "
        'docs/operations.md, section "Serving over HTTPS".'
    )


def ensure_first_admin(database_url: str) -> str | None:
    """Create `admin` with a random password when there is no user yet; return it."""
    from sqlalchemy import func, select

    from shared.auth import audit, create_user
    from shared.db import Database
    from shared.models import User

    with Database.for_url(database_url).session_factory() as db_session:
        if db_session.scalar(select(func.count()).select_from(User)):
            return None
        password = secrets.token_urlsafe(12)
        create_user(db_session, "admin", password, "admin")
        audit(db_session, "jejak up", "user.create", "admin", role="admin")
        db_session.commit()
        return password


@main.command()
@click.option("--demo", is_flag=True, help="Load demonstration data on first start.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="0.0.0.0 lets phones on the same network reach the form.",
)
@click.option("--port", default=8000, show_default=True)
def up(demo: bool, host: str, port: int) -> None:
    """Run everything on this machine: SQLite, an embedded Redis, web, relay, worker and
    beat."""
    from services import embedded
    from shared.migrate import upgrade

    settings = _settings()
    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    # The children read the keys from the same key file (JEJAK_HOME), or inherit them
    # from this environment: every process signs and encrypts with the same keys.
    env = dict(os.environ, JEJAK_HOME=str(home), JEJAK_DATABASE_URL=settings.database_url)
    warning = plain_http_warning(host)
    if warning:
        click.secho(warning, fg="yellow", err=True)
    try:
        embedded.check_port_free(host, port)
    except embedded.PortInUse as exc:
        raise click.ClickException(str(exc)) from exc
    supervisor = embedded.Supervisor(say=lambda message: click.echo(f"Jejak: {message}"))
    stopping = False

    def _stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        click.echo("Jejak: preparing the database ...")
        upgrade(settings.database_url)
        seed(settings.database_url, settings.timezone)
        password = ensure_first_admin(settings.database_url)
        if demo:
            from services.demo import load_demo_data

            summary = load_demo_data(settings.database_url, settings.pii_key)
            click.echo(f"Jejak: demo data {summary}")
        if not settings.redis_url:
            env["JEJAK_REDIS_URL"] = embedded.start_redis(supervisor, home)
            click.echo(f"Jejak: embedded Redis on {env['JEJAK_REDIS_URL']}")
        shown_host = "127.0.0.1" if host == "0.0.0.0" else host
        base = f"http://{shown_host}:{port}"
        # Links in messages and QR codes must point at this server unless configured.
        env.setdefault("JEJAK_BASE_URL", base)
        # Web and worker count into one folder, emptied at each start: /survey/metrics shows
        # the worker's tasks too (its own port stays off unless JEJAK_WORKER_METRICS_PORT).
        from shared import metrics

        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics.fresh_multiprocess_dir(home / "metrics"))
        supervisor.start("worker", embedded.worker_argv(home), env, home / "worker.log")
        supervisor.start("relay", embedded.relay_argv(), env, home / "worker.log")
        supervisor.start("web", embedded.web_argv(host, port), env, home / "web.log")

        if not embedded.wait_for_http(f"{base}/survey/healthz", supervisor):
            raise click.ClickException(f"the web process did not start; see {home / 'web.log'}")
        click.echo(
            f"\nJejak is running.\n"
            f"  Dashboard     {base}/analytics/\n"
            f"  Survey admin  {base}/survey/\n"
            f"  Outreach      {base}/outreach/\n"
            f"  API docs      {base}/survey/api/docs\n"
            f"  Logs          {home}/web.log, {home}/worker.log\n"
        )
        if password:
            click.echo(f"  Sign in as    admin / {password}   (shown once: write it down)\n")
        else:
            click.echo("  Sign in with the admin account created on first start.\n")
        click.echo("Press Ctrl-C to stop.")
        while not stopping:
            try:
                supervisor.tend()  # a child that died is started again, with backoff
            except embedded.GaveUp as exc:
                raise click.ClickException(str(exc)) from exc
            time.sleep(0.3)
    finally:
        click.echo("Jejak: stopping ...")
        supervisor.stop()
    click.echo("Jejak: stopped.")


if __name__ == "__main__":
    main()


__all__ = ["main", "embedded_wsgi", "service_wsgi", "create_worker_app", "compose"]
