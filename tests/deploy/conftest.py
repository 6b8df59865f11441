"""Real servers on loopback: gunicorn with deploy/gunicorn.conf.py, on a database of the test's
own (a fresh SQLite file, or the run's private PostgreSQL database), and HTTP helpers."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import Flask

from tests.conftest import make_test_app, wipe
from tipline.db import Database
from tipline.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SECRET = "deploy-test-secret-key-not-for-production"
RECEIPT_RE = re.compile(r'class="code">([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})<')
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class ServerDatabase:
    """The database a real server uses, and an app on it for setting up and checking."""

    url: str
    app: Flask

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


@pytest.fixture
def server_db(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ServerDatabase]:
    """A fresh migrated SQLite file, or (with TIPLINE_TEST_DATABASE_URL) the run's PostgreSQL
    database, emptied afterwards."""
    if os.environ.get("TIPLINE_TEST_DATABASE_URL"):
        url = request.getfixturevalue("_migrated")
        app = make_test_app(url, tmp_path / "instance", SECRET_KEY=SECRET)
    else:
        url = "sqlite:///" + str(tmp_path / "server.db")
        app = make_test_app(url, tmp_path / "instance", SECRET_KEY=SECRET)
        upgrade(app)
    yield ServerDatabase(url, app)
    wipe(app)
    Database.engine(app).dispose()


@dataclass
class Server:
    """A running gunicorn: its port, process and combined log."""

    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def kill_all(self) -> None:
        """SIGKILL the arbiter and every worker at once (one process group)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def server_env(db: ServerDatabase, tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a production-like server on `db` (settings without TIPLINE_)."""
    env = {
        "TIPLINE_DATABASE_URL": db.url,
        "TIPLINE_SECRET_KEY": SECRET,
        "TIPLINE_PUBLIC_URL": "https://tips.example.org",
        "TIPLINE_INSTANCE_PATH": str(tmp_path / "server-instance"),
        "TIPLINE_ALERTS_INLINE": "false",
        # The run's one keyring (tests/conftest.py): the test reads what the workers sealed.
        "TIPLINE_DATA_KEY": os.environ["TIPLINE_DATA_KEY"],
    }
    env.update({f"TIPLINE_{name}": value for name, value in settings.items()})
    return env


@contextmanager
def gunicorn(
    env: dict[str, str], workers: int, log: Path, ready: str = "/help"
) -> Iterator[Server]:
    """gunicorn -c deploy/gunicorn.conf.py on a loopback port of its own, this checkout's code."""
    # Bound here and handed over, so no other process can take the port in between.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = int(listener.getsockname()[1])
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py"),
                "--bind", f"fd://{listener.fileno()}", "--workers", str(workers),
                "tipline:create_app()",
            ],
            env={**clean, **env, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            pass_fds=[listener.fileno()],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: killpg reaches every worker
        )  # fmt: skip
    listener.close()
    server = Server(port, proc, log)
    try:
        deadline = time.monotonic() + 60
        while request(port, "GET", ready, timeout=2)[0] != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not start:\n{server.output()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    source: str | None = None,
    timeout: float = 10,
    headers: dict[str, str] | None = None,
    connection: Callable[..., http.client.HTTPConnection] = http.client.HTTPConnection,
) -> tuple[int, str]:
    """One request on a fresh connection from `source` (a loopback address); (0, error) when
    the connection failed."""
    try:
        conn = connection(
            "127.0.0.1", port, timeout=timeout, source_address=(source, 0) if source else None
        )
        conn.request(method, path, body=body, headers={**(headers or {})})
        response = conn.getresponse()
        text = response.read().decode(errors="replace")
        conn.close()
    except (OSError, http.client.HTTPException) as exc:
        return 0, type(exc).__name__
    return response.status, text


def tip_body(token: str, **fields: str) -> bytes:
    """A form POST body."""
    return urlencode({"token": token, "details": "seen on the platform", **fields}).encode()


def receipt_in(html: str) -> str | None:
    """The receipt code on a thank-you page, or None."""
    match = RECEIPT_RE.search(html)
    return match.group(1) if match else None
