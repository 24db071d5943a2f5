"""The database layer: one engine per process, sessions, the unit of work.

SQLite (embedded default) runs in WAL mode with a busy timeout and foreign keys on, and
every transaction starts with BEGIN IMMEDIATE: the web process and the worker both write,
and a deferred transaction that later needs the write lock fails at once instead of
waiting (SQLITE_BUSY is not retried on a lock upgrade).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import ColumnElement, Engine, any_, bindparam, create_engine, event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

SQLITE_BUSY_TIMEOUT_MS = 15_000


def make_engine(url: str, *, pool: bool = True) -> Engine:
    """Create an engine with the settings this project relies on for `url`."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            # Let SQLAlchemy, not pysqlite, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # No pre-ping: it costs a round trip per checkout. A connection that died with the
    # server fails one request and SQLAlchemy then refreshes the whole pool.
    kwargs: dict[str, object] = {"pool_recycle": 1800, "pool_size": 5, "max_overflow": 10}
    if not pool:
        kwargs = {"poolclass": NullPool}
    return create_engine(url, **kwargs)


def is_postgres(db_session: Session) -> bool:
    return db_session.get_bind().dialect.name == "postgresql"


def insert_for(db_session: Session) -> Any:
    """The dialect's INSERT construct (PostgreSQL's or SQLite's), for the upserts
    (`on_conflict_do_nothing` / `on_conflict_do_update`) both databases run alike."""
    return pg_insert if is_postgres(db_session) else sqlite_insert


def in_list(db_session: Session, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values`, written for the session's database.

    On PostgreSQL as `column = ANY(:values)`, one array parameter: an IN list costs
    SQLAlchemy and psycopg a bound parameter per value, which for a relay batch of outbox
    ids was most of the statement's CPU, and for a roster chunk of 2,000 registration
    numbers took longer to convert than PostgreSQL took to run the query. SQLite has no
    arrays; there it is a plain IN list.
    """
    if is_postgres(db_session):
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


_DATABASES: dict[str, Database] = {}


class Database:
    """Flask extension holding the engine and the session factory of one app."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def for_url(cls, url: str) -> Database:
        """One engine per database per process, however many apps share it."""
        if url not in _DATABASES:
            _DATABASES[url] = cls(url)
        return _DATABASES[url]

    def init_app(self, app: Flask) -> None:
        app.extensions["jejak_db"] = self
        app.teardown_appcontext(_close_request_session)

    def dispose(self) -> None:
        """Drop pooled connections, e.g. in a child process after fork."""
        self.engine.dispose(close=False)


def dispose_all() -> None:
    for database in _DATABASES.values():
        database.dispose()


def get_db(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["jejak_db"]


def session() -> Session:
    """The request's (or task's) session: one per app context, closed at teardown."""
    if "jejak_session" not in g:
        g.jejak_session = get_db().session_factory()
    return g.jejak_session


def _close_request_session(_exc: BaseException | None) -> None:
    db_session = g.pop("jejak_session", None)
    if db_session is not None:
        db_session.close()


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """A fresh session for one unit of work; the caller commits, anything else rolls back."""
    db_session = get_db().session_factory()
    try:
        yield db_session
    finally:
        db_session.rollback()
        db_session.close()
