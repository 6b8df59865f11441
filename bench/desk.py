"""The staff desk under load and attack, on a real multi-worker server; prints figures.

    .venv/bin/python bench/desk.py [--seconds 30] [--workers 4] [--database-url URL]
                                   [--race-rounds 5] [--redis-url redis://127.0.0.1:6379/15]

Tipline runs under gunicorn (--workers sync workers, loopback) on a fresh database: SQLite in a
temporary folder by default, or a fresh PostgreSQL database created on the server of
--database-url (dropped afterwards). Then:

1. load: 8 staff threads (sign in, then tip views, notes, acknowledgements, the queue) and
   4 traveler threads (the form, a tip) for --seconds; every answer is counted by status;
   target: 0 answers 5xx;
2. the TOTP race: 8 sessions pass the password step, then send one code at the same moment,
   --race-rounds times; target: exactly 1 of 8 signs in, every round;
3. the sign-in throttle (with --redis-url, shared by the workers): 150 wrong passwords from
   one address, 8 at a time, each for another email; target: exactly
   TIPLINE_SIGNIN_CLIENT_MAX_FAILURES (20) are judged (audited), the rest answered 429.

Bounded: about --seconds plus half a minute; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This checkout's tipline and its test helpers; not bench/ itself, whose queue.py would shadow
# the standard library's queue (psycopg imports it).
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import pyotp  # noqa: E402
from sqlalchemy import create_engine, func, select  # noqa: E402

from tests import factories, loadgen  # noqa: E402
from tests.databases import fresh_database  # noqa: E402
from tipline import create_app  # noqa: E402
from tipline.accounts import audit  # noqa: E402
from tipline.accounts.models import AuditEvent  # noqa: E402
from tipline.config import get_settings  # noqa: E402
from tipline.db import Database, session_scope  # noqa: E402
from tipline.migrate import upgrade  # noqa: E402

SECRET = "bench-secret-key-not-for-production"
STAFF = 8
TRAVELERS = 4
TIPS = 200


def seed(url: str, folder: Path) -> dict[str, object]:
    """Migrate, then a poster, tips in New York, staff and a racer for the TOTP race."""
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(folder), "SECRET_KEY": SECRET})
    upgrade(app)
    with app.app_context(), session_scope(app) as session:
        station = factories.station(session)
        poster = factories.placement(session, station=station)
        now = datetime.now(UTC)
        tips = [factories.tip(session, received_at=now).id for _ in range(TIPS)]
        staff = [
            (u.email, s)
            for u, s in (
                factories.staff_user(session, email=f"desk{n}@example.gov") for n in range(STAFF)
            )
        ]
        racer, racer_secret = factories.staff_user(session, email="racer@example.gov")
        seeded = {
            "poster": poster.code,
            "tips": tips,
            "staff": staff,
            "racer": (racer.email, racer_secret),
        }
    Database.engine(app).dispose()
    return seeded


@contextmanager
def gunicorn(env: dict[str, str], workers: int) -> Iterator[str]:
    """Tipline under gunicorn sync workers on a loopback port of its own; its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = int(listener.getsockname()[1])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "tipline:create_app()",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"fd://{listener.fileno()}",
            "--log-level",
            "warning",
        ],  # fmt: skip
        env={**{k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")}, **env},
        cwd=ROOT,
        pass_fds=[listener.fileno()],
        start_new_session=True,
    )
    listener.close()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(base + "/staff/signin", timeout=15):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def judged_failures(url: str) -> int:
    """signin.failure records: one per password actually judged."""
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "signin.failure")
        )
    engine.dispose()
    return int(count or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--database-url", help="a PostgreSQL server to run on (default SQLite)")
    parser.add_argument("--race-rounds", type=int, default=5)
    parser.add_argument("--redis-url", help="Redis for the shared limiter (throttle figure)")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        contextmanager(fresh_database)(
            args.database_url, Path(tmp), "tipline_bench_desk", "desk.db"
        ) as url,
    ):
        folder = Path(tmp)
        data = seed(url, folder / "seed")
        env = {
            "TIPLINE_DATABASE_URL": url,
            "TIPLINE_SECRET_KEY": SECRET,
            "TIPLINE_PUBLIC_URL": "http://127.0.0.1",
            # The seed's instance folder: its data keys sealed the tips the servers will read.
            "TIPLINE_INSTANCE_PATH": str(folder / "seed"),
            "TIPLINE_ALERTS_INLINE": "false",
            "TIPLINE_TIP_LIMIT_PER_CLIENT": "0",
            "TIPLINE_TIP_LIMIT_PER_PLACEMENT": "0",
        }
        if args.redis_url:
            env["TIPLINE_REDIS_URL"] = args.redis_url
            env["TIPLINE_REDIS_PREFIX"] = f"tipline-bench-desk-{uuid.uuid4().hex[:8]}"
        kind = "PostgreSQL" if args.database_url else "SQLite"
        limiter = "Redis" if args.redis_url else "memory (per worker)"
        print(f"{kind}, gunicorn -w {args.workers} (sync), loopback; limiter: {limiter}")
        # The load and the race are about the desk and the code, not lockout: the race's seven
        # losers per round would otherwise lock the racer and spend the client's budget.
        relaxed = {
            "TIPLINE_SIGNIN_MAX_FAILURES": "100000",
            "TIPLINE_SIGNIN_CLIENT_MAX_FAILURES": "100000",
        }
        with gunicorn({**env, **relaxed}, args.workers) as base:
            load(base, data, args.seconds)
            race(base, data, args.race_rounds)
        chain(url, folder / "seed")  # the seed's keys: the tips are sealed under them
        if not args.redis_url:
            print("\n3. sign-in throttle: skipped (give --redis-url)")
            return
        # A fresh server and counters, the default settings: what an attacker meets.
        env["TIPLINE_REDIS_PREFIX"] = f"tipline-bench-desk-{uuid.uuid4().hex[:8]}"
        with gunicorn(env, args.workers) as base:
            before = judged_failures(url)
            statuses = loadgen.spray(base, attempts=150, parallel=8)
            judged = judged_failures(url) - before
        ok, refused = statuses.count(200), statuses.count(429)
        print(
            "\n3. sign-in throttle (setting 20), 150 wrong passwords from one address, 8 at a "
            f"time, across {args.workers} workers: judged {judged}; answered 200: {ok}, "
            f"429: {refused}, other: {len(statuses) - ok - refused}"
        )


def load(base: str, data: dict[str, object], seconds: float) -> None:
    """Staff and travelers at once; every answer by status."""
    started = time.monotonic()
    tally = loadgen.run(
        base,
        staff=data["staff"],  # type: ignore[arg-type]
        password=factories.STAFF_PASSWORD,
        tip_ids=data["tips"],  # type: ignore[arg-type]
        poster=str(data["poster"]),
        seconds=seconds,
        travelers=TRAVELERS,
    )
    took = time.monotonic() - started
    total = sum(tally.answers.values())
    print(
        f"\n1. load: {STAFF} staff + {TRAVELERS} travelers for {took:.1f} s: {total} requests "
        f"({total / took:.0f}/s), 5xx: {tally.server_errors}, client errors: {len(tally.errors)}"
    )
    print(tally.table())
    for error in tally.errors[:5]:
        print("  error:", error)


def chain(url: str, folder: Path) -> None:
    """The audit chain after 4 workers appended to it at once: recomputed end to end."""
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(folder), "SECRET_KEY": SECRET})
    with app.app_context(), session_scope(app) as session:
        verdict = audit.verify(session, str(get_settings(app).audit_key))
    Database.engine(app).dispose()
    state = "intact" if verdict.ok else f"NOT intact: {verdict.problem}"
    print(f"\n   audit chain after the load (audit verify): {state}, {verdict.records} records")


def race(base: str, data: dict[str, object], rounds: int) -> None:
    """One code sent by 8 sessions at once, `rounds` times."""
    email, secret = data["racer"]  # type: ignore[misc]
    results, step = [], None
    for _ in range(rounds):
        step = loadgen.next_totp_step(step)
        code = pyotp.TOTP(secret).at(step * 30)
        answers = loadgen.race_one_code(base, email, factories.STAFF_PASSWORD, code, 8)
        odd = sorted(a for a in answers if a not in (200, 302))
        results.append(f"{answers.count(302)}/8" + (f" (other answers {odd})" if odd else ""))
    print(f"\n2. TOTP race, one code sent by 8 sessions at once: signed in {', '.join(results)}")


if __name__ == "__main__":
    main()
