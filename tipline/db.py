"""Database: the declarative base, the engine and a session scoped to the Flask app context."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from flask import Flask, g
from sqlalchemy import Connection, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from tipline.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        # SQLite has no time zones: store naive UTC there; PostgreSQL keeps timestamptz.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base class of every model; its metadata names constraints so migrations are stable."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


intpk = Annotated[int, mapped_column(primary_key=True)]


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


# An execution option naming a transaction that will write; see begin_write().
WRITE_OPTION = "tipline_write"
# conn.info key: True once the SQLite transaction holds the write lock (BEGIN IMMEDIATE, or a
# write statement already ran in it).
_WRITING = "tipline_writing"
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
DEFAULT_BUSY_SECONDS = 30.0


def make_engine(url: str, *, busy_seconds: float = DEFAULT_BUSY_SECONDS, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, synchronous=FULL, foreign keys, real savepoints and
    write transactions that take the lock up front (see begin_write)."""
    if not url.startswith("sqlite"):
        # Accept the plain libpq form too; psycopg 3 is the driver we ship.
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                url = "postgresql+psycopg://" + url[len(plain) :]
        return create_engine(url, pool_pre_ping=True, **kwargs)
    _private_sqlite_file(url)
    engine = create_engine(url, connect_args={"timeout": busy_seconds}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT and delays BEGIN; take it over.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # WAL lets readers run during a write; FULL fsyncs every commit, so a tip whose receipt
        # was shown survives a power cut.
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A read stays a plain (deferred) BEGIN, so queue pages never wait for one another. A
        # transaction that will write takes the write lock first: one that read first and then
        # writes cannot wait for the lock once another connection has committed (SQLite answers
        # SQLITE_BUSY_SNAPSHOT at once, "database is locked"), whereas BEGIN IMMEDIATE waits
        # for it up to the busy timeout and then reads the latest data under it.
        immediate = bool(conn.get_execution_options().get(WRITE_OPTION))
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
        conn.info[_WRITING] = immediate

    @event.listens_for(engine, "before_cursor_execute")
    def _on_execute(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if not conn.info.get(_WRITING) and statement.lstrip()[:7].upper().startswith(_WRITE_VERBS):
            conn.info[_WRITING] = True

    return engine


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file readable by its owner only (0600) before the first connection,
    and take group and world access off existing ones. SQLite gives the -wal and -shm files the
    main file's mode, so the database's words never sit in a world-readable file."""
    parsed = make_url(url)
    name = parsed.database
    if not name or name == ":memory:" or name.startswith("file:") or parsed.query.get("uri"):
        return
    path = Path(name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError:
        return  # no such folder, or not ours: SQLite reports it on connecting
    else:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.close(fd)
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = each.stat().st_mode & 0o777
            if mode & 0o077:
                each.chmod(mode & 0o700)
        except OSError:
            continue  # absent, or another user's file


def begin_write(session: Session) -> None:
    """Declare that the session's transaction writes: on SQLite it takes the write lock now
    (BEGIN IMMEDIATE, waiting up to the busy timeout), before it reads what it will change.

    Call it before the reads of a read-modify-write. A transaction that has only read so far is
    rolled back first (nothing is lost; objects reload under the lock); one that has already
    written holds the lock and is left alone. PostgreSQL needs none of this: no-op there.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction():
        conn = session.connection()
        if conn.info.get(_WRITING) or session.in_nested_transaction():
            return
        if session.new or session.dirty or session.deleted:
            # Pending changes are the caller's first write: flushing them takes the lock.
            session.flush()
            return
        session.rollback()
    session.connection(execution_options={WRITE_OPTION: True})


def is_locked_error(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" (the busy timeout ran out)."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


class Database:
    """Flask extension holding the engine and a per-app-context session."""

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Create the engine from DATABASE_URL and close sessions at the end of each context."""
        settings = get_settings(app)
        engine = make_engine(str(settings.database_url), busy_seconds=settings.sqlite_busy_seconds)
        # Sessions carry the audit key, so a record sealed in a worker thread without an app
        # context (an alert dispatcher, say) is sealed like any other.
        maker = sessionmaker(
            bind=engine, expire_on_commit=False, info={"audit_key": settings.audit_key}
        )
        app.extensions["tipline.db"] = {"engine": engine, "sessionmaker": maker}
        app.teardown_appcontext(self._close)

    @staticmethod
    def engine(app: Flask) -> Engine:
        """The app's engine."""
        return app.extensions["tipline.db"]["engine"]

    def write(self) -> Session:
        """The request's session in a write transaction (see begin_write); call it before the
        reads of anything the request will change."""
        session = self.session
        begin_write(session)
        return session

    @property
    def session(self) -> Session:
        """The session of the current app context, created on first use."""
        if "db_session" not in g:
            from flask import current_app

            g.db_session = current_app.extensions["tipline.db"]["sessionmaker"]()
        return g.db_session

    @staticmethod
    def _close(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


db = Database()


@contextmanager
def session_scope(app: Flask, *, write: bool = False) -> Iterator[Session]:
    """A session outside a request (CLI, workers, benchmarks): commit on success, roll back on
    error; `write=True` takes SQLite's write lock before the first read (see begin_write)."""
    session: Session = app.extensions["tipline.db"]["sessionmaker"]()
    try:
        if write:
            begin_write(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
