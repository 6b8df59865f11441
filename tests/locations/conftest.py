"""Helpers for location tests: a hand-made feed of hard cases, zipping, table dumps, the CLI."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import text
from sqlalchemy.orm import Session

from tipline.cli import main
from tipline.db import Database

BOM = "\ufeff"

# Every quirk real feeds have: a BOM, CRLF, quoted commas and doubled quotes, accents, columns in
# any order (stop_lon first), extra columns, a blank line, parents with platforms and an entrance,
# a stop without location_type, times past 24:00 and without a leading zero, blank intermediate
# times, stop_times out of order, a trip without a number and a bus route. No feed_info.txt and
# no calendar_dates.txt: both are optional.
HARD_FEED: dict[str, str] = {
    "agency.txt": (
        f"{BOM}agency_id,agency_name,agency_url,agency_timezone\r\n"
        "1,Hard Cases Rail,https://example.invalid/,America/New_York\r\n"
    ),
    "stops.txt": (
        f"{BOM}stop_id,stop_code,stop_name,stop_lon,stop_lat,location_type,parent_station,"
        "stop_timezone,platform_code,wheelchair_boarding\r\n"
        'MTL,MTRL,"Montréal, Gare Centrale",-73.566,45.4998,1,,America/Toronto,,1\r\n'
        'MTL-1,,"Montréal, quai 1",-73.5661,45.4999,0,MTL,,1,\r\n'
        "MTL-E,,Entrée Mansfield,-73.567,45.5,2,MTL,,,\r\n"
        "\r\n"
        'NYP,,"New York ""Penn"" Station",-73.9935,40.7506,,,,,\r\n'
        "ALB,,Albany-Rensselaer,-73.7411,42.641,0,,,,\r\n"
        "BUS1,,Bus stop,-73.9,42.0,,,,,\r\n"
    ),
    "routes.txt": (
        "route_type,route_id,route_long_name,route_short_name,agency_id\r\n"
        '2,ADK,"Adirondack, via Albany",,1\r\n'
        "3,BUS,Thruway bus,,1\r\n"
        "2,EMP,,Empire,1\r\n"
    ),
    "trips.txt": (
        "trip_id,route_id,service_id,trip_short_name,trip_headsign,direction_id,shape_id\r\n"
        "T69,ADK,DAILY,69,Montréal,0,\r\n"
        "T69B,ADK,WKND,69,Montréal,0,\r\n"
        "T68,ADK,WKND,68,New York,1,\r\n"
        "T-NONUM,EMP,DAILY,,Albany,0,\r\n"
        "B1,BUS,DAILY,9001,Bus,0,\r\n"
    ),
    "stop_times.txt": (
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence,pickup_type\r\n"
        "T69,80:35:00,80:40:00,MTL-1,9,\r\n"
        "T69,,23:15:00,NYP,1,0\r\n"
        "T69,,,ALB,5,\r\n"
        "T69B,7:05:00,7:05:00,NYP,1,\r\n"
        "T69B,17:40:00,17:40:00,MTL-1,2,\r\n"
        "T68,6:50:00,6:50:00,MTL,1,\r\n"
        "T68,9:05:00,9:07:00,ALB,2,\r\n"
        "T68,12:30:00,,NYP,3,\r\n"
        "T-NONUM,10:00:00,10:00:00,NYP,1,\r\n"
        "T-NONUM,12:30:00,12:30:00,ALB,2,\r\n"
        "B1,10:00:00,10:00:00,BUS1,1,\r\n"
        "B1,11:00:00,11:00:00,ALB,2,\r\n"
    ),
    "calendar.txt": (
        "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\r\n"
        "DAILY,1,1,1,1,1,1,1,20260101,20261231\r\n"
        "WKND,0,0,0,0,0,1,1,20260101,20261231\r\n"
    ),
}


def write_feed(folder: Path, files: dict[str, str]) -> Path:
    """Write `files` (name -> text) into `folder` as UTF-8 bytes, line ends untouched."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content.encode("utf-8"))
    return folder


def zip_feed(folder: Path, target: Path, *, inside: str = "") -> Path:
    """Zip a feed folder, optionally under one top folder as hand-made zips often are."""
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{inside}{path.name}")
    return target


@pytest.fixture
def hard_feed(tmp_path: Path) -> Path:
    """The hard-case feed, as a folder."""
    return write_feed(tmp_path / "hard", HARD_FEED)


def dump(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the location tables, ids included, in a stable order."""
    tables = (
        "station",
        "train",
        "trip",
        "trip_stop",
        "service_calendar",
        "service_exception",
        "placement",
    )
    with Database.engine(app).connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))]
            for t in tables
        }


@pytest.fixture
def invoke(runner: FlaskCliRunner) -> Callable[..., Result]:
    """Run a `tipline` command on the test app."""

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args))

    return run


def count(session: Session, table: str) -> int:
    """Rows in a table."""
    return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
