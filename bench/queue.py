"""The staff queue with one million tips: rendered pages against the bare indexed SQL query.

    .venv/bin/python bench/queue.py [--tips 1000000] [--runs 200] [--db bench/out/queue.db]

Tips are spread over the Amtrak stations and trains (../shared/data/amtrak-gtfs, imported with
the real GTFS importer; synthetic stations when the feed is absent), received over 90 days, most
of those older than two days closed. Runs on SQLite, and on PostgreSQL too when
TIPLINE_BENCH_PG_URL (or TIPLINE_TEST_DATABASE_URL) names a server: a fresh database is created
there and dropped afterwards. A populated SQLite file is reused when its tip count matches.

Printed: p50/p95 in milliseconds of the default queue page and a filtered page, rendered through
the Flask test client for a signed-in New York triager and a national one, next to the same
SELECT run bare (Core, no ORM, no template), and the status counts query; each as wall-clock
time and as this process's CPU time (steadier on a shared machine; without the PostgreSQL
server's share), and the load average while measuring.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# This file shares its name with the standard library's queue module: take its folder off the
# path, or `import queue` inside psycopg would load this script instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))  # for tests.factories (real sign-in with a TOTP code)

from flask import Flask  # noqa: E402
from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from tipline import create_app  # noqa: E402
from tipline.accounts.models import NATIONAL, Role, User  # noqa: E402
from tipline.db import Database, session_scope  # noqa: E402
from tipline.intake.models import Indicator, Tip, TipJurisdiction  # noqa: E402
from tipline.locations.models import Station, Train, Trip, TripStop  # noqa: E402
from tipline.migrate import upgrade  # noqa: E402
from tipline.triage.queue import QueueFilter, queue_queries, status_counts  # noqa: E402

AMTRAK = ROOT.parent / "shared" / "data" / "amtrak-gtfs"
NOW = datetime(2026, 6, 15, 14, 0, tzinfo=UTC)
DAYS = 90
PASSWORD = "bench-password-long-enough-1"
INDICATORS = [i.value for i in Indicator]
WORDS = [
    "man",
    "woman",
    "adult",
    "teen",
    "group",
    "platform",
    "car",
    "seat",
    "restroom",
    "door",
    "bag",
    "phone",
    "ticket",
    "quiet",
    "nervous",
    "coat",
    "hood",
    "backpack",
    "luggage",
    "older",
    "younger",
    "talking",
    "waiting",
    "boarding",
]
RESOLUTIONS = ("actioned", "no_action", "prank_spam")


def main() -> None:
    """Populate, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tips", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--db", type=Path, default=ROOT / "bench" / "out" / "queue.db")
    args = parser.parse_args()

    args.db.parent.mkdir(parents=True, exist_ok=True)
    bench_backend("sqlite", "sqlite:///" + str(args.db), args.tips, args.runs, reuse=True)
    pg = os.environ.get("TIPLINE_BENCH_PG_URL") or os.environ.get("TIPLINE_TEST_DATABASE_URL")
    if pg:
        name = f"tipline_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(pg).set(database=name).render_as_string(hide_password=False)
            bench_backend("postgresql", url, args.tips, args.runs, reuse=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def bench_backend(label: str, url: str, n_tips: int, runs: int, *, reuse: bool) -> None:
    """Fill one database (unless reusable) and print its figures."""
    instance = ROOT / "bench" / "out" / "instance"
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "bench-secret-key",
            "PUBLIC_URL": "https://tips.example.org",
            # The bench clock: ages and overdue flags are computed against it.
            "CLOCK": lambda: NOW,
        }
    )
    engine = Database.engine(app)
    print(f"\n== {label} ({engine.url.render_as_string(hide_password=True)})")
    upgrade(app)
    with session_scope(app) as session:
        have = session.scalar(select(func.count(Tip.id))) or 0
    if not (reuse and have == n_tips):
        if have:
            sys.exit(f"{url} already holds {have} tips; remove it or pass another --db")
        started = time.perf_counter()
        source = load_places(app)
        populate(app, source, n_tips)
        print(f"populated {n_tips:,} tips in {time.perf_counter() - started:.0f} s")
    # Statistics as a running server would have them (autovacuum does this on PostgreSQL).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    measure(app, runs)
    engine.dispose()


# --- data ------------------------------------------------------------------------------------


class Places:
    """Stations and trains to hang tips on, with the states a train passes."""

    def __init__(self) -> None:
        self.stations: list[tuple[str, str, str | None]] = []  # code, name, state
        self.weights: list[float] = []
        self.trains: list[tuple[str, str, list[tuple[str, str, str | None]]]] = []


def load_places(app: Flask) -> Places:
    """Import the Amtrak feed (or synthesize a network) and read back what tips need."""
    with session_scope(app) as session:
        if session.scalar(select(func.count(Station.id))) == 0:
            if AMTRAK.is_dir():
                from tipline.locations.gtfs import import_feed

                report = import_feed(session, AMTRAK, feed="amtrak", now=NOW)
                print(f"imported Amtrak: {report.stations} stations, {report.trips} trips")
            else:
                print(f"{AMTRAK} absent: synthesizing 500 stations and 300 trains")
                synthesize(session)
    places = Places()
    with session_scope(app) as session:
        calls: dict[int, int] = {
            station_id: n
            for station_id, n in session.execute(
                select(TripStop.station_id, func.count()).group_by(TripStop.station_id)
            )
        }
        for st in session.scalars(select(Station).order_by(Station.id)):
            places.stations.append((st.code, st.name, st.state))
            # Busy stations get more tips: weight by how many scheduled calls they see.
            places.weights.append(1 + calls.get(st.id, 0))
        for tr in session.scalars(select(Train).order_by(Train.id)):
            trip = session.scalars(select(Trip).where(Trip.train_id == tr.id).limit(1)).first()
            if trip is None:
                continue
            stops = [(s.station.code, s.station.name, s.station.state) for s in trip.stops]
            if len(stops) >= 2:
                places.trains.append((tr.number, tr.route_name, stops))
    return places


def synthesize(session: Any) -> None:
    """A made-up network: 500 stations over a few states, 300 trains of 2-12 stops."""
    rnd = random.Random(7)
    states = [
        "NY",
        "NJ",
        "PA",
        "DE",
        "MD",
        "DC",
        "VA",
        "NC",
        "SC",
        "GA",
        "FL",
        "IL",
        "CA",
        "WA",
        "OR",
        "MA",
        "CT",
        "RI",
    ]
    stations = []
    for i in range(500):
        st = Station(
            feed="synthetic",
            stop_id=f"S{i:03d}",
            code=f"S{i:03d}",
            name=f"Station {i}",
            lat=40.0,
            lon=-75.0,
            timezone="America/New_York",
            state=rnd.choice(states),
            country="US",
        )
        session.add(st)
        stations.append(st)
    for i in range(300):
        tr = Train(feed="synthetic", number=str(i + 1), route_name=f"Route {i % 20}")
        trip = Trip(
            feed="synthetic",
            trip_id=f"T{i}",
            train=tr,
            service_id="daily",
            route_name=tr.route_name,
            headsign=None,
            direction_id=0,
        )
        for seq, st in enumerate(rnd.sample(stations, rnd.randint(2, 12))):
            trip.stops.append(
                TripStop(seq=seq, station=st, arrival=seq * 1800, departure=seq * 1800 + 60)
            )
        session.add(trip)
    session.flush()


def populate(app: Flask, places: Places, n_tips: int, chunk: int = 20_000) -> None:
    """Insert `n_tips` tips and their jurisdictions in bulk, oldest first."""
    rnd = random.Random(42)
    engine = Database.engine(app)
    with engine.begin() as conn:
        next_id = 1
        for rows, jurisdictions in tip_batches(rnd, places, n_tips, chunk):
            for row in rows:
                row["id"] = next_id
                next_id += 1
            conn.execute(insert(Tip.__table__), rows)
            conn.execute(
                insert(TipJurisdiction.__table__),
                [
                    {"tip_id": row["id"], "code": code}
                    for row, codes in zip(rows, jurisdictions, strict=True)
                    for code in codes
                ],
            )
            print(f"  {next_id - 1:,} tips", end="\r", flush=True)
    print()


def tip_batches(
    rnd: random.Random, places: Places, n_tips: int, chunk: int
) -> Iterator[tuple[list[dict[str, Any]], list[set[str]]]]:
    """Rows for the tip table and each tip's jurisdictions, in batches of `chunk`."""
    offsets = sorted((rnd.random() * DAYS * 86_400 for _ in range(n_tips)), reverse=True)
    station_picks = rnd.choices(range(len(places.stations)), places.weights, k=n_tips)
    for start in range(0, n_tips, chunk):
        rows: list[dict[str, Any]] = []
        jurisdictions: list[set[str]] = []
        for i in range(start, min(start + chunk, n_tips)):
            row, codes = one_tip(
                rnd, places, i, NOW - timedelta(seconds=offsets[i]), station_picks[i]
            )
            rows.append(row)
            jurisdictions.append(codes)
        yield rows, jurisdictions


def _blank_row() -> dict[str, Any]:
    """Every tip column at its scalar default (executemany wants the same keys in each row)."""
    row: dict[str, Any] = {}
    for column in Tip.__table__.columns:
        default = column.default
        row[column.name] = default.arg if default is not None and default.is_scalar else None
    return row


BLANK = _blank_row()


def one_tip(
    rnd: random.Random, places: Places, i: int, received: datetime, station_pick: int
) -> tuple[dict[str, Any], set[str]]:
    """One tip's row: a station (60%) or a moving train (40%), mostly closed when old."""
    priority = rnd.choices((1, 2, 3, 4), (4, 16, 55, 25))[0]
    row: dict[str, Any] = {
        **BLANK,
        "received_at": received,
        "submission_token": f"bench-{i}",
        "receipt_hash": f"bench-receipt-{i}",
        "lang": "en",
        "indicators": rnd.sample(INDICATORS, rnd.randint(0, 3)),
        "happening_now": priority == 1,
        "details": " ".join(rnd.choices(WORDS, k=rnd.randint(4, 20))),
        "consent_forward": rnd.random() < 0.5,
        "train_moving": False,
        "priority": priority,
        "priority_overridden": False,
    }
    if rnd.random() < 0.6:
        code, name, state = places.stations[station_pick]
        row.update(
            location_kind="station",
            station_code=code,
            station_name=name,
            state=state,
            placement_code=f"P{station_pick:04d}{rnd.randint(0, 4)}",
        )
        codes = {state} if state else set()
    else:
        number, route, stops = rnd.choice(places.trains)
        k = rnd.randrange(len(stops) - 1)
        last, nxt = stops[k], stops[k + 1]
        row.update(
            location_kind="train",
            train_number=number,
            route_name=route,
            train_moving=True,
            last_stop_code=last[0],
            last_stop_name=last[1],
            last_stop_time=received - timedelta(minutes=rnd.randint(1, 40)),
            next_stop_code=nxt[0],
            next_stop_name=nxt[1],
            next_stop_time=received + timedelta(minutes=rnd.randint(1, 40)),
        )
        codes = {s for s in (last[2], nxt[2]) if s}
    age = NOW - received
    closed = rnd.random() < (0.99 if age > timedelta(days=2) else 0.3)
    if closed:
        row.update(
            status="closed",
            is_closed=True,
            resolution=rnd.choice(RESOLUTIONS),
            acknowledged_at=received + timedelta(minutes=5),
            closed_at=min(NOW, received + timedelta(hours=rnd.randint(1, 48))),
        )
    else:
        status = rnd.choices(("new", "acknowledged", "investigating", "referred"), (3, 3, 3, 1))[0]
        row.update(status=status, is_closed=False)
        if status != "new":
            row["acknowledged_at"] = received + timedelta(minutes=5)
    return row, codes


# --- measuring -------------------------------------------------------------------------------


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 of `samples`, in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float, float, float]:
    """Run `fn` a few times to warm up, then `runs` times; p50/p95 ms of the wall clock, then
    of this process's CPU time (which a busy machine inflates far less than the wall clock;
    it leaves out what a PostgreSQL server spends)."""
    for _ in range(5):
        fn()
    samples, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        samples.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return (*percentiles(samples), *percentiles(cpu))


FILTERED = (
    ("open, high, at NYP", "?priority=2&station=NYP"),
    ("all statuses, high, at NYP", "?status=all&priority=2&station=NYP"),
)


def measure(app: Flask, runs: int) -> None:
    """Time the rendered pages and the bare queries for a New York and a national user."""
    from tests.factories import sign_in, staff_user
    from tipline.db import db

    engine = Database.engine(app)
    run_id = uuid.uuid4().hex[:6]
    with session_scope(app) as session:
        users = {}
        for label, codes in (("NY", ["NY"]), ("national", [NATIONAL])):
            email = f"bench-{label.lower()}-{run_id}@example.org"
            user, secret = staff_user(
                session, email=email, role=Role.TRIAGER, jurisdictions=codes, password=PASSWORD
            )
            users[label] = (user.id, email, secret)
        total = session.scalar(select(func.count(Tip.id))) or 0
        total_open = session.scalar(select(func.count()).where(Tip.is_closed.is_(False))) or 0
        open_ny = (
            session.scalar(
                select(func.count())
                .select_from(Tip)
                .where(
                    Tip.is_closed.is_(False),
                    Tip.id.in_(select(TipJurisdiction.tip_id).where(TipJurisdiction.code == "NY")),
                )
            )
            or 0
        )
        ny_all = session.scalar(select(func.count()).where(TipJurisdiction.code == "NY")) or 0
    print(f"tips: {total:,} in all, {total_open:,} open; New York: {ny_all:,}, {open_ny:,} open")

    rows: list[tuple[str, str, tuple[float, float, float, float]]] = []
    for label, (user_id, email, secret) in users.items():
        client = app.test_client()
        sign_in(client, email, PASSWORD, secret)
        with app.app_context():
            user = db.session.get(User, user_id)
            assert user is not None
            plans = {"default": queue_queries(user, QueueFilter(), limit=51)}
            for name, query in FILTERED:
                form = dict(p.split("=") for p in query[1:].split("&"))
                f = QueueFilter(
                    status=form.get("status", "open"),
                    priority=int(form["priority"]),
                    station=form["station"],
                )
                plans[name] = queue_queries(user, f, limit=51)

        def bare(statements: list[Any]) -> Callable[[], object]:
            def run() -> object:
                with engine.connect() as conn:
                    return [conn.execute(s).all() for s in statements]

            return run

        def counts(user_id: int = user_id) -> object:
            with app.app_context():
                found = db.session.get(User, user_id)
                assert found is not None
                return status_counts(db.session, found)

        def page(path: str, client: Any = client) -> Callable[[], object]:
            def run() -> object:
                response = client.get(path)
                assert response.status_code == 200, response.status_code
                return response

            return run

        rows.append((label, "default page, rendered", timed(page("/staff/"), runs)))
        rows.append((label, "default page, bare SQL", timed(bare(plans["default"]), runs)))
        rows.append((label, "status counts (in the page)", timed(counts, runs)))
        for name, query in FILTERED:
            rows.append((label, f"{name}, rendered", timed(page("/staff/" + query), runs)))
            rows.append((label, f"{name}, bare SQL", timed(bare(plans[name]), runs)))
    width = max(len(r[1]) for r in rows)
    print(
        f"{'user':<9} {'what':<{width}}  {'p50 ms':>8} {'p95 ms':>8}"
        f"  {'cpu p50':>8} {'cpu p95':>8}   ({runs} runs each)"
    )
    for label, what, (p50, p95, cpu50, cpu95) in rows:
        print(f"{label:<9} {what:<{width}}  {p50:8.2f} {p95:8.2f}  {cpu50:8.2f} {cpu95:8.2f}")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
