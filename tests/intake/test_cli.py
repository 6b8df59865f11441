"""`tipline tips export`: every stored tip with its location snapshot, never its receipt."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from tests.intake.conftest import Posters
from tipline.cli import main
from tipline.intake.models import Indicator, Tip
from tipline.intake.services import TipAnswers, submit_tip
from tipline.locations.services import find_placement

JUNE_9 = datetime(2026, 6, 9, 12, tzinfo=UTC)
JUNE_10 = datetime(2026, 6, 10, 4, 50, tzinfo=UTC)  # 00:50 in New York: train 66 is moving


def seed(session: Session, posters: Posters) -> list[Tip]:
    answers = TipAnswers(
        indicators=(Indicator.FEARFUL, Indicator.BRANDING),
        details='She said "help", twice;\nthen left',
        people_count=2,
    )
    submit_tip(
        session,
        placement=find_placement(session, posters.station),
        answers=answers,
        token="a",
        now=JUNE_9,
        secret="s",
    )
    submit_tip(
        session,
        placement=find_placement(session, posters.train),
        answers=answers,
        token="b",
        now=JUNE_10,
        secret="s",
    )
    session.commit()
    return list(session.query(Tip).order_by(Tip.id))


def test_json_export_has_the_snapshot_and_no_secrets(
    runner: FlaskCliRunner, session: Session, posters: Posters
) -> None:
    stored = seed(session, posters)
    result = runner.invoke(main, ["tips", "export", "--format", "json"])
    assert result.exit_code == 0, result.output
    station, train = json.loads(result.output)
    assert station["station_code"] == "NYP" and station["jurisdictions"] == ["NY"]
    assert station["received_at"] == "2026-06-09T12:00:00+00:00"
    assert station["indicators"] == ["branding", "fearful"]
    assert station["priority"] == "normal" and station["status"] == "new"
    assert train["train_number"] == "66" and train["train_moving"] is True
    assert (train["last_stop_code"], train["next_stop_code"]) == ("NWK", "PHL")
    assert train["next_stop_time"] == "2026-06-10T05:10:00+00:00"
    assert train["service_date"] == "2026-06-09"
    assert train["details"] == 'She said "help", twice;\nthen left'
    for tip in stored:
        assert tip.receipt_hash not in result.output
        assert tip.submission_token not in result.output
    assert "receipt" not in result.output and "token" not in result.output


def test_csv_export_has_a_header_and_joins_lists(
    runner: FlaskCliRunner, session: Session, posters: Posters
) -> None:
    seed(session, posters)
    result = runner.invoke(main, ["tips", "export", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["location_kind"] for r in rows] == ["station", "train"]
    # One CSV writer serves every export (tipline/csvout.py): lists joined with "; ".
    assert rows[0]["indicators"] == "branding; fearful"
    assert rows[1]["jurisdictions"] == "NJ; PA"
    assert rows[1]["details"] == 'She said "help", twice;\nthen left'
    assert "receipt_hash" not in rows[0]


def test_since_filters_and_bad_input_is_refused(
    runner: FlaskCliRunner, session: Session, posters: Posters
) -> None:
    seed(session, posters)
    later = json.loads(runner.invoke(main, ["tips", "export", "--since", "2026-06-10"]).output)
    assert [t["train_number"] for t in later] == ["66"]
    aware = runner.invoke(main, ["tips", "export", "--since", "2026-06-10T00:00:00-04:00"])
    assert json.loads(aware.output) == later
    empty = runner.invoke(main, ["tips", "export", "--format", "csv", "--since", "2030-01-01"])
    assert empty.output.startswith("id,received_at,") and empty.output.count("\n") == 1
    bad = runner.invoke(main, ["tips", "export", "--since", "last tuesday"])
    assert bad.exit_code != 0
    assert "not an ISO date or time" in bad.output
