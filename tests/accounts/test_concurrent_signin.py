"""Sign-in under concurrency, against real servers: one TOTP code raced by eight sessions signs in
exactly one (threaded server, SQLite and PostgreSQL), and the per-client throttle holds at its
setting across four gunicorn workers sharing Redis."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pyotp
import pytest
import redis
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import loadgen
from tests.factories import STAFF_PASSWORD, staff_user
from tipline.accounts.models import AuditEvent
from tipline.accounts.totp import STEP_SECONDS
from tipline.config import get_settings

ROOT = Path(__file__).resolve().parents[2]
RACERS = 8
ROUNDS = 3


def test_one_code_sent_by_eight_sessions_at_once_signs_in_exactly_one(
    session: Session, serve: Callable[..., str]
) -> None:
    # Failures must not lock the account in between: this is about the code, not lockout.
    base = serve(SIGNIN_MAX_FAILURES=1000, SIGNIN_CLIENT_MAX_FAILURES=1000)
    user, secret = staff_user(session)
    step: int | None = None
    signed_in: list[int] = []
    for _ in range(ROUNDS):
        step = loadgen.next_totp_step(step)
        code = pyotp.TOTP(secret).at(step * STEP_SECONDS)
        answers = loadgen.race_one_code(base, user.email, STAFF_PASSWORD, code, RACERS)
        assert all(a in (200, 302) for a in answers), answers  # never a 5xx
        signed_in.append(answers.count(302))
    assert signed_in == [1] * ROUNDS, signed_in
    session.expire_all()
    successes = session.scalars(select(AuditEvent).where(AuditEvent.action == "signin.success"))
    assert len(successes.all()) == ROUNDS


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def gunicorn(
    app: Flask, _migrated: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> Iterator[str]:
    """Tipline under `gunicorn -w 4` on loopback, sharing Redis; its base URL. Stopped after."""
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")},
        "TIPLINE_DATABASE_URL": _migrated,
        "TIPLINE_REDIS_URL": redis_url,
        "TIPLINE_REDIS_PREFIX": redis_prefix,
        "TIPLINE_SECRET_KEY": str(get_settings(app).secret_key),
        "TIPLINE_PUBLIC_URL": "http://127.0.0.1",
        "TIPLINE_INSTANCE_PATH": str(tmp_path / "gunicorn"),
        "TIPLINE_ALERTS_INLINE": "false",
    }
    command = [
        sys.executable, "-m", "gunicorn", "-w", "4", "-b", f"127.0.0.1:{port}",
        "--chdir", str(ROOT), "--graceful-timeout", "5", "tipline:create_app()",
    ]  # fmt: skip
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(base + "/staff/signin", timeout=15):
                    break
            except OSError as exc:  # refused, reset or timed out while the workers boot
                if server.poll() is not None or time.monotonic() > deadline:
                    problem = server.stderr.read() if server.poll() is not None else b""  # type: ignore[union-attr]
                    raise RuntimeError(f"gunicorn did not start: {problem!r}") from exc
                time.sleep(0.3)
        yield base
    finally:
        # Our own server only: its process group, by the id we started.
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        conn = redis.Redis.from_url(redis_url)
        for key in conn.scan_iter(f"*{redis_prefix}*"):
            conn.delete(key)


def test_the_per_client_throttle_holds_at_its_setting_across_four_workers(
    session: Session, gunicorn: str
) -> None:
    # The default: 20 failed sign-ins per client per 10 minutes. 150 attempts from one address,
    # 8 at a time, each for a different email (so no email locks): exactly 20 are judged.
    attempts, parallel, limit = 150, 8, 20
    statuses = loadgen.spray(gunicorn, attempts=attempts, parallel=parallel)
    assert len(statuses) == attempts
    session.expire_all()
    judged = session.scalars(select(AuditEvent).where(AuditEvent.action == "signin.failure"))
    assert len(judged.all()) == limit
    # Every other attempt got "Too many attempts" (429); so did the judged failures that found
    # the budget spent when they finished (the 20th at least), so a person learns at once.
    assert set(statuses) <= {200, 429}
    assert 1 <= statuses.count(200) <= limit - 1
