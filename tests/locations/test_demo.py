"""`tipline demo` on a fresh machine: migrations, the shipped sample feed, posters, no repeats."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import inspect, select

from tipline import create_app
from tipline.cli import main
from tipline.config import get_settings
from tipline.db import Database, session_scope
from tipline.demo import SAMPLE_FEED
from tipline.locations.models import Placement, Station, Train
from tipline.locations.services import find_placement


def test_demo_sets_up_a_fresh_instance_once(tmp_path: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True})
    assert get_settings(app).database_url.startswith("sqlite:///")
    runner = app.test_cli_runner()
    try:
        first = runner.invoke(main, ["demo", "--no-serve"])
        assert first.exit_code == 0, first.output
        assert "alembic_version" in inspect(Database.engine(app)).get_table_names()
        urls = re.findall(r"http://127\.0\.0\.1:5000/T/([0-9A-Z]{8})", first.output)
        assert len(urls) == 4
        assert "Train 66 · Car 3 vestibule (en)" in first.output
        assert "New York Penn Station (NYP) · Restroom, 8th Avenue concourse (es)" in first.output
        setup = re.search(r"http://127\.0\.0\.1:5000(/staff/setup/\S+)", first.output)
        assert setup, first.output
        page = app.test_client().get(setup.group(1))
        assert page.status_code == 200 and "admin@demo.invalid" in page.get_data(as_text=True)

        second = runner.invoke(main, ["demo", "--no-serve", "--port", "8080"])
        assert second.exit_code == 0, second.output
        assert re.findall(r"http://127\.0\.0\.1:8080/T/([0-9A-Z]{8})", second.output) == urls
        # Not set up yet: a fresh link replaces the first, which stops working.
        assert "/staff/setup/" in second.output
        assert app.test_client().get(setup.group(1)).status_code != 200
        with session_scope(app) as session:
            assert len(session.scalars(select(Placement)).all()) == 4
            assert len(session.scalars(select(Station)).all()) == 11
            trains = {t.number: t for t in session.scalars(select(Train))}
            assert set(trains) == {"66", "67", "171", "176", "2150", "2153"}  # no bus 3401
            assert len(trains["66"].trips) == 2
            last = trains["66"].trips[0].stops[-1]
            assert last.station.code == "BOS" and last.arrival > 24 * 3600
            for code in urls:
                assert find_placement(session, code) is not None
    finally:
        Database.engine(app).dispose()


def test_sample_feed_ships_inside_the_package() -> None:
    assert SAMPLE_FEED.parent.name == "locations" and SAMPLE_FEED.parent.parent.name == "tipline"
    assert {p.name for p in SAMPLE_FEED.glob("*.txt")} >= {
        "agency.txt",
        "stops.txt",
        "routes.txt",
        "trips.txt",
        "stop_times.txt",
        "calendar.txt",
    }
