"""`tipline purge` (the `oncall` commands are tested with the alerts)."""

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
