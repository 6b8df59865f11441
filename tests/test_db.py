"""Transactions that say they write: SQLite takes the write lock up front (BEGIN IMMEDIATE) with a
busy timeout, reads stay deferred, and the staff desk never answers 5xx under concurrent load."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests import factories, loadgen
from tipline.db import begin_write, db, is_locked_error, make_engine, session_scope


def _sqlite_only(app: Flask) -> str:
    url = str(db.engine(app).url)
    if not url.startswith("sqlite"):
        pytest.skip("SQLite's locking; PostgreSQL needs none of this")
    return url


def _path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def _other_writer(url: str) -> sqlite3.Connection:
    """Another process's connection that does not wait for the lock (busy timeout 0)."""
    conn = sqlite3.connect(_path(url), timeout=0, isolation_level=None)
    return conn


def test_a_read_then_write_fails_without_the_lock_up_front(app: Flask, tmp_path: Path) -> None:
    # The failure mode that 500'd the desk: a deferred transaction reads, someone else commits,
    # and its write is refused at once, busy timeout or not.
    url = "sqlite:///" + str(tmp_path / "race.db")
    engine = make_engine(url, busy_seconds=5)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (0)"))
    with Session(engine) as session:
        session.execute(text("SELECT n FROM t")).all()
        other = _other_writer(url)
        other.execute("UPDATE t SET n = 1")
        with pytest.raises(OperationalError) as failure:
            session.execute(text("UPDATE t SET n = 2"))
        assert is_locked_error(failure.value)
        other.close()
    with Session(engine) as session:
        session.execute(text("SELECT n FROM t")).all()
        begin_write(session)  # the read is dropped; the write lock is taken now
        other = _other_writer(url)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("UPDATE t SET n = 1")  # the lock is held from here on
        # Reads under the lock see the latest commit (the other writer's 1).
        assert session.execute(text("SELECT n FROM t")).scalar_one() == 1
        session.execute(text("UPDATE t SET n = 2"))
        session.commit()
        other.close()
    engine.dispose()


def test_reads_stay_deferred_so_readers_never_wait(app: Flask) -> None:
    url = _sqlite_only(app)
    with session_scope(app) as reader:
        reader.execute(text("SELECT count(*) FROM tip")).scalar_one()
        other = _other_writer(url)
        other.execute("BEGIN IMMEDIATE")  # a writer is free to start: the reader holds no lock
        other.execute("ROLLBACK")
        other.close()


def test_begin_write_keeps_a_transaction_that_already_wrote(app: Flask, session: Session) -> None:
    _sqlite_only(app)
    station = factories.station(session)  # flushed: this transaction holds the write lock
    begin_write(session)
    assert station in session  # nothing was rolled back
    session.commit()
    assert station.id is not None


def test_begin_write_is_a_no_op_on_postgresql(app: Flask, session: Session) -> None:
    if db.engine(app).dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    station = factories.station(session)
    session.execute(text("SELECT 1"))
    begin_write(session)
    assert session.in_transaction() and station in session


def test_the_busy_timeout_is_a_setting(app: Flask, tmp_path: Path) -> None:
    engine = make_engine("sqlite:///" + str(tmp_path / "busy.db"), busy_seconds=1.5)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 1500
    engine.dispose()


def test_staff_and_travelers_at_once_never_get_a_5xx(
    app: Flask, session: Session, serve: Callable[..., str]
) -> None:
    # 8 staff (tip views, notes, acknowledgements, the queue) and 4 travelers (tips) against a
    # real threaded server for a few seconds; `bench/desk.py` runs the same for 30 s.
    nyp = factories.station(session)
    poster = factories.placement(session, station=nyp)
    tips = [factories.tip(session).id for _ in range(12)]
    staff = []
    for n in range(8):
        user, secret = factories.staff_user(session, email=f"desk{n}@example.gov")
        staff.append((user.email, secret))
    session.commit()
    tally = loadgen.run(
        serve(TIP_LIMIT_PER_CLIENT="0", TIP_LIMIT_PER_PLACEMENT="0"),
        staff=staff,
        password=factories.STAFF_PASSWORD,
        tip_ids=tips,
        poster=poster.code,
        seconds=8,
    )
    assert tally.errors == [], tally.errors
    assert tally.server_errors == 0, tally.table()
    # The load was real: every kind of request was answered many times.
    assert tally.count("tip.view", 200) >= 16, tally.table()
    assert tally.count("tip.note", 302) >= 16, tally.table()
    assert tally.count("tip.ack", 302) >= 1, tally.table()
    assert tally.count("tip.send", 200) >= 8, tally.table()


def test_the_sqlite_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask, which made them 0644
    try:
        path = tmp_path / "private.db"
        engine = make_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x TEXT)"))
            conn.execute(text("INSERT INTO t VALUES ('words')"))
            files = [path, path.with_name("private.db-wal"), path.with_name("private.db-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: f.stat().st_mode & 0o777 for f in files} == {
                f.name: 0o600 for f in files
            }
        engine.dispose()
        # A file made world-readable before (by an older version) loses group and world access.
        path.chmod(0o644)
        engine = make_engine(f"sqlite:///{path}")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT x FROM t")).scalar_one() == "words"
        assert path.stat().st_mode & 0o777 == 0o600
        engine.dispose()
    finally:
        os.umask(old)
