"""Timers beside the requests: started only when asked (or by a server), a pass after another,
a last pass at shutdown, and a job that fails keeps its timer."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from tests.conftest import make_test_app
from tipline import background
from tipline.cli import main
from tipline.db import Database


def tipline_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("tipline-"))


def test_jobs_run_on_their_timer_and_once_more_at_stop(app: Flask) -> None:
    runs: list[str] = []
    ticks = background.Job("tick", lambda _app: runs.append("tick"), every=0.05)
    final = background.Job("final", lambda _app: runs.append("final"), every=0, at_exit=True)
    assert background.start(app, only=[ticks, final])
    assert not background.start(app, only=[ticks])  # once per process
    assert background.running(app)
    time.sleep(0.3)
    assert "tipline-tick" in tipline_threads() and "tipline-final" not in tipline_threads()
    background.stop(app)
    background.stop(app)  # twice is harmless
    assert runs.count("tick") >= 3 and runs[-1] == "final" and runs.count("final") == 1
    assert tipline_threads() == [] and not background.running(app)


def test_a_failing_job_keeps_its_timer(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def flaky(_app: Flask) -> None:
        calls.append(1)
        raise RuntimeError("database went away")

    background.start(app, only=[background.Job("flaky", flaky, every=0.05)])
    time.sleep(0.3)
    background.stop(app)
    assert len(calls) >= 3
    assert "background job 'flaky' failed" in caplog.text


def test_a_stop_waits_for_a_pass_under_way(app: Flask) -> None:
    finished: list[bool] = []

    def slow(_app: Flask) -> None:
        time.sleep(0.5)
        finished.append(True)

    background.start(app, only=[background.Job("slow", slow, every=10)])
    time.sleep(0.1)
    background.stop(app)
    assert finished == [True]


def test_no_command_and_no_migration_starts_a_thread(
    runner: FlaskCliRunner, _migrated: str, tmp_path: Path
) -> None:
    before = tipline_threads()
    app = make_test_app(_migrated, tmp_path, ALERTS_INLINE=True)
    try:
        for args in (["db", "upgrade"], ["oncall", "list"], ["alerts", "run", "--once"]):
            result = app.test_cli_runner().invoke(main, args)
            assert result.exit_code == 0, (args, result.output)
        app.test_client().get("/")
        assert sorted(job.name for job in background.jobs(app)) == ["alerts", "scan counts"]
        assert tipline_threads() == before and not background.running(app)
    finally:
        Database.engine(app).dispose()
