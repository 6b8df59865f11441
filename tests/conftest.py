"""Fixtures: a real, migrated database (SQLite, or PostgreSQL when TIPLINE_TEST_DATABASE_URL is
set), the app, its test client and CLI runner, and a session."""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from tests.databases import fresh_database
from tipline import create_app
from tipline.db import Base, Database
from tipline.migrate import upgrade
from tipline.sealing import Keyring

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# One keyring for every app of the run, and for the servers tests start (they inherit the
# environment): a tip stored by one app or a gunicorn worker opens in another.
TEST_KEYRING = Keyring.generate().to_json()
os.environ.setdefault("TIPLINE_DATA_KEY", TEST_KEYRING)
PUBLIC_URL = "https://tips.example.org"


def shared_feed(name: str) -> Path:
    """A real feed from ../shared/data, or skip the test saying why."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real GTFS feed {name} not found at {path} (../shared is absent)")
    return path


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database per test run: a fresh SQLite file, or a fresh PostgreSQL database."""
    base = os.environ.get("TIPLINE_TEST_DATABASE_URL")
    # A database of its own, so parallel runs on one server never see each other's rows.
    folder = tmp_path_factory.mktemp("db")
    yield from fresh_database(base, folder, "tipline_test", filename="tipline-test.db")


@pytest.fixture(scope="session")
def _migrated(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Run the Alembic migrations once: the tests use the schema production gets."""
    app = create_app(
        {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path_factory.mktemp("inst"))}
    )
    upgrade(app)
    Database.engine(app).dispose()
    return database_url


def make_test_app(database_url: str, instance: Path, **overrides: object) -> Flask:
    """An app on the test database with test settings."""
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "test-secret-key-not-for-production",
        "PUBLIC_URL": PUBLIC_URL,
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app(_migrated: str, tmp_path: Path) -> Iterator[Flask]:
    """The app on the migrated test database, emptied after each test."""
    app = make_test_app(_migrated, tmp_path / "instance")
    yield app
    wipe(app)
    Database.engine(app).dispose()


def wipe(app: Flask) -> None:
    """Delete every row after a test, and put the audit chain back at its start."""
    # Tests commit like real code, and browser tests need committed rows visible to a live
    # server, so isolation is by emptying the tables rather than by a rolled-back savepoint.
    engine = Database.engine(app)
    tables = [t.name for t in Base.metadata.sorted_tables]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # The audit tables refuse TRUNCATE; lift their triggers for the wipe only.
            for table in GUARDED:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            conn.execute(GENESIS)
            for table in GUARDED:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        else:
            # The audit log's append-only triggers refuse DELETE; lift them for the wipe only.
            triggers = conn.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            ).all()
            for name, _sql in triggers:
                conn.execute(text(f"DROP TRIGGER {name}"))
            for table in reversed(tables):
                conn.execute(text(f"DELETE FROM {table}"))
            conn.execute(GENESIS)
            for _name, sql in triggers:
                conn.execute(text(sql))


GUARDED = ("audit_event", "audit_chain")
GENESIS = text(
    "INSERT INTO audit_chain (id, last_id, last_hash, key_id, records) "
    f"VALUES (1, 0, '{'0' * 64}', NULL, 0)"
)


DEFAULT_TEST_REDIS = "redis://127.0.0.1:6379/15"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis (TIPLINE_TEST_REDIS_URL, else db 15 on loopback), or skip saying why."""
    url = os.environ.get("TIPLINE_TEST_REDIS_URL", DEFAULT_TEST_REDIS)
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at {url} ({exc}); start redis-server to run this test")
    return url


@pytest.fixture
def redis_prefix() -> str:
    """A Redis key prefix of this test's own, so parallel runs never share counters."""
    return f"tipline-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A CLI runner for the app's `tipline` commands."""
    return app.test_cli_runner()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session inside an app context; tests commit or flush as the code under test would."""
    from tipline.db import db

    with app.app_context():
        yield db.session


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form in a page."""
    match = CSRF_RE.search(html)
    assert match, "no csrf_token in page"
    return match.group(1)


class Clock:
    """A settable time source: the app reads the time from app.config["CLOCK"]."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move time forward."""
        self.now += timedelta(**delta)


CHROMIUM = Path("/usr/bin/chromium")
# Debian's chromium, headless as root, with nothing that phones home (the network is closed).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test app served over HTTP on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def serve(_migrated: str, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Serve an app with extra settings over plain HTTP on loopback (werkzeug, threaded): a real
    multi-threaded server for plain HTTP clients. Returns its base URL. Cookies go without
    Secure (an http PUBLIC_URL), as urllib's cookie jar needs."""
    running: list[tuple[Any, threading.Thread, Flask]] = []

    def start(**settings: object) -> str:
        served = make_test_app(
            _migrated,
            tmp_path / f"served-{len(running)}",
            **{"PUBLIC_URL": "http://127.0.0.1", **settings},
        )
        server = make_server("127.0.0.1", 0, served, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread, served))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread, served in running:
        server.shutdown()
        thread.join(10)
        Database.engine(served).dispose()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
