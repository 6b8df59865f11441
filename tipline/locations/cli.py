"""CLI commands for locations: GTFS import, stations, trains, placements, and the demo."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from tipline.accounts import audit
from tipline.config import get_settings
from tipline.db import session_scope, utcnow
from tipline.locations import codes, realtime
from tipline.locations.gtfs import FeedError, import_feed
from tipline.locations.models import Placement, Station, Train, Trip
from tipline.locations.schedule import Run, train_runs
from tipline.locations.services import (
    LANGUAGES,
    AmbiguousLocation,
    InvalidCode,
    InvalidPlacement,
    InvalidState,
    PlacementNotFound,
    UnknownLocation,
    add_placement,
    add_station_placements,
    find_station,
    find_train,
    find_trains,
    list_placements,
    numbers_of,
    qr_url,
    retire_placement,
    set_state,
    stations_to_check,
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
    InvalidState,
    realtime.RealtimeError,
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
    app = _app()
    try:
        with session_scope(app) as session:
            report = import_feed(session, path, feed=feed, now=utcnow())
            to_check = stations_to_check(
                session, border_km=get_settings(app).station_border_km, feed=report.feed
            )
    except FeedError as exc:
        raise click.ClickException(f"{exc} (nothing imported)") from exc
    click.echo(f"Imported {report.summary()[0]} in {time.perf_counter() - started:.1f} s")
    for line in report.summary()[1:]:
        click.echo(line)
    if to_check:
        click.echo(
            f"  states:     {len(to_check)} station(s) near a border or with a doubtful time "
            f"zone; a person should confirm them: tipline stations check --feed {report.feed}"
        )


@gtfs.group("realtime")
def gtfs_realtime() -> None:
    """GTFS-realtime TripUpdates: delays that place late trains right while fresh."""


@gtfs_realtime.command("set")
@click.argument("feed")
@click.argument("url")
@with_appcontext
def realtime_set(feed: str, url: str) -> None:
    """Poll URL (a TripUpdates feed) for the imported feed FEED."""
    app = _app()
    try:
        with session_scope(app) as session:
            row = realtime.set_url(session, feed, url, now=utcnow())
            audit.record(
                session,
                action="realtime.set",
                actor=None,
                now=utcnow(),
                target=f"feed:{row.feed}",
                detail={"url": row.url},
            )
            name = row.feed
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"feed {name!r}: realtime delays from {url.strip()} (polled by the worker)")


@gtfs_realtime.command("remove")
@click.argument("feed")
@with_appcontext
def realtime_remove(feed: str) -> None:
    """Stop polling FEED's realtime URL and forget its delays."""
    with session_scope(_app()) as session:
        if not realtime.remove_url(session, feed):
            raise click.ClickException(f"feed {feed!r} has no realtime URL")
        audit.record(
            session,
            action="realtime.remove",
            actor=None,
            now=utcnow(),
            target=f"feed:{feed.strip().lower()}",
        )
    click.echo(f"feed {feed!r}: realtime URL removed; positions use the timetable")


@gtfs_realtime.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_appcontext
def realtime_list(as_json: bool) -> None:
    """Feeds with a realtime URL and how their last polls went."""
    with session_scope(_app()) as session:
        rows = realtime.list_feeds(session)
    items = [
        {
            "feed": r.feed,
            "url": r.url,
            "polled_at": _iso(r.polled_at),
            "ok_at": _iso(r.ok_at),
            "feed_timestamp": _iso(r.feed_timestamp),
            "trips": r.trips,
            "error": r.error,
        }
        for r in rows
    ]
    if as_json:
        _echo_json(items)
        return
    table = [
        (i["feed"], i["url"], i["ok_at"] or "never", i["trips"], i["error"] or "") for i in items
    ]
    click.echo(_table(("FEED", "URL", "LAST GOOD POLL", "TRIPS", "LAST ERROR"), table))


@gtfs_realtime.command("poll")
@click.option("--once", is_flag=True, help="Poll every feed once, then exit.")
@with_appcontext
def realtime_poll(once: bool) -> None:
    """Poll the realtime feeds every TIPLINE_REALTIME_POLL_SECONDS (30); Ctrl-C stops.

    For production, run this (or let `tipline alerts run` call it) beside the web server and
    set TIPLINE_REALTIME_INLINE=false; several pollers may run, each feed is fetched once.
    """
    app = _app()
    interval = get_settings(app).realtime_poll_seconds
    while True:
        results = realtime.poll_once(app, force=once)
        for result in results:
            status = f"error: {result.error}" if result.error else f"{result.trips} trip updates"
            click.echo(f"{utcnow():%Y-%m-%d %H:%M:%S} {result.feed}: {status}")
        if once:
            if not results:
                click.echo("no feed has a realtime URL (tipline gtfs realtime set FEED URL)")
            if any(r.error for r in results):
                raise SystemExit(1)
            return
        time.sleep(interval)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


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
                    "state_by_boundaries": st.state_auto,
                    "state_set_by_person": st.state_override,
                    "border_km": st.border_km,
                    "border_with": st.border_with,
                    "state_note": st.state_note,
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


@stations.command("check")
@click.option("--feed", help="Only this feed.")
@click.option("--all", "everything", is_flag=True, help="Include stations already confirmed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_appcontext
def stations_check(feed: str | None, everything: bool, as_json: bool) -> None:
    """Stations whose state a person should confirm: near a border (TIPLINE_STATION_BORDER_KM),
    outside every boundary, or with a time zone their state does not use. Confirm or correct
    each with `tipline stations set-state CODE XX`."""
    app = _app()
    with session_scope(app) as session:
        found = stations_to_check(
            session,
            border_km=get_settings(app).station_border_km,
            feed=feed,
            everything=everything,
        )
        items = [_check_item(st) for st in found]
    if as_json:
        _echo_json(items)
        return
    rows = [
        (
            i["feed"],
            i["code"],
            i["name"][:40],
            i["state"] or "?",
            i["state_by_boundaries"] or "?",
            "" if i["border_km"] is None else f"{i['border_km']:.2f} {i['border_with']}",
            i["state_note"] or "",
            "yes" if i["state_set_by_person"] else "",
        )
        for i in items
    ]
    headers = ("FEED", "CODE", "NAME", "STATE", "BOUNDARIES", "BORDER KM", "NOTE", "CONFIRMED")
    click.echo(_table(headers, rows))
    click.echo(f"{len(items)} stations to confirm")


def _check_item(st: Station) -> dict[str, Any]:
    return {
        "feed": st.feed,
        "code": st.code,
        "stop_id": st.stop_id,
        "name": st.name,
        "state": st.state,
        "state_by_boundaries": st.state_auto,
        "state_set_by_person": st.state_override,
        "border_km": st.border_km,
        "border_with": st.border_with,
        "state_note": st.state_note,
        "timezone": st.timezone,
        "lat": st.lat,
        "lon": st.lon,
    }


@stations.command("set-state")
@click.argument("code")
@click.argument("state", required=False)
@click.option("--clear", is_flag=True, help="Forget the correction: back to the boundaries.")
@with_appcontext
def stations_set_state(code: str, state: str | None, clear: bool) -> None:
    """Record the state or province of station CODE (FEED:CODE when two feeds share it); it
    outlives re-imports and is audited. Tips already sent keep the state they were routed to."""
    if clear == (state is not None):
        raise click.UsageError("give a state (NY, QC...) or --clear")
    try:
        with session_scope(_app()) as session:
            station = find_station(session, code)
            before = station.state
            set_state(session, station, None if clear else state, now=utcnow(), actor=None)
            label = f"{station.name} ({station.feed}:{station.code})"
            after, auto = station.state, station.state_auto
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc
    how = "by the boundaries" if clear else f"set by a person; boundaries say {auto or 'none'}"
    click.echo(f"{label}: {before or '?'} -> {after or '?'} ({how}); new tips route there")


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


@trains.command("where")
@click.argument("number")
@click.option("--at", "at", metavar="ISO-8601", help="The instant, e.g. 2026-12-02T18:30:00Z.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@with_appcontext
def trains_where(number: str, at: str | None, as_json: bool) -> None:
    """Where train NUMBER is (5/6 for both directions): every run under way with its last and
    next stops, or when none is, the last to arrive and the next to leave. Times in UTC and at
    each station; realtime delays when fresh."""
    moment = _instant(at)
    app = _app()
    settings = get_settings(app)
    try:
        with session_scope(app) as session:
            found = find_trains(session, number)
            delays = realtime.fresh_delays(
                session, found, moment, max_age=settings.realtime_fresh_seconds
            )
            runs = train_runs(session, found, moment, delays=delays)
            label = numbers_of(found)
            routes = sorted({t.route_name for t in found})
            feed = found[0].feed
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(
            json.dumps(
                {
                    "train": label,
                    "feed": feed,
                    "routes": routes,
                    "at": moment.isoformat(),
                    "under_way": sum(run.moving for run in runs),
                    "runs": [run.as_dict() for run in runs],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    moving = sum(run.moving for run in runs)
    summary = f"{moving} run(s) under way" if moving else "no run under way"
    click.echo(f"Train {label} ({', '.join(routes)}) at {moment:%Y-%m-%d %H:%M} UTC: {summary}")
    for run in runs:
        click.echo("\n".join(_run_lines(run)))
    if not runs:
        click.echo("  it runs no trip around this time")


def _instant(text: str | None) -> datetime:
    if text is None:
        return utcnow()
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO-8601 instant like 2026-12-02T18:30:00Z", param_hint="--at"
        ) from None
    if moment.tzinfo is None:
        raise click.BadParameter(
            f"{text!r} has no time zone: add Z (UTC) or an offset like -05:00", param_hint="--at"
        )
    if not 1970 <= moment.year <= 2200:
        raise click.BadParameter(f"{text!r} is too far from any timetable", param_hint="--at")
    return moment.astimezone(UTC)


def _run_lines(run: Run) -> list[str]:
    status = {"under_way": "under way", "next": "next to leave", "last": "last to arrive"}
    head = (
        f"  {status[str(run.status)]}: {run.route_name} {run.train_number}, run of "
        f"{run.service_date.isoformat()} ({run.origin.station_code} → "
        f"{run.destination.station_code}), {run.timing()}"
    )
    lines = [head]
    for word, call in (("last", run.last), ("next", run.next)):
        if call is None:
            continue
        local = call.local()
        lines.append(
            f"    {word}: {call.station_name} ({call.station_code}, {call.state or '?'}) "
            f"{call.time:%Y-%m-%d %H:%M} UTC = {local:%H:%M %Z} local"
        )
    return lines


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
        "trains": [t.number for t in pl.trains],
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
@click.option(
    "--train",
    "train_refs",
    metavar="NUMBER",
    multiple=True,
    help="Train number, or FEED:NUMBER; repeat (--train 5 --train 6) for a car that turns around.",
)
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
    train_refs: tuple[str, ...],
    all_stations: bool,
    feed: str | None,
    spot: str,
    lang: str,
) -> None:
    """Create a placement at a station or on a train (or at every station) with a new code."""
    if sum((station_ref is not None, bool(train_refs), all_stations)) != 1:
        raise click.UsageError("give exactly one of --station, --train or --all-stations")
    if feed and not all_stations:
        raise click.UsageError("--feed goes with --all-stations; elsewhere type FEED:CODE")
    app = _app()
    try:
        with session_scope(app, write=True) as session:
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
            numbers = find_trains(session, train_refs) if train_refs else []
            pl = add_placement(
                session, station=station, trains=numbers, spot=spot, lang=lang, now=now
            )
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
        with session_scope(_app(), write=True) as session:
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
    from tipline.demo import DEMO_ADMIN, demo_admin_token, demo_link_file, seed_demo
    from tipline.migrate import upgrade
    from tipline.serving import serve

    app = _app()
    upgrade(app)
    with session_scope(app) as session:
        report, made = seed_demo(session, now=utcnow())
        lines = [
            f"  http://{host}:{port}/T/{pl.code}  {where(pl)} · {pl.spot} ({pl.lang})"
            for pl in made
        ]
        token = demo_admin_token(session, now=utcnow())
    database = make_url(str(get_settings(app).database_url)).render_as_string(hide_password=True)
    click.echo(f"Database: {database}")
    click.echo(f"Sample feed {report.feed!r}: {report.stations} stations, {report.trains} trains")
    click.echo("Demo posters (open a URL to see the traveler's form):")
    click.echo("\n".join(lines))
    if token:
        link = f"http://{host}:{port}/staff/setup/{token}"
        shown = f"app at\n  {link}"
        if not no_serve and not sys.stdout.isatty():
            # A served demo whose output is not a terminal is being logged: the one-time link
            # goes to a private file instead, never into a log.
            shown = f"app: the set-up link is in {demo_link_file(app, link)}"
        click.echo(
            f"Staff desk: set up the demo admin ({DEMO_ADMIN}, national) with an authenticator"
            f" {shown}"
        )
    click.echo(f"Staff sign-in: http://{host}:{port}/staff/signin")
    if not no_serve:
        serve(app, host, port)
