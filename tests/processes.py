"""Running Tipline as its own process in a test: the `tipline` command and gunicorn, on
loopback, with the test database and settings given as environment variables."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import PUBLIC_URL

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TIPLINE = str(BIN / "tipline")
GUNICORN = str(BIN / "gunicorn")


def environment(database_url: str, instance: Path, **settings: object) -> dict[str, str]:
    """The process environment: this one without any TIPLINE_ variable, then the test's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")}
    env.update(
        TIPLINE_DATABASE_URL=database_url,
        TIPLINE_INSTANCE_PATH=str(instance),
        TIPLINE_SECRET_KEY="test-secret-key-not-for-production",
        TIPLINE_PUBLIC_URL=PUBLIC_URL,
        # The run's one keyring (conftest.TEST_KEYRING): the tests read what servers sealed.
        TIPLINE_DATA_KEY=os.environ["TIPLINE_DATA_KEY"],
        PYTHONUNBUFFERED="1",
        # The checkout under test, not a copy an earlier `pip install .` left in the venv.
        PYTHONPATH=str(ROOT),
    )
    env.update({f"TIPLINE_{k}": str(v) for k, v in settings.items()})
    return env


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, *, timeout: float, process: subprocess.Popen[str]) -> None:
    """Until something accepts connections on `port` (a TCP connect, not an HTTP request)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


@contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[str]]:
    """A server process writing stdout and stderr to `log`; SIGTERM at the end, then killed if
    it has not exited within 20 s."""
    with log.open("w") as out:
        process = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        try:
            yield process
        except BaseException:
            stop(process)
            # What the server said is the first thing to read when a test of it fails.
            sys.stderr.write(f"--- {' '.join(args[:3])} log ---\n{log.read_text()[-4000:]}\n")
            raise
        finally:
            stop(process)


def stop(process: subprocess.Popen[str], *, timeout: float = 20) -> int:
    """SIGTERM, wait up to `timeout`, then SIGKILL the whole process group; the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    return process.returncode
