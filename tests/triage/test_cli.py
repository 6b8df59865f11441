"""`tipline purge` and `tipline oncall`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from tests import factories
from tests.triage.conftest import audit_events, reread
from tipline.cli import main
from tipline.intake.models import Tip


def test_purge_with_a_dry_run_first(session: Session, runner: FlaskCliRunner) -> None:
    now = datetime.now(UTC)
    old = factories.tip(
        session, status="closed", resolution="no_action", closed_at=now - timedelta(days=100)
    )
    young = factories.tip(
        session, status="closed", resolution="no_action", closed_at=now - timedelta(days=10)
    )
    still_open = factories.tip(session, received_at=now - timedelta(days=300))
    session.commit()
    old_id, young_id, open_id = old.id, young.id, still_open.id

    result = runner.invoke(main, ["purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would delete 1 tip(s)" in result.output
    assert "dry run: nothing was changed" in result.output
    reread(session)
    assert session.get(Tip, old_id) is not None
    assert audit_events(session, "tips.purge") == []

    result = runner.invoke(main, ["purge"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 tip(s)" in result.output
    result = runner.invoke(main, ["purge", "--older-than", "5d"])
    assert "deleted 1 tip(s)" in result.output
    reread(session)
    assert session.get(Tip, old_id) is None and session.get(Tip, young_id) is None
    assert session.get(Tip, open_id) is not None
    assert [e.detail["older_than_days"] for e in audit_events(session, "tips.purge")] == [90, 5]


def test_purge_refuses_a_duration_it_cannot_read(runner: FlaskCliRunner) -> None:
    for bad in ("ninety", "0d", "12h"):
        result = runner.invoke(main, ["purge", "--older-than", bad])
        assert result.exit_code == 2, bad
        assert "--older-than" in result.output


def test_oncall_set_replaces_and_list_shows(session: Session, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        main,
        [
            "oncall",
            "set",
            "ny",
            "--email",
            "desk@ny.example.gov",
            "--webhook",
            "https://hooks.example.org/secret-path",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "NY: 2 channel(s), 0 removed" in result.output
    assert "TIPLINE_WEBHOOK_SECRET is not set" in result.output
    result = runner.invoke(main, ["oncall", "set", "national", "--email", "hq@example.gov"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["oncall", "set", "NY", "--email", "desk@ny.example.gov"])
    assert "NY: 1 channel(s), 1 removed" in result.output
    listing = runner.invoke(main, ["oncall", "list"]).output
    assert listing.splitlines() == [
        "NY        email    desk@ny.example.gov",
        "national  email    hq@example.gov",
    ]
    first = audit_events(session, "oncall.set")[0]
    assert first.detail["webhooks"] == ["hooks.example.org"]  # never the URL's secret path
    assert "secret-path" not in repr(first.detail)


def test_oncall_set_refuses_bad_channels(runner: FlaskCliRunner) -> None:
    for args, message in [
        (["XX", "--email", "a@x"], "unknown jurisdiction XX"),
        (["NY", "--email", "not an address"], "is not an email address"),
        (["NY", "--email", "a@x\nBcc: b@y"], "is not an email address"),
        (["NY", "--webhook", "http://hooks.example.org/x"], "must be an https:// URL"),
        (["NY", "--webhook", "file:///etc/passwd"], "must be an https:// URL"),
    ]:
        result = runner.invoke(main, ["oncall", "set", *args])
        assert result.exit_code == 2, args
        assert message in result.output, (args, result.output)
