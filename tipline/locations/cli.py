"""CLI commands for locations: GTFS import, stations, trains, placements, and the demo."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from tipline.config import get_settings
from tipline.db import session_scope, utcnow
from tipline.locations import codes
from tipline.locations.gtfs import FeedError, import_feed
from tipline.locations.models import Placement, Station, Train, Trip
from tipline.locations.services import (
    LANGUAGES,
    AmbiguousLocation,
    InvalidCode,
    InvalidPlacement,
    PlacementNotFound,
    UnknownLocation,
    add_placement,
    add_station_placements,
    find_station,
    find_train,
    list_placements,
    qr_url,
    retire_placement,
    where,
)

# Domain errors a person fixes by retyping: shown as a one-line message, exit status 1.
_USER_ERRORS = (
    FeedError,
    InvalidCode,
    InvalidPlacement,
    PlacementNotFound,
    UnknownLocation,
    AmbiguousLocation,
)


def register(main: click.Group) -> None:
    """Attach this capability's commands to the `tipline` group."""
    for command in (gtfs, stations, trains, placements, demo):
        main.add_command(command)


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined]


def _echo_json(items: list[dict[str, Any]]) -> None:
    click.echo(json.dumps(items, ensure_ascii=False, indent=2))


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table, columns padded to their widest cell."""
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [list(headers), *cells]
    ]
    return "\n".join(lines)


def _natural(text: str) -> tuple[Any, ...]:
    """Sort key that puts train 66 before train 171."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


# --- gtfs ----------------------------------------------------------------------------------


@click.group()
def gtfs() -> None:
    """Import GTFS schedules."""


@gtfs.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--feed", help="Name to file the feed under (default: from the feed's publisher).")
@with_appcontext
def gtfs_import(path: Path, feed: str | None) -> None:
    """Import or refresh a GTFS feed from PATH (a folder or a .zip), in place."""
    started = time.perf_counter()
    try:
        with session_scope(_app()) as session:
            report = import_feed(session, path, feed=feed, now=utcnow())
    except FeedError as exc:
        raise click.ClickException(f"{exc} (nothing imported)") from exc
    click.echo(f"Imported {report.summary()[0]} in {time.perf_counter() - started:.1f} s")
    for line in report.summary()[1:]:
        click.echo(line)


# --- stations and trains -------------------------------------------------------------------


@click.group()
def stations() -> None:
    """Stations imported from GTFS."""


@stations.command("list")
@click.option("--state", help="Only this state or province (NY, QC...).")
@click.option("--feed", help="Only this feed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_appcontext
def stations_list(state: str | None, feed: str | None, as_json: bool) -> None:
    """List stations: code, name, state, time zone."""
    query = select(Station).order_by(Station.feed, Station.code, Station.stop_id)
    if state:
        query = query.where(Station.state == state.strip().upper())
    if feed:
        query = query.where(Station.feed == feed)
    with session_scope(_app()) as session:
        found = list(session.scalars(query))
    if as_json:
        _echo_json(
            [
                {
                    "feed": st.feed,
                    "code": st.code,
                    "stop_id": st.stop_id,
                    "name": st.name,
                    "state": st.state,
                    "country": st.country,
                    "timezone": st.timezone,
                    "lat": st.lat,
                    "lon": st.lon,
                    "in_feed": st.in_feed,
                }
                for st in found
            ]
        )
        return
    rows = [
        (st.feed, st.code, st.name, st.state or "?", st.timezone, "" if st.in_feed else "dropped")
        for st in found
    ]
    click.echo(_table(("FEED", "CODE", "NAME", "STATE", "TIME ZONE", ""), rows))
    click.echo(f"{len(found)} stations")


@click.group()
def trains() -> None:
    """Trains (numbered rail trips) imported from GTFS."""


@trains.command("list")
@click.option("--feed", help="Only this feed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_appcontext
def trains_list(feed: str | None, as_json: bool) -> None:
    """List train numbers with their route and number of scheduled trips."""
    query = select(Train, func.count(Trip.id)).outerjoin(Trip).group_by(Train.id)
    if feed:
        query = query.where(Train.feed == feed)
    with session_scope(_app()) as session:
        found = sorted(session.execute(query), key=lambda r: (r[0].feed, _natural(r[0].number)))
    if as_json:
        _echo_json(
            [
                {
                    "feed": tr.feed,
                    "number": tr.number,
                    "route": tr.route_name,
                    "trips": count,
                    "in_feed": tr.in_feed,
                }
                for tr, count in found
            ]
        )
        return
    rows = [
        (tr.feed, tr.number, tr.route_name, count, "" if tr.in_feed else "dropped")
        for tr, count in found
    ]
    click.echo(_table(("FEED", "NUMBER", "ROUTE", "TRIPS", ""), rows))
    click.echo(f"{len(found)} trains")


# --- placements ----------------------------------------------------------------------------


@click.group()
def placements() -> None:
    """Placements: one poster each, with its own code."""


def _placement_json(pl: Placement, public_url: str) -> dict[str, Any]:
    return {
        "code": pl.code,
        "url": qr_url(public_url, pl.code),
        "station": pl.station.code if pl.station else None,
        "train": pl.train.number if pl.train else None,
        "feed": (pl.station or pl.train).feed,  # type: ignore[union-attr]
        "where": where(pl),
        "spot": pl.spot,
        "lang": pl.lang,
        "active": pl.active,
        "created_at": pl.created_at.isoformat(),
        "retired_at": pl.retired_at.isoformat() if pl.retired_at else None,
    }


@placements.command("add")
@click.option("--station", "station_ref", metavar="CODE", help="Station code, or FEED:CODE.")
@click.option("--train", "train_ref", metavar="NUMBER", help="Train number, or FEED:NUMBER.")
@click.option("--all-stations", is_flag=True, help="One at every station not yet covered.")
@click.option("--feed", help="With --all-stations: only this feed's stations.")
@click.option("--spot", required=True, help='Where the poster hangs, e.g. "Women\'s restroom".')
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES, case_sensitive=False),
    default=LANGUAGES[0],
    show_default=True,
    help="The poster's and form's first language.",
)
@with_appcontext
def placements_add(
    station_ref: str | None,
    train_ref: str | None,
    all_stations: bool,
    feed: str | None,
    spot: str,
    lang: str,
) -> None:
    """Create a placement at a station or on a train (or at every station) with a new code."""
    if sum((station_ref is not None, train_ref is not None, all_stations)) != 1:
        raise click.UsageError("give exactly one of --station, --train or --all-stations")
    if feed and not all_stations:
        raise click.UsageError("--feed goes with --all-stations; elsewhere type FEED:CODE")
    app = _app()
    try:
        with session_scope(app) as session:
            now = utcnow()
            if all_stations:
                made, skipped = add_station_placements(
                    session, spot=spot, lang=lang, now=now, feed=feed
                )
                click.echo(
                    f"made {len(made)} placements; skipped {skipped} stations that already "
                    f"have an active one at {' '.join(spot.split())!r}"
                )
                return
            station = find_station(session, station_ref) if station_ref else None
            train = find_train(session, train_ref) if train_ref else None
            pl = add_placement(session, station=station, train=train, spot=spot, lang=lang, now=now)
            click.echo(f"{codes.display(pl.code)}  {where(pl)} · {pl.spot} · {pl.lang}")
            click.echo(f"  {qr_url(get_settings(app).public_url, pl.code)}")
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc


@placements.command("list")
@click.option("--station", "station_ref", metavar="CODE", help="Only this station's.")
@click.option("--train", "train_ref", metavar="NUMBER", help="Only this train's.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_appcontext
def placements_list(station_ref: str | None, train_ref: str | None, as_json: bool) -> None:
    """List placements with their codes and the URL their QR code encodes."""
    app = _app()
    try:
        with session_scope(app) as session:
            station = find_station(session, station_ref) if station_ref else None
            train = find_train(session, train_ref) if train_ref else None
            found = list_placements(session, station=station, train=train)
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc
    public_url = get_settings(app).public_url
    if as_json:
        _echo_json([_placement_json(pl, public_url) for pl in found])
        return
    rows = [
        (
            codes.display(pl.code),
            where(pl),
            pl.spot,
            pl.lang,
            "active" if pl.active else "retired",
            qr_url(public_url, pl.code),
        )
        for pl in found
    ]
    click.echo(_table(("CODE", "WHERE", "SPOT", "LANG", "STATUS", "URL"), rows))
    click.echo(f"{len(found)} placements")


@placements.command("retire")
@click.argument("code")
@with_appcontext
def placements_retire(code: str) -> None:
    """Retire the placement CODE (its poster came down); old tips stay linked to it."""
    try:
        with session_scope(_app()) as session:
            now = utcnow()
            pl = retire_placement(session, code, now=now)
            label = f"{codes.display(pl.code)} ({where(pl)} · {pl.spot})"
            if pl.retired_at != now:
                click.echo(f"{label} was already retired on {pl.retired_at:%Y-%m-%d}")
                return
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"retired {label}; its code still opens the form and its tips keep their place")


# --- demo ----------------------------------------------------------------------------------


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to serve on.")
@click.option("--no-serve", is_flag=True, help="Set up, print the URLs, and exit.")
@with_appcontext
def demo(host: str, port: int, no_serve: bool) -> None:
    """Create the database, import the sample feed, add demo posters, and serve the app."""
    from tipline.demo import DEMO_ADMIN, demo_admin_token, seed_demo, serve
    from tipline.migrate import upgrade

    app = _app()
    upgrade(app)
    with session_scope(app) as session:
        report, made = seed_demo(session, now=utcnow())
        lines = [
            f"  http://{host}:{port}/T/{pl.code}  {where(pl)} · {pl.spot} ({pl.lang})"
            for pl in made
        ]
        token = demo_admin_token(session, now=utcnow())
    click.echo(f"Sample feed {report.feed!r}: {report.stations} stations, {report.trains} trains")
    click.echo("Demo posters (open a URL to see the traveler's form):")
    click.echo("\n".join(lines))
    if token:
        click.echo(
            f"Staff desk: set up the demo admin ({DEMO_ADMIN}, national) with an authenticator"
            f" app at\n  http://{host}:{port}/staff/setup/{token}"
        )
    click.echo(f"Staff sign-in: http://{host}:{port}/staff/signin")
    if not no_serve:
        serve(app, host, port)
