"""Settings: safe defaults, then TIPLINE_* environment variables, then an explicit mapping."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

DEFAULTS: dict[str, Any] = {
    # The base URL printed in QR codes; upper-cased when encoded so QR alphanumeric mode applies.
    "PUBLIC_URL": "http://127.0.0.1:5000",
    "DATABASE_URL": None,  # None: an SQLite file in the instance folder
    "OVERDUE_URGENT_MINUTES": 10,
    "OVERDUE_OTHER_HOURS": 24,
    "RETENTION_DAYS": 90,
    "SESSION_IDLE_MINUTES": 30,
    "REDIS_URL": None,
    "SMTP_HOST": None,
    "SMTP_PORT": 25,
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    "SMTP_FROM": "tipline@localhost",
    "SMTP_STARTTLS": False,
    "WEBHOOK_SECRET": None,  # HMAC-SHA256 key for alert webhooks; unsigned alerts never go out
    # Urgent-tip alerts: a dispatcher thread in each web process (off under tests), and/or the
    # `tipline alerts run` worker.
    "ALERTS_INLINE": None,  # None: on, except when TESTING
    "ALERT_POLL_SECONDS": 2,
    "ALERT_RETRY_SECONDS": 30,
    "ALERT_MAX_ATTEMPTS": 10,
    "ALERT_WINDOW_HOURS": 24,
    "QUEUE_REFRESH_SECONDS": 30,
    "SCAN_FLUSH_SECONDS": 10,
    # Tips accepted per client / per poster in a window ("count/seconds"; 0 turns a limit off).
    # Counters live in process memory only: a traveler's address is never stored.
    "TIP_LIMIT_PER_CLIENT": "10/600",
    "TIP_LIMIT_PER_PLACEMENT": "30/600",
    # How long a worker keeps a poster's lookup before reading it again from the database.
    "POSTER_CACHE_SECONDS": 30,
    "POSTERS_DIR": None,  # None: the poster layouts and wording shipped with Tipline
    "SIGNIN_MAX_FAILURES": 5,
    "SIGNIN_LOCK_MINUTES": 15,
    "SIGNIN_CLIENT_MAX_FAILURES": 20,
    "SIGNIN_CLIENT_WINDOW_MINUTES": 10,
    # Poster health: a poster that goes silent or spikes may be covered by a fake sticker.
    "SCAN_SILENT_DAYS": 2,
    "SCAN_BASELINE_DAYS": 14,
    "SCAN_SILENT_MIN_AVERAGE": 3.0,
    "SCAN_SPIKE_FACTOR": 5.0,
    "SCAN_SPIKE_MIN": 10,
}


def load_config(app: Flask, overrides: dict[str, Any] | None = None) -> None:
    """Fill app.config from defaults, the environment and `overrides`, in that order."""
    app.config.update(DEFAULTS)
    # from_prefixed_env parses JSON-looking values (numbers, booleans) and keeps strings as strings.
    app.config.from_prefixed_env(prefix="TIPLINE")
    if overrides:
        app.config.update(overrides)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = "sqlite:///" + str(Path(app.instance_path) / "tipline.db")
    app.config["PUBLIC_URL"] = str(app.config["PUBLIC_URL"]).rstrip("/")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path) / "secret_key")
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    # Flask predefines SAMESITE as None, so setdefault would leave staff cookies without it.
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = app.config["PUBLIC_URL"].startswith("https://")
    # Tokens expire with the form: a traveler on a slow connection gets 2 hours to type.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 7200)


def _instance_secret(path: Path) -> str:
    """Read the secret key from the instance folder, creating it once (never in the repository)."""
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    # O_EXCL: two workers starting together must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
