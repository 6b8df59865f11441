"""The `tipline` command as a new user meets it, and CLI actions audited like their web twins."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import make_test_app
from tipline.accounts import audit
from tipline.accounts.models import AuditEvent
from tipline.cli import main
from tipline.db import Database, db
from tipline.migrate import upgrade


def _actions(session: Session) -> list[tuple[str, str | None, str | None]]:
    session.expire_all()
    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id))
    return [(e.action, e.actor_email, e.target) for e in rows]


def test_a_command_on_an_unmigrated_database_says_to_run_db_upgrade(tmp_path: Path) -> None:
    app = make_test_app("sqlite:///" + str(tmp_path / "new.db"), tmp_path / "instance")
    runner = app.test_cli_runner()
    for command in (["users", "list"], ["placements", "list"], ["audit", "verify"]):
        result = runner.invoke(main, command)
        assert result.exit_code == 1, result.output
        assert result.output.strip() == (
            f"Error: the database at sqlite:///{tmp_path / 'new.db'} is not set up yet: "
            "run `tipline db upgrade`"
        )
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(main, ["users", "list"]).output.strip() == "no staff users"
    Database.engine(app).dispose()


def test_a_database_behind_the_code_says_so(tmp_path: Path) -> None:
    app = make_test_app("sqlite:///" + str(tmp_path / "old.db"), tmp_path / "instance")
    upgrade(app, "0004")
    result = app.test_cli_runner().invoke(main, ["audit", "verify"])
    assert result.exit_code == 1
    assert "is at revision 0004, this Tipline needs" in result.output
    assert "run `tipline db upgrade`" in result.output and "Traceback" not in result.output
    Database.engine(app).dispose()


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path: Path) -> None:
    url = "postgresql://tipline:hunter2@127.0.0.1:9/tipline"  # port 9: nothing listens
    app = make_test_app(url, tmp_path / "instance")
    result = app.test_cli_runner().invoke(main, ["users", "list"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot reach the database at postgresql://tipline:***@")
    assert "hunter2" not in result.output and "Traceback" not in result.output


def test_a_database_error_on_a_current_schema_is_not_disguised(tmp_path: Path) -> None:
    # Not every database error is a missing migration: one on an up-to-date schema stays itself.
    app = make_test_app("sqlite:///" + str(tmp_path / "damaged.db"), tmp_path / "instance")
    upgrade(app)
    with Database.engine(app).begin() as conn:
        conn.execute(text("DROP TABLE staff_user_jurisdiction"))
        conn.execute(
            text(
                "INSERT INTO staff_user (email, role, active, created_at, "
                "session_version) VALUES ('a@example.gov', 'viewer', 1, "
                "'2026-01-01 00:00:00', 0)"
            )
        )
    result = app.test_cli_runner().invoke(main, ["users", "list"])
    assert result.exit_code == 1
    assert isinstance(result.exception, DBAPIError)
    assert "staff_user_jurisdiction" in str(result.exception)
    Database.engine(app).dispose()


def test_placements_added_and_retired_at_the_command_line_are_audited(
    runner: FlaskCliRunner, session: Session
) -> None:
    factories.station(session)
    session.commit()
    added = runner.invoke(main, ["placements", "add", "--station", "NYP", "--spot", "Hall"])
    assert added.exit_code == 0, added.output
    code = re.search(r"\b([0-9A-Z]{4}-[0-9A-Z]{4})\b", added.output)
    assert code, added.output
    raw = code.group(1).replace("-", "")
    assert runner.invoke(main, ["placements", "retire", raw]).exit_code == 0
    assert runner.invoke(main, ["placements", "retire", raw]).exit_code == 0  # already: no record
    everywhere = runner.invoke(main, ["placements", "add", "--all-stations", "--spot", "Door"])
    assert everywhere.exit_code == 0, everywhere.output
    assert _actions(session) == [
        ("placement.add", "cli", f"placement:{raw}"),
        ("placement.retire", "cli", f"placement:{raw}"),
        ("placement.add_all", "cli", None),
    ]
    last = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert last is not None and last.detail["count"] == 1 and len(last.detail["codes"]) == 1


def test_printing_posters_and_exporting_tips_at_the_command_line_are_audited(
    runner: FlaskCliRunner, session: Session, tmp_path: Path
) -> None:
    station = factories.station(session)
    poster = factories.placement(session, station=station)
    session.commit()
    out = tmp_path / "posters.pdf"
    printed = runner.invoke(
        main, ["posters", "--station", "NYP", "--size", "sticker", "-o", str(out)]
    )
    assert printed.exit_code == 0, printed.output
    exported = runner.invoke(main, ["tips", "export", "--format", "csv"])
    assert exported.exit_code == 0, exported.output
    assert _actions(session) == [
        ("posters.download", "cli", "station:NYP"),
        ("tip.export", "cli", None),
    ]
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert events[0].detail["posters"] == 1 and poster.code
    assert events[1].detail == {"format": "csv", "since": None, "count": 0}


def test_every_csv_export_defuses_formulas(
    app: Flask, runner: FlaskCliRunner, session: Session
) -> None:
    hostile = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1", " =1"]
    for text_ in hostile:
        factories.tip(session, details=text_, descriptions="-5 people")
    session.commit()
    tips = list(
        csv.DictReader(
            io.StringIO(runner.invoke(main, ["tips", "export", "--format", "csv"]).output)
        )
    )
    assert sorted(t["details"] for t in tips) == sorted("'" + h for h in hostile)
    assert {t["descriptions"] for t in tips} == {"'-5 people"}
    # The audit export, whose details carry what staff typed (a search, an email).
    audit.record(db.session, action="=cmd|' /C calc'!A0", actor=None, now=factories.TIP_TIME)
    db.session.commit()
    table = csv.DictReader(
        io.StringIO(runner.invoke(main, ["audit", "export", "--format", "csv"]).output)
    )
    actions = [row["action"] for row in table]
    assert "'=cmd|' /C calc'!A0" in actions
    assert all(not a.startswith(("=", "+", "-", "@")) for a in actions)
    # JSON is data, not a spreadsheet: it keeps the text exactly.
    exported = json.loads(runner.invoke(main, ["audit", "export"]).output)
    assert "=cmd|' /C calc'!A0" in [row["action"] for row in exported]
