"""Work a serving process does on a timer, beside its requests: alert dispatch, scan-count flushes.

Capabilities register `Job`s when the app is built; the jobs run only in a process that serves
requests, started with it rather than by its first request: each gunicorn worker (found when the
app is created inside one, or, with --preload, right after each fork), and `tipline run` /
`tipline demo`. CLI commands, migrations and tests never get a thread unless they call `start`.
At shutdown (SIGTERM included) `stop` ends the threads and runs each job's last pass.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask

log = logging.getLogger(__name__)

JOBS = "tipline.background.jobs"
RUNNER = "tipline.background.runner"


@dataclass(frozen=True)
class Job:
    """Something a serving process runs every `every` seconds (never when 0), and once more at
    shutdown when `at_exit`."""

    name: str
    run: Callable[[Flask], object]
    every: float
    at_exit: bool = False


def add_job(app: Flask, job: Job) -> None:
    """Register `job` for `app`'s serving processes (call while building the app)."""
    app.extensions.setdefault(JOBS, []).append(job)


def jobs(app: Flask) -> list[Job]:
    """The jobs registered for `app`."""
    return list(app.extensions.get(JOBS, []))


@dataclass
class _Runner:
    """This process's threads for one app."""

    pid: int
    jobs: list[Job]
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    stopped: bool = False


_lock = threading.Lock()


def running(app: Flask) -> bool:
    """True when this process runs `app`'s jobs."""
    runner: _Runner | None = app.extensions.get(RUNNER)
    return runner is not None and runner.pid == os.getpid() and not runner.stopped


def start(app: Flask, *, only: list[Job] | None = None) -> bool:
    """Run `app`'s jobs (or `only` these) in this process, once; True if they started now."""
    with _lock:
        if running(app):
            return False
        runner = _Runner(pid=os.getpid(), jobs=jobs(app) if only is None else list(only))
        app.extensions[RUNNER] = runner
    for job in runner.jobs:
        if job.every <= 0:
            continue
        thread = threading.Thread(
            target=_repeat,
            args=(app, job, runner.stop),
            name=f"tipline-{job.name.replace(' ', '-')}",
            daemon=True,
        )
        runner.threads.append(thread)
        thread.start()
    # A last pass at interpreter exit: gunicorn's workers leave through sys.exit on SIGTERM.
    atexit.register(_stop_at_exit, weakref.ref(app))
    return True


def stop(app: Flask, *, timeout: float = 15.0) -> None:
    """End `app`'s job threads in this process (waiting up to `timeout` for a pass under way,
    such as an email being sent), then run each `at_exit` job once."""
    with _lock:
        runner: _Runner | None = app.extensions.get(RUNNER)
        if runner is None or runner.pid != os.getpid() or runner.stopped:
            return
        runner.stopped = True
    runner.stop.set()
    for thread in runner.threads:
        thread.join(timeout)
    for job in runner.jobs:
        if job.at_exit:
            _run(app, job)


def _repeat(app: Flask, job: Job, stop: threading.Event) -> None:
    while not stop.is_set():
        _run(app, job)
        stop.wait(job.every)


def _run(app: Flask, job: Job) -> None:
    try:
        job.run(app)
    except Exception:
        # A job must outlive a database hiccup; jobs keep tip content out of their exceptions.
        log.exception("background job %r failed", job.name)


def _stop_at_exit(ref: weakref.ref[Flask]) -> None:
    app = ref()
    if app is not None:
        stop(app)


def start_with_server(app: Flask) -> None:
    """Start the jobs if `app` was just created inside a gunicorn worker; under --preload
    (created in gunicorn's master, which must not run them), start them in each forked child."""
    if not os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/"):
        return
    if _in_gunicorn_worker():
        start(app)
        return
    ref = weakref.ref(app)

    def _in_child() -> None:
        child = ref()
        if child is None:
            return
        from tipline.db import Database

        # Connections opened in the master are not this process's to use.
        Database.engine(child).dispose(close=False)
        start(child)

    os.register_at_fork(after_in_child=_in_child)


def _in_gunicorn_worker() -> bool:
    """True inside a gunicorn worker process: its SIGTERM handler is a worker's method (the
    master's belongs to the arbiter, and is not installed yet while it preloads the app)."""
    try:
        from gunicorn.workers.base import Worker
    except ImportError:
        return False
    handler = signal.getsignal(signal.SIGTERM)
    return isinstance(getattr(handler, "__self__", None), Worker)
