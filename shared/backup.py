"""Backup and restore of the one database: `jejak backup PATH`, `jejak restore PATH`.

PostgreSQL: pg_dump / pg_restore in the custom format (compressed, restorable table by table,
readable by a newer pg_restore). SQLite: the online backup API, which copies a consistent
image while the services keep running (a plain file copy of a WAL database can be torn).
A restore refuses to replace a database that holds data unless forced, and a PostgreSQL
restore runs in one transaction: when it fails, the database is left as it was.

A backup holds every alumnus's personal data in clear but the NIK (docs/operations.md says
exactly what): it is written with mode 0600 into a folder only the service account may
enter (shared.personal_files). By default it goes to `<home>/backups/`, where the survey's
beat job deletes it after JEJAK_PERSONAL_FILES_DAYS days and an erasure lists it as a file
to delete by hand (a dump cannot be rewritten without the person).
See docs/operations.md for the schedule, where to keep copies and how to test a restore.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from shared.personal_files import BACKUPS, is_private, private_folder, reserve_private

# Tables whose rows are the centre's data: any row here and a restore needs --force. (The
# default questionnaire that `jejak db upgrade` seeds is not data anyone would lose.)
DATA_TABLES = ("programs", "alumni", "waves", "responses", "users", "campaigns")


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says what to do."""


def backup_folder(home: Path) -> Path:
    """`<home>/backups`, created or tightened to mode 0700."""
    return private_folder(Path(home) / BACKUPS)


def default_backup_path(home: Path, now: datetime | None = None) -> Path:
    """`<home>/backups/jejak-<UTC date and time>.dump`: a new name for every run."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    return backup_folder(home) / f"jejak-{stamp}.dump"


def backups_in(home: Path) -> list[Path]:
    """Every file in `<home>/backups` (finished or not), by name."""
    folder = Path(home) / BACKUPS
    return sorted(path for path in folder.iterdir() if path.is_file()) if folder.is_dir() else []


def backup(database_url: str, path: Path) -> str:
    """Write a backup of the database to `path` (which must not exist); describe it.

    The file is made 0600. A missing folder is created 0700; an existing folder that other
    accounts may enter is refused rather than changed (it may be shared on purpose).
    """
    if path.exists():
        raise BackupError(f"{path} already exists; choose a new file name (for example with "
                          "the date in it) so no earlier backup is overwritten")
    folder = path.parent
    if not folder.exists():
        private_folder(folder)
    elif not is_private(folder):
        mode = stat.S_IMODE(folder.stat().st_mode)
        raise BackupError(f"{folder} may be read by other accounts on this server (mode "
                          f"{mode:o}) and a backup holds personal data: run `chmod 700 "
                          f"{folder}` or choose another folder")
    partial = path.with_name(path.name + ".partial")
    try:
        reserve_private(partial)  # sqlite3 and pg_dump write into it and keep its mode
        if _is_sqlite(database_url):
            source_file = _sqlite_file(database_url)
            if not source_file.exists():
                raise BackupError(f"no database at {source_file}")
            with _sqlite(source_file) as source, _sqlite(partial) as target:
                source.backup(target)
        else:
            _run_pg("pg_dump", database_url, "--format=custom", "--no-owner",
                    "--no-privileges", f"--file={partial}")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return f"backup written to {path} ({_size(path)})"


def restore(database_url: str, path: Path, *, force: bool = False) -> str:
    """Replace the database's contents with the backup at `path`; describe what was done."""
    if not path.is_file():
        raise BackupError(f"no backup file at {path}")
    if holds_data(database_url) and not force:
        raise BackupError("the database already holds data; restoring replaces all of it. "
                          "Stop the services, make a backup of it first, then run the "
                          "restore again with --force")
    if _is_sqlite(database_url):
        target_file = _sqlite_file(database_url)
        target_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            with _sqlite(path) as source:
                source.execute("PRAGMA schema_version").fetchone()  # is it a database?
                with _sqlite(target_file) as target:
                    source.backup(target)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path} is not a Jejak SQLite backup: {exc}") from exc
    else:
        _run_pg("pg_restore", database_url, "--clean", "--if-exists", "--no-owner",
                "--no-privileges", "--single-transaction", "--exit-on-error", str(path))
    return (f"restored {path} into the database; run `jejak db upgrade` if the backup "
            "is from an older version, then start the services")


def holds_data(database_url: str) -> bool:
    """True when any of DATA_TABLES has a row (a database without the tables holds none)."""
    if _is_sqlite(database_url) and not _sqlite_file(database_url).exists():
        return False
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
            return any(
                connection.execute(text(f'SELECT 1 FROM "{table}" LIMIT 1')).first()
                for table in DATA_TABLES if table in present
            )
    finally:
        engine.dispose()


def _is_sqlite(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


def _sqlite_file(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


class _sqlite:  # noqa: N801 (a context manager used like a function)
    """A sqlite3 connection that is closed on exit (sqlite3's own only commits)."""

    def __init__(self, file: Path) -> None:
        self.connection = sqlite3.connect(file, timeout=30)

    def __enter__(self) -> sqlite3.Connection:
        return self.connection

    def __exit__(self, *_exc: object) -> None:
        self.connection.close()


def _pg_tool(name: str) -> str:
    """pg_dump / pg_restore from PATH, else the newest PostgreSQL's own bin folder."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda item: int(Path(item).parts[-3]))
    if candidates:
        return candidates[-1]
    raise BackupError(f"{name} is not installed; install the PostgreSQL client tools "
                      "(the same major version as the server, or newer)")


def _run_pg(tool: str, database_url: str, *args: str) -> None:
    url = make_url(database_url)
    # Connection details go in the environment, not the command line, where `ps` shows them.
    env = dict(os.environ)
    host = url.query.get("host") or url.host  # ?host=/run/postgresql: a unix socket
    if isinstance(host, tuple):
        host = host[0]
    for variable, value in (("PGHOST", host),
                            ("PGPORT", url.port), ("PGUSER", url.username),
                            ("PGPASSWORD", url.password), ("PGDATABASE", url.database)):
        if value:
            env[variable] = str(value)
    done = subprocess.run([_pg_tool(tool), *args, f"--dbname={url.database}"], env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise BackupError(f"{tool} failed (exit {done.returncode}): {done.stderr.strip()}")


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.1f} kB"
