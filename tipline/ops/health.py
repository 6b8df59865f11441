"""`/healthz` (the process answers) and `/readyz` (it can serve: database reachable, schema at
the code's migration head, Redis reachable when configured), for load balancers.

Both answer in milliseconds with one word and nothing else: a load balancer needs a status, and
a public URL that explained what failed would tell an attacker what is down. They need no
session, no form token and no limiter, so they are never throttled; the request log names only
their route, like every other.

A probe that hangs (a database behind a dead network path) must not hang the answer: each check
runs in a thread of its own, and an answer not ready within `PROBE_SECONDS` is "unavailable".
One probe at a time: while one is still stuck, the next answers "unavailable" at once instead
of piling up threads.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tipline.config import get_settings
from tipline.limiter import get_limiter
from tipline.sealing.guard import KeyCheck, Run, key_ids_in_use, table_names
from tipline.sealing.keyring import get_keyring

bp = Blueprint("ops", __name__)

# A load balancer typically waits 2-5 s for an answer; one second of probing leaves it room.
PROBE_SECONDS = 0.8
EXTENSION = "tipline.readiness"


class NotReady(RuntimeError):
    """Why the app cannot serve now (kept for the log; never sent to the client)."""


@dataclass
class Readiness:
    """The readiness probe of one app: its database, its schema, its Redis."""

    database_url: str
    head: str
    redis: Any = None  # the app's Limiter when Redis is configured
    app: Any = None  # the app whose keyring must hold every key the database uses
    _keys_in_use: KeyCheck = field(default_factory=KeyCheck)
    _engine: Engine | None = None
    _busy: threading.Lock = field(default_factory=threading.Lock)

    def check(self) -> None:
        """Raise NotReady naming what failed (within PROBE_SECONDS); return when ready."""
        if not self._busy.acquire(blocking=False):
            raise NotReady("a previous probe is still waiting")
        outcome: list[BaseException | None] = []

        def probe() -> None:
            try:
                self._probe()
                outcome.append(None)
            except BaseException as exc:  # reported to the caller, whatever it was
                outcome.append(exc)
            finally:
                self._busy.release()

        worker = threading.Thread(target=probe, name="tipline-readyz", daemon=True)
        worker.start()
        worker.join(PROBE_SECONDS)
        if not outcome:
            raise NotReady(f"no answer within {PROBE_SECONDS} s")
        if outcome[0] is not None:
            raise NotReady(str(outcome[0])) from outcome[0]

    def _probe(self) -> None:
        revision = self._revision()
        if revision != self.head:
            raise NotReady(f"database at revision {revision}, code needs {self.head}")
        if self.redis is not None and not self.redis.ping():
            raise NotReady("Redis does not answer")

    def _revision(self) -> str | None:
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            # A fresh, read-only connection each time: a pooled one would keep reading a file
            # that was moved or deleted, and mode=ro never creates an empty one in its place.
            path = Path(str(url.database)).resolve()
            raw = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=PROBE_SECONDS)
            try:
                row = raw.execute("SELECT version_num FROM alembic_version").fetchone()
                self._keys(lambda q: raw.execute(q).fetchall(), "sqlite")
            finally:
                raw.close()
            return str(row[0]) if row else None
        with self._pool().connect() as conn:
            value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            self._keys(lambda q: conn.exec_driver_sql(q).all(), conn.dialect.name)
        return str(value) if value is not None else None

    def _keys(self, run: Run, dialect: str) -> None:
        """NotReady when the keyring file no longer reads, or lacks a key the database uses
        (the database's key ids are read again at most every few seconds)."""
        if self.app is None:
            return
        ring = get_keyring(self.app)
        if ring.reload_error:
            raise NotReady(f"the keyring does not read: {ring.reload_error}")
        used = self._keys_in_use.get(lambda: key_ids_in_use(run, table_names(run, dialect)))
        missing = used - set(ring.keys)
        if missing:
            raise NotReady(
                f"the keyring lacks key(s) the database uses: {', '.join(sorted(missing))}"
            )

    def _pool(self) -> Engine:
        # A connection of its own, checked before each use: the app's pool may be exhausted
        # by requests, and a probe must not wait behind them.
        if self._engine is None:
            url = self.database_url
            for plain in ("postgresql://", "postgres://"):
                if url.startswith(plain):
                    url = "postgresql+psycopg://" + url[len(plain) :]
            connect_args = {"connect_timeout": 2} if url.startswith("postgresql") else {}
            self._engine = create_engine(
                url,
                pool_size=1,
                max_overflow=0,
                pool_timeout=PROBE_SECONDS,
                pool_pre_ping=True,
                connect_args=connect_args,
            )
        return self._engine

    def dispose(self) -> None:
        """Close the probe's own connection."""
        if self._engine is not None:
            self._engine.dispose()


def readiness(app: Flask) -> Readiness:
    """The app's readiness probe, made on first use (reading the migration head once)."""
    probe: Readiness | None = app.extensions.get(EXTENSION)
    if probe is None:
        from alembic.script import ScriptDirectory

        from tipline.migrate import alembic_config

        head = ScriptDirectory.from_config(alembic_config(app)).get_current_head()
        settings = get_settings(app)
        limiter = get_limiter(app)
        probe = Readiness(
            database_url=str(settings.database_url),
            head=str(head),
            redis=limiter if limiter.shared else None,
            # The app itself, never the proxy: the probe runs in a thread of its own.
            app=getattr(app, "_get_current_object", lambda: app)(),
        )
        app.extensions[EXTENSION] = probe
    return probe


def _plain(word: str, status: int) -> Response:
    response = Response(word + "\n", status=status, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/healthz")
def healthz() -> Response:
    """The process is up and answering."""
    return _plain("ok", 200)


@bp.route("/readyz")
def readyz() -> Response:
    """Ready to serve: 200 "ready", else 503 "unavailable" (the reason goes to the log)."""
    try:
        readiness(current_app).check()
    except NotReady as exc:
        current_app.logger.warning("not ready: %s", exc)
        return _plain("unavailable", 503)
    return _plain("ready", 200)


def init_app(app: Flask) -> None:
    """Register the endpoints."""
    app.register_blueprint(bp)
