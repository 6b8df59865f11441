"""The audit log's hash chain: sealed appends that never fork, and `tipline audit verify`, which
names the first bad record after a rewrite, a deletion or a truncation, even by someone who
dropped the append-only triggers."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask, has_app_context
from flask.testing import FlaskCliRunner
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tests.conftest import make_test_app
from tests.databases import fresh_database
from tests.factories import STAFF_PASSWORD, sign_in, staff_user
from tipline.accounts import audit, chain
from tipline.accounts.models import AuditChain, AuditEvent, Role
from tipline.cli import main
from tipline.config import get_settings
from tipline.db import Database, db, session_scope
from tipline.migrate import downgrade, upgrade

NOW = datetime(2026, 6, 15, 12, 0, 0, 123456, tzinfo=UTC)


def _fill(session: Session, count: int) -> None:
    for i in range(count):
        audit.record(
            session,
            action="test.event",
            actor=None,
            now=NOW + timedelta(seconds=i),
            target=f"tip:{i + 1}",
            detail={"n": i, "text": "é ü ✓", "nested": {"b": [1, 2], "a": None}},
        )
    session.commit()


def _verify(runner: FlaskCliRunner, *args: str) -> tuple[int, str]:
    # The CLI shares the test's app context and session: start it from a fresh read, as a new
    # `tipline` process would.
    if has_app_context():
        db.session.rollback()
    result = runner.invoke(main, ["audit", "verify", *args])
    return result.exit_code, result.output


def _engine(app: Flask) -> Engine:
    return Database.engine(app)


def _is_sqlite(app: Flask) -> bool:
    return _engine(app).dialect.name == "sqlite"


def _sqlite3(app: Flask, sql: str) -> subprocess.CompletedProcess[str]:
    """Run SQL in the `sqlite3` shell, as someone with the database file would."""
    binary = shutil.which("sqlite3")
    assert binary, "the sqlite3 shell is needed (Debian package sqlite3; `make system-deps`)"
    path = make_url(str(get_settings(app).database_url)).database
    return subprocess.run([binary, str(path), sql], capture_output=True, text=True, timeout=30)


def _drop_guards(app: Flask) -> None:
    """What an attacker with the database owner's rights does first."""
    with _engine(app).begin() as conn:
        if _is_sqlite(app):
            for (name,) in conn.execute(
                text("SELECT name FROM sqlite_master WHERE type='trigger'")
            ):
                if name.startswith("audit_"):
                    conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            for table in ("audit_event", "audit_chain"):
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))


@pytest.fixture
def restore_guards(app: Flask) -> Iterator[None]:
    """Put the guards back after a test removed them (the wipe and later tests need them)."""
    with _engine(app).connect() as conn:
        saved = (
            conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type='trigger'")).all()
            if _is_sqlite(app)
            else []
        )
    yield
    with _engine(app).begin() as conn:
        if _is_sqlite(app):
            present = {
                n
                for (n,) in conn.execute(
                    text("SELECT name FROM sqlite_master WHERE type='trigger'")
                )
            }
            for name, sql in saved:
                if name not in present:
                    conn.execute(text(sql))
        else:
            for table in ("audit_event", "audit_chain"):
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


def test_records_are_sealed_in_a_chain_with_ids_from_one(session: Session, app: Flask) -> None:
    _fill(session, 3)
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.id for e in events] == [1, 2, 3]
    assert events[0].prev_hash == chain.GENESIS
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    key = get_settings(app).audit_key
    assert key is not None
    assert all(chain.seal(key, e.prev_hash, e) == e.hash for e in events)
    head = session.get(AuditChain, 1)
    assert head is not None
    assert (head.last_id, head.last_hash, head.records) == (3, events[2].hash, 3)
    assert head.key_id == chain.key_id(key)
    # A record read back from the database seals the same as it did when written.
    session.expire_all()
    again = session.get(AuditEvent, 2)
    assert again is not None and chain.seal(key, again.prev_hash, again) == again.hash


def test_the_database_refuses_update_delete_and_replace(session: Session, app: Flask) -> None:
    _fill(session, 2)
    statements = [
        "UPDATE audit_event SET action = 'x'",
        "DELETE FROM audit_event",
        "UPDATE audit_chain SET last_id = 1, records = 1",
        "DELETE FROM audit_chain",
    ]
    if _is_sqlite(app):
        statements += [
            "REPLACE INTO audit_event (id, at, action, outcome, detail, prev_hash, hash) "
            "SELECT id, at, 'forged', outcome, detail, prev_hash, hash FROM audit_event "
            "WHERE id = 1",
            "INSERT OR REPLACE INTO audit_chain (id, last_id, last_hash, records) "
            "VALUES (1, 0, '', 0)",
        ]
    else:
        statements += ["TRUNCATE audit_event", "TRUNCATE audit_chain CASCADE"]
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only|only moves forward"):
            session.execute(text(statement))
        session.rollback()
    assert session.scalar(select(AuditEvent.action).where(AuditEvent.id == 1)) == "test.event"
    assert session.query(AuditEvent).count() == 2


@pytest.mark.skipif(not shutil.which("sqlite3"), reason="the sqlite3 shell is not installed")
def test_replace_in_the_sqlite3_shell_is_refused_by_the_trigger(
    app: Flask, session: Session
) -> None:
    if not _is_sqlite(app):
        pytest.skip("SQLite only")
    _fill(session, 2)
    done = _sqlite3(
        app,
        "REPLACE INTO audit_event (id, at, action, outcome, detail, prev_hash, hash) "
        "SELECT id, at, 'forged', outcome, detail, prev_hash, hash FROM audit_event WHERE id = 1;",
    )
    assert done.returncode != 0 and "append-only" in done.stderr


def test_verify_passes_on_an_untouched_log(runner: FlaskCliRunner, session: Session) -> None:
    code, output = _verify(runner)
    assert code == 0 and "audit log intact: 0 records" in output
    _fill(session, 5)
    code, output = _verify(runner)
    head = session.get(AuditChain, 1)
    assert head is not None
    assert code == 0, output
    assert f"audit log intact: 5 records; head #5 {head.last_hash}" in output
    assert _verify(runner, "--expect", f"3:{session.get(AuditEvent, 3).hash}")[0] == 0  # type: ignore[union-attr]


def test_verify_names_a_record_rewritten_with_replace_in_sqlite3(
    app: Flask, runner: FlaskCliRunner, session: Session, restore_guards: None
) -> None:
    if not _is_sqlite(app):
        pytest.skip("SQLite only")
    _fill(session, 4)
    _drop_guards(app)
    done = _sqlite3(
        app,
        "REPLACE INTO audit_event (id, at, actor_email, action, target, outcome, detail, "
        "prev_hash, hash) SELECT id, at, 'someone-else@example.gov', action, target, outcome, "
        "detail, prev_hash, hash FROM audit_event WHERE id = 1;",
    )
    assert done.returncode == 0, done.stderr
    code, output = _verify(runner)
    assert code == 1
    assert "record #1 (2026-06-15 12:00:00 test.event) was altered" in output


def test_verify_names_a_record_whose_content_was_rewritten(
    app: Flask, runner: FlaskCliRunner, session: Session, restore_guards: None
) -> None:
    _fill(session, 4)
    _drop_guards(app)
    with _engine(app).begin() as conn:
        conn.execute(text("UPDATE audit_event SET outcome = 'denied' WHERE id = 3"))
    code, output = _verify(runner)
    assert code == 1 and "record #3" in output and "was altered" in output


def test_verify_names_the_record_after_a_deleted_one(
    app: Flask, runner: FlaskCliRunner, session: Session, restore_guards: None
) -> None:
    _fill(session, 5)
    _drop_guards(app)
    with _engine(app).begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = 3"))
    code, output = _verify(runner)
    assert code == 1
    assert "record #4" in output and "does not follow record #2" in output


def test_verify_fails_after_the_newest_records_are_cut_off(
    app: Flask, runner: FlaskCliRunner, session: Session, restore_guards: None
) -> None:
    _fill(session, 5)
    _drop_guards(app)
    with _engine(app).begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id >= 4"))
    code, output = _verify(runner)
    assert code == 1
    assert "the log ends at record #3 (3 records) but the chain head is #5" in output


def test_verify_fails_after_the_log_is_truncated(
    app: Flask, runner: FlaskCliRunner, session: Session, restore_guards: None
) -> None:
    _fill(session, 3)
    _drop_guards(app)
    with _engine(app).begin() as conn:
        statement = "DELETE FROM audit_event" if _is_sqlite(app) else "TRUNCATE audit_event"
        conn.execute(text(statement))
    code, output = _verify(runner)
    assert code == 1 and "the log is empty but the chain head is #3" in output


def test_verify_fails_when_the_head_is_gone_or_rewound(
    app: Flask, runner: FlaskCliRunner, session: Session, restore_guards: None
) -> None:
    _fill(session, 4)
    noted = session.get(AuditEvent, 4)
    assert noted is not None
    expect = f"4:{noted.hash}"
    _drop_guards(app)
    # Cut back to record #2 and rewind the head to match: consistent, but not what was noted.
    with _engine(app).begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id > 2"))
        conn.execute(
            text(
                "UPDATE audit_chain SET last_id = 2, records = 2, "
                "last_hash = (SELECT hash FROM audit_event WHERE id = 2)"
            )
        )
    assert _verify(runner)[0] == 0  # undetectable from inside the database alone...
    code, output = _verify(runner, "--expect", expect)
    assert code == 1 and "record #4, noted earlier, is no longer in the log" in output
    with _engine(app).begin() as conn:
        conn.execute(text("DELETE FROM audit_chain"))
    code, output = _verify(runner)
    assert code == 1 and "chain head is missing" in output
    with _engine(app).begin() as conn:  # the wipe needs the head back
        conn.execute(text(f"INSERT INTO audit_chain VALUES (1, 2, '{'0' * 64}', NULL, 2)"))


def test_verify_tells_a_wrong_key_from_tampering(
    app: Flask, session: Session, tmp_path: Path, _migrated: str
) -> None:
    _fill(session, 2)
    other = make_test_app(_migrated, tmp_path / "other", AUDIT_KEY="not the key that sealed it")
    with other.app_context():
        result = other.test_cli_runner().invoke(main, ["audit", "verify"])
    assert result.exit_code == 1
    assert "sealed with another key" in result.output and "TIPLINE_AUDIT_KEY" in result.output
    Database.engine(other).dispose()


def test_verify_refuses_a_malformed_expectation(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["audit", "verify", "--expect", "3:abc"])
    assert result.exit_code == 2 and "ID:HASH" in result.output


def test_concurrent_writers_never_fork_the_chain(app: Flask, runner: FlaskCliRunner) -> None:
    threads, each = 6, 15
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait()
            with app.app_context():
                for i in range(each):
                    with session_scope(app) as session:
                        audit.record(
                            session, action="test.race", actor=None, now=NOW, target=f"w:{n}:{i}"
                        )
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert not errors, errors
    code, output = _verify(runner)
    assert code == 0, output
    assert f"{threads * each} records" in output


def test_a_record_written_without_an_app_context_is_sealed_alike(
    app: Flask, runner: FlaskCliRunner
) -> None:
    # A worker thread (an alert dispatcher) has the app's sessions but no app context.
    done: list[int] = []

    def worker() -> None:
        with session_scope(app) as session:
            done.append(audit.record(session, action="worker.event", actor=None, now=NOW).id)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(30)
    assert done == [1]
    assert _verify(runner)[0] == 0


def test_the_admin_audit_page_shows_the_chain_head(app: Flask, session: Session) -> None:
    admin, secret = staff_user(
        session, email="admin@example.gov", role=Role.ADMIN, jurisdictions=("national",)
    )
    browser = app.test_client()
    sign_in(browser, admin.email, STAFF_PASSWORD, secret)
    page = browser.get("/staff/audit").get_data(as_text=True)
    head = audit.chain_head(session)
    assert head is not None and head.last_id >= 1
    assert f"#{head.last_id}" in page and head.last_hash in page
    assert f"tipline audit verify --expect {head.last_id}:{head.last_hash}" in page


def test_the_migration_seals_a_log_written_before_the_chain(_migrated: str, tmp_path: Path) -> None:
    for url in fresh_database(_migrated, tmp_path, "tipline_chain"):
        app = make_test_app(url, tmp_path / "instance")
        upgrade(app, "0004")
        with _engine(app).begin() as conn:
            for i in (1, 2, 5):  # PostgreSQL's sequences leave gaps; the chain does not mind
                conn.execute(
                    text(
                        "INSERT INTO audit_event (id, at, action, outcome, detail) "
                        "VALUES (:id, :at, 'old.event', 'ok', :detail)"
                    ),
                    {"id": i, "at": NOW.replace(tzinfo=None), "detail": json.dumps({"n": i})},
                )
        upgrade(app)
        result = app.test_cli_runner().invoke(main, ["audit", "verify"])
        assert result.exit_code == 0, result.output
        assert "3 records; head #5" in result.output
        with app.app_context(), session_scope(app) as session:
            event = audit.record(session, action="new.event", actor=None, now=NOW)
            assert event.id == 6
        assert app.test_cli_runner().invoke(main, ["audit", "verify"]).exit_code == 0
        downgrade(app, "0004")  # and back: the downgrade runs too
        Database.engine(app).dispose()
