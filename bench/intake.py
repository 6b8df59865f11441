"""The traveler's form under load, against a bare Flask app served the same way.

    .venv/bin/python bench/intake.py [--seconds 10] [--rounds 5] [--concurrency 8] [--workers 2]
                                     [--redis redis://127.0.0.1:6379/15]
                                     [--database-url postgresql://postgres@127.0.0.1/EMPTY_DB]

Both apps run at once under gunicorn (sync workers, on 127.0.0.1) with a fresh SQLite database
in a temporary folder (with --database-url both use that empty PostgreSQL database
instead, leaving their tables in it: drop it afterwards): Tipline with its
migrations, one station poster and the tip limits off
(with --redis, or TIPLINE_BENCH_REDIS_URL, the limits are on, counted in that Redis under a
prefix of the run's own, and set too high to refuse: every tip pays for its two counts);
the bare app with one ~10 KB Jinja page and one route inserting a row through the ORM, on an
engine from tipline.db.make_engine (the same WAL + synchronous=FULL). Tipline seals every
tip's text as in production (AES-256-GCM, with the keyring generated into its instance folder on
first start, the default): the bare insert stores plain text. Load comes from Python
threads, one HTTP/1.1 connection each (reopened when a sync worker closes it): GET of the form,
the bare page, POST of a valid tip (each with its own token, minted beforehand with the app's
signer) and the bare insert, --seconds each, taken in --rounds alternating slices so that other
load on the machine falls on both apps alike. About a minute in all; loopback only.

Printed: requests/s, p50 and p99 in ms for each, Tipline's rate as a share of the bare one
(target: at least 50 % for both), tips stored against 2xx answers (target: equal), and the
sealing check: how many stored tips have their text sealed under the keyring's current key, and
one of them opened back to the text that was sent (target: every one).
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, bench/ comes first on sys.path, where bench/queue.py hides the standard
# library's queue (redis needs it); and this checkout's tipline must win over an installed copy.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from flask import Flask, Response, render_template, request  # noqa: E402
from jinja2 import DictLoader  # noqa: E402
from sqlalchemy import String, Text, func, select  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker  # noqa: E402

from tipline.db import make_engine, utcnow  # noqa: E402

SECRET = "bench-secret-key-not-for-production"
TIP = {
    "indicator": ["holds_documents", "fearful"],
    "now": "no",
    "lang": "en",
    "when_text": "ten minutes ago",
    "where_text": "Women's restroom, concourse A",
    "people": "2",
    "details": "A man holds her ticket and phone and answers for her. " * 8,
}

# --- the bare baseline ----------------------------------------------------------------------

BARE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title><style>body{font:17px/1.4 sans-serif}{% for n in range(40) %}
.c{{ n }}{margin:{{ n }}px}{% endfor %}</style></head><body><h1>{{ title }}</h1>
<form method="post">{% for item in items %}<fieldset><legend>{{ item.name }}</legend>
{% for choice in item.choices %}<label for="{{ item.name }}-{{ loop.index }}"><input
type="checkbox" id="{{ item.name }}-{{ loop.index }}" name="{{ item.name }}"
value="{{ choice }}">{{ choice }}</label>{% endfor %}</fieldset>{% endfor %}
<input type="hidden" name="token" value="{{ token }}"><button>Send</button></form></body></html>
"""


class BareBase(DeclarativeBase):
    pass


class Note(BareBase):
    """One row per POST, like a tip: a unique token, some text, the time."""

    __tablename__ = "bench_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]


def bare_app() -> Flask:
    """A Flask app with nothing but one page and one insert (gunicorn: bench.intake:bare_app())."""
    app = Flask("bare")
    app.jinja_loader = DictLoader({"page.html": BARE_PAGE})
    # The table is made before gunicorn starts: two workers creating it at once would race,
    # and a worker that fails to boot stops gunicorn altogether.
    engine = make_engine(os.environ["BENCH_BARE_DATABASE_URL"])
    maker = sessionmaker(bind=engine)
    items = [
        {
            "name": f"group{g}",
            "choices": [f"Choice number {g}.{c} in plain words" for c in range(6)],
        }
        for g in range(10)
    ]

    @app.get("/page")
    def page() -> str:
        return render_template("page.html", title="Report", items=items, token=os.urandom(8).hex())

    @app.post("/note")
    def note() -> Response:
        with maker() as session:
            session.add(
                Note(
                    token=request.form["token"],
                    body=request.form.get("details", ""),
                    received_at=utcnow(),
                )
            )
            session.commit()
        return Response("stored", 201)

    return app


# --- serving --------------------------------------------------------------------------------


@contextmanager
def gunicorn(target: str, env: dict[str, str], workers: int, ready_path: str) -> Iterator[int]:
    """Serve `target` with gunicorn sync workers on a loopback port of its own."""
    # The socket is bound here and handed over, so no other process can take the port between
    # choosing it and gunicorn binding it.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = int(listener.getsockname()[1])
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", target,
            "--workers", str(workers), "--worker-class", "sync",
            "--bind", f"fd://{listener.fileno()}", "--log-level", "warning",
        ],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        pass_fds=[listener.fileno()],
    )  # fmt: skip
    listener.close()
    try:
        deadline = time.monotonic() + 60
        while fetch(port, ready_path) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn {target} did not start")
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


def fetch(port: int, path: str) -> int | None:
    """The size of one page, or None if it could not be had."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        conn.close()
    except (OSError, http.client.HTTPException):
        return None
    return len(body) if response.status == 200 else None


# --- load -----------------------------------------------------------------------------------


@dataclass
class Result:
    """Latencies of 2xx answers and a count of the others."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    failures: int = 0

    def add(self, other: Result) -> None:
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.failures += other.failures

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def quantile(self, q: float) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100)[int(q * 100) - 1] * 1000


def load(
    port: int,
    request_for: Callable[[], tuple[str, str, bytes | None]],
    seconds: float,
    concurrency: int,
    *,
    requests: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> Result:
    """Send requests from `concurrency` threads for `seconds` (or until `requests` were sent
    in all); collect latencies. Result.seconds is the time taken."""
    lock = threading.Lock()
    began = time.monotonic()
    stop = began + (seconds if requests is None else 10**9)
    left = [requests if requests is not None else 10**18]
    headers = {"Content-Type": content_type}
    result = Result(0.0)

    def take() -> bool:
        with lock:
            left[0] -= 1
            return left[0] >= 0

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies, failures = [], 0
        while time.monotonic() < stop and take():
            method, path, body = request_for()
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers if body else {})
                response = conn.getresponse()
                response.read()
                ok = 200 <= response.status < 300
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()  # sync workers close after each answer; reconnect next time
            except (OSError, http.client.HTTPException):
                conn.close()
                ok = False
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                failures += 1
        conn.close()
        with lock:
            result.latencies.extend(latencies)
            result.failures += failures

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = seconds if requests is None else time.monotonic() - began
    return result


# --- the run --------------------------------------------------------------------------------


def prepare_tipline(
    folder: Path, redis_url: str | None, database_url: str | None = None
) -> tuple[dict[str, str], str]:
    """A migrated database (a fresh SQLite file in `folder`, or the empty `database_url`) with
    one station poster; the environment gunicorn needs."""
    from tipline import create_app
    from tipline.db import Database, session_scope
    from tipline.locations.codes import new_code
    from tipline.locations.models import Placement, Station
    from tipline.migrate import upgrade

    env = {
        "TIPLINE_INSTANCE_PATH": str(folder / "instance"),
        "TIPLINE_DATABASE_URL": database_url or f"sqlite:///{folder / 'tipline.db'}",
        "TIPLINE_SECRET_KEY": SECRET,
        "TIPLINE_PUBLIC_URL": "https://tips.example.org",
        "TIPLINE_TIP_LIMIT_PER_CLIENT": "0",
        "TIPLINE_TIP_LIMIT_PER_PLACEMENT": "0",
    }
    if redis_url:
        env.update(
            TIPLINE_REDIS_URL=redis_url,
            TIPLINE_REDIS_PREFIX=f"tipline-bench-{os.getpid()}",
            TIPLINE_TIP_LIMIT_PER_CLIENT=f"{10**9}/600",
            TIPLINE_TIP_LIMIT_PER_PLACEMENT=f"{10**9}/600",
        )
    app = create_app(
        {
            "INSTANCE_PATH": env["TIPLINE_INSTANCE_PATH"],
            "DATABASE_URL": env["TIPLINE_DATABASE_URL"],
            "SECRET_KEY": SECRET,
        }
    )
    upgrade(app)
    with session_scope(app) as session:
        station = Station(
            feed="bench", stop_id="NYP", code="NYP", name="New York Penn Station",
            lat=40.7506, lon=-73.9935, timezone="America/New_York", state="NY", country="US",
        )  # fmt: skip
        placement = Placement(
            code=new_code(), station=station, spot="Women's restroom, concourse A"
        )
        session.add(placement)
        session.flush()
        code = placement.code
    Database.engine(app).dispose()
    return env, code


def count_rows(url: str, model: type) -> int:
    engine = make_engine(url)
    with Session(engine) as session:
        count = int(session.scalar(select(func.count()).select_from(model)) or 0)
    engine.dispose()
    return count


@dataclass(frozen=True)
class Sealing:
    """What the database holds of the tips' text: sealed or not, under which keys."""

    tips: int
    sealed: int
    keys: frozenset[str]
    current: str
    keyring: str
    opened: bool  # one stored value opened with the keyring gives back the text sent

    @property
    def ok(self) -> bool:
        return (
            self.tips > 0
            and self.sealed == self.tips
            and self.keys == {self.current}
            and self.opened
        )

    def __str__(self) -> str:
        return (
            f"sealing: {self.sealed} of {self.tips} stored tips' details sealed (AES-256-GCM) "
            f"under {', '.join(sorted(self.keys)) or 'no key'}; current key {self.current} "
            f"from {self.keyring}; a stored value opened back to the text sent: "
            + ("yes" if self.opened else "NO")
        )


def check_sealing(url: str, instance: Path) -> Sealing:
    """Read the tips' `details` column as stored (no column type: the raw value) and check
    it with the keyring the servers used (the one generated into the instance folder)."""
    from sqlalchemy import text

    from tipline.sealing.keyring import KEYS_FILE, Keyring, load

    ring = load(os.environ.get("TIPLINE_DATA_KEY"), instance)  # as the app reads it
    engine = make_engine(url)
    with engine.connect() as conn:
        raw = [str(v) for v in conn.execute(text("SELECT details FROM tip")).scalars()]
    engine.dispose()
    keys = {k for k in map(Keyring.key_of, raw) if k is not None}
    # The form cleans what it stores (NFC, and no trailing space).
    opened = bool(raw) and ring.open_text(raw[-1], "tip.details") == TIP["details"].strip()
    sealed = sum(1 for v in raw if v.startswith("s1:") and TIP["details"][:20] not in v)
    where = "TIPLINE_DATA_KEY" if ring.path is None else f"<instance>/{KEYS_FILE}"
    return Sealing(len(raw), sealed, frozenset(keys), ring.current, where, opened)


def forget_keys(url: str, prefix: str) -> None:
    """Remove the run's limiter keys."""
    import redis

    conn = redis.Redis.from_url(url)
    for key in conn.scan_iter(f"*{prefix}*"):
        conn.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument(
        "--rounds", type=int, default=5, help="slices the measurements alternate in"
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--redis",
        default=os.environ.get("TIPLINE_BENCH_REDIS_URL"),
        help="count tip limits in this Redis (default: limits off)",
    )
    parser.add_argument(
        "--database-url",
        help="an empty PostgreSQL database both apps use (default: fresh SQLite files)",
    )
    args = parser.parse_args()

    from tipline.intake import tokens
    from tipline.intake.models import Tip

    slice_ = args.seconds / args.rounds
    with tempfile.TemporaryDirectory(prefix="tipline-bench-") as tmp:
        folder = Path(tmp)
        env, code = prepare_tipline(folder, args.redis, args.database_url)
        bare_url = args.database_url or f"sqlite:///{folder / 'bare.db'}"
        bare_engine = make_engine(bare_url)
        BareBase.metadata.create_all(bare_engine)
        bare_engine.dispose()
        minted = iter([tokens.mint(SECRET) for _ in range(int(args.seconds * 2000))])
        serials = iter(range(10**9))

        def tip() -> tuple[str, str, bytes]:
            token = next(minted, None) or tokens.mint(SECRET)
            return "POST", f"/T/{code}", urlencode({**TIP, "token": token}, True).encode()

        def note() -> tuple[str, str, bytes]:
            body = {"token": f"t{next(serials)}", "details": TIP["details"]}
            return "POST", "/note", urlencode(body).encode()

        with (
            gunicorn("tipline:create_app()", env, args.workers, f"/T/{code}") as real,
            gunicorn(
                "bench.intake:bare_app()",
                {"BENCH_BARE_DATABASE_URL": bare_url},
                args.workers,
                "/page",
            ) as bare,
        ):
            sizes = {"Tipline form": fetch(real, f"/T/{code}"), "bare page": fetch(bare, "/page")}
            plan: dict[str, tuple[int, Callable[[], tuple[str, str, bytes | None]]]] = {
                "tipline GET /T/<code>": (real, lambda: ("GET", f"/T/{code}", None)),
                "bare GET page": (bare, lambda: ("GET", "/page", None)),
                "tipline POST tip": (real, tip),
                "bare POST insert": (bare, note),
            }
            results = {name: Result(0.0) for name in plan}
            # Alternating short slices spreads any other load on the machine over both apps.
            for _round in range(args.rounds):
                for name, (port, request_for) in plan.items():
                    results[name].add(load(port, request_for, slice_, args.concurrency))
        tips_stored = count_rows(env["TIPLINE_DATABASE_URL"], Tip)
        notes_stored = count_rows(bare_url, Note)
        sealing = check_sealing(env["TIPLINE_DATABASE_URL"], Path(env["TIPLINE_INSTANCE_PATH"]))
        if args.redis:
            forget_keys(args.redis, env["TIPLINE_REDIS_PREFIX"])

    print(
        f"\n{args.workers} gunicorn sync workers each, {args.concurrency} client threads, "
        f"{args.seconds:g} s per measurement in {args.rounds} alternating slices, "
        + (
            "PostgreSQL (both apps in one database)"
            if args.database_url
            else "SQLite WAL + synchronous=FULL"
        )
        + f", {os.cpu_count()} CPUs, "
        + (f"tip limits counted in Redis ({args.redis})" if args.redis else "tip limits off")
    )
    print("page sizes: " + ", ".join(f"{k} {v} bytes" for k, v in sizes.items()) + "\n")
    print(f"{'':26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    for name, r in results.items():
        print(f"{name:26}{r.rate:9.0f}{r.quantile(0.5):9.1f}{r.quantile(0.99):9.1f}{r.failures:9d}")
    if not all(r.rate for r in results.values()):
        raise SystemExit("a measurement got no 2xx answer at all: see the non-2xx column")
    get_ratio = results["tipline GET /T/<code>"].rate / results["bare GET page"].rate
    post_ratio = results["tipline POST tip"].rate / results["bare POST insert"].rate
    posted = len(results["tipline POST tip"].latencies)
    noted = len(results["bare POST insert"].latencies)
    print(
        f"\nform GET: {get_ratio:.0%} of bare; tip POST: {post_ratio:.0%} of bare (target >= 50%)"
    )
    print(f"tips stored vs 2xx responses: {tips_stored} / {posted}")
    print(f"bare rows stored vs 2xx responses: {notes_stored} / {noted}")
    print(sealing)
    met = get_ratio >= 0.5 and post_ratio >= 0.5 and tips_stored == posted and sealing.ok
    print("target met" if met else "TARGET NOT MET")


if __name__ == "__main__":
    main()
