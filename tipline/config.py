"""Settings: one typed, validated object, read once from defaults, TIPLINE_* variables, overrides.

Every capability reads `get_settings()` (or takes a `Settings` argument); nobody repeats a
default at a call site. A value that does not parse is a `SettingsError` at start-up that names
the variable, never a crash hours later in the code that uses it (a numeric webhook secret once
became an int and stopped every alert).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import hmac
import os
import secrets
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from tipline.files import create_once

PREFIX = "TIPLINE_"
EXTENSION = "tipline.settings"
# TIPLINE_* variables that belong to the test suite and benchmarks, not to the app.
_NOT_SETTINGS = ("TIPLINE_TEST_", "TIPLINE_BENCH_")


class SettingsError(ValueError):
    """A setting that is unknown or does not parse; the message names the variable."""


@dataclass(frozen=True)
class Rate:
    """At most `count` events per `seconds`; a count of 0 switches the limit off."""

    count: int
    seconds: float

    @classmethod
    def parse(cls, value: object) -> Rate:
        """Read "10/600" (10 per 10 minutes); "0", "off" or "" switch it off."""
        if isinstance(value, Rate):
            return value
        text = str(value).strip()
        if text.lower() in ("0", "", "none", "off"):
            return cls(0, 0)
        count, _, seconds = text.partition("/")
        try:
            rate = cls(int(count), float(seconds))
        except ValueError:
            raise ValueError(f"a rate looks like 10/600 (count/seconds), not {value!r}") from None
        if rate.count < 0 or rate.seconds <= 0:
            raise ValueError(f"a rate looks like 10/600 (count/seconds), not {value!r}")
        return rate

    @property
    def off(self) -> bool:
        """True when the limit is switched off."""
        return self.count == 0

    def __str__(self) -> str:
        return "0" if self.off else f"{self.count}/{self.seconds:g}"


def setting(
    default: Any,
    doc: str,
    *,
    secret: bool = False,
    minimum: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A Settings field with its one-line meaning (the README table mirrors these)."""
    meta = {"doc": doc, "secret": secret, "minimum": minimum, "choices": choices}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    """Every setting Tipline reads. The environment variable is TIPLINE_ + the upper-case name."""

    env: str = setting(
        "development",
        "`production` refuses to start with a generated secret key or a non-https PUBLIC_URL",
        choices=("development", "production"),
    )
    instance_path: str | None = setting(
        None, "where the SQLite file and generated keys live (default: Flask's instance folder)"
    )
    # The base URL printed in QR codes; upper-cased when encoded so QR alphanumeric mode applies.
    public_url: str = setting(
        "http://127.0.0.1:5000", "base URL printed in QR codes and shown to travelers"
    )
    database_url: str | None = setting(
        None, "`postgresql://…` in production; default an SQLite file in the instance folder"
    )
    secret_key: str | None = setting(
        None,
        "signs sessions and form tokens; default generated once into the instance folder",
        secret=True,
    )
    sqlite_busy_seconds: float = setting(
        30.0, "how long a SQLite write waits for another one to finish", minimum=0.1
    )
    audit_key: str | None = setting(
        None,
        "HMAC key sealing the audit log's hash chain; default derived from SECRET_KEY",
        secret=True,
    )
    data_key: str | None = setting(
        None,
        "the keyring (JSON) sealing tip text and photos; default generated once into the "
        "instance folder as `data_keys`",
        secret=True,
    )
    new_keyring: bool = setting(
        False,
        "start with a newly generated keyring although `data_keys` is missing and the database "
        "holds tips (their text and receipts are lost for good); set once, then remove",
    )
    redis_url: str | None = setting(
        None, "shared limiter storage across workers and machines (`redis://host:6379/0`)"
    )
    redis_prefix: str = setting(
        "tipline", "prefix of every Redis key, so deployments can share one Redis"
    )
    # Tips accepted per client / per poster in a window ("count/seconds"; 0 turns a limit off).
    tip_limit_per_client: Rate = setting(Rate(10, 600), "tips per client per window")
    # A poster over its threshold still takes tips from other clients, flagged as a burst.
    api_rate: Rate = setting(Rate(120, 60), "partner API requests per token per window")
    tip_limit_per_placement: Rate = setting(
        Rate(30, 600), "tips per poster per window before further tips are flagged as a burst"
    )
    # How many reverse proxies in front of the app may be trusted to set X-Forwarded-For and
    # -Proto; with 0 those headers are ignored, as a client could forge them.
    proxy_hops: int = setting(
        0, "trusted reverse proxies in front of the app (ProxyFix)", minimum=0
    )
    # The form and follow-up POSTs take MAX_UPLOAD_BYTES (photos); every other request keeps
    # this small bound.
    max_request_bytes: int = setting(
        1_000_000, "largest request body accepted; larger gets a calm 413 page", minimum=16_384
    )
    max_upload_bytes: int = setting(
        32_000_000,
        "largest body of the form and follow-up POSTs (3 photos of 10 MB); others keep "
        "MAX_REQUEST_BYTES",
        minimum=16_384,
    )
    followup_limit_per_client: Rate = setting(
        Rate(10, 600), "receipt codes a client may get wrong per window on /followup"
    )
    followup_limit_overall: Rate = setting(
        Rate(300, 600), "wrong receipt codes from everyone per window before /followup pauses"
    )
    poster_cache_seconds: float = setting(
        30.0, "how long a worker caches a poster's lookup", minimum=0
    )
    scan_flush_seconds: float = setting(
        10.0, "how often buffered scan counts are written", minimum=0
    )
    session_idle_minutes: float = setting(30.0, "staff idle timeout", minimum=0.1)
    signin_max_failures: int = setting(
        5, "failed sign-ins (password or code) before an email locks", minimum=1
    )
    signin_lock_minutes: float = setting(15.0, "how long a locked email waits", minimum=0.01)
    signin_client_max_failures: int = setting(20, "failures per client per window", minimum=1)
    signin_client_window_minutes: float = setting(10.0, "the per-client window", minimum=0.01)
    overdue_urgent_minutes: float = setting(
        10.0, "an urgent tip is overdue unacknowledged after", minimum=0
    )
    overdue_other_hours: float = setting(24.0, "any other tip is overdue after", minimum=0)
    queue_refresh_seconds: int = setting(30, "the queue page's self-refresh", minimum=1)
    retention_days: int = setting(90, "`tipline purge` default", minimum=1)
    alerts_inline: bool | None = setting(
        None, "run the alert dispatcher inside each web process (default on, off under tests)"
    )
    alert_poll_seconds: float = setting(2.0, "alert dispatch poll", minimum=0.05)
    alert_retry_seconds: float = setting(30.0, "first retry; doubles up to 15 min", minimum=0)
    alert_max_attempts: int = setting(10, "attempts before an alert fails", minimum=1)
    alert_window_hours: float = setting(
        24.0, "urgent tips older than this are not announced", minimum=0
    )
    alert_escalation_steps: int = setting(
        3,
        "times an unacknowledged urgent tip is announced again, one per OVERDUE_URGENT_MINUTES",
        minimum=0,
    )
    smtp_host: str | None = setting(None, "SMTP server for email alerts")
    smtp_port: int = setting(25, "SMTP port", minimum=1)
    smtp_user: str | None = setting(None, "SMTP user")
    smtp_password: str | None = setting(None, "SMTP password", secret=True)
    smtp_from: str = setting("tipline@localhost", "sender of alert emails")
    smtp_starttls: bool = setting(False, "STARTTLS before signing in to SMTP")
    webhook_secret: str | None = setting(
        None, "HMAC-SHA256 key for webhook alerts (without it webhooks are not sent)", secret=True
    )
    posters_dir: str | None = setting(None, "a deployment's own poster wording and layouts")
    # Poster health: a poster that goes silent or spikes may be covered by a fake sticker.
    scan_silent_days: int = setting(2, "days without scans that flag a poster silent", minimum=1)
    scan_baseline_days: int = setting(14, "days of scans a poster is compared with", minimum=1)
    scan_silent_min_average: float = setting(
        3.0, "a poster must average this many scans a day to be flagged silent", minimum=0.001
    )
    scan_spike_factor: float = setting(
        5.0, "a day this many times the average spikes", minimum=0.001
    )
    scan_spike_min: int = setting(10, "and at least this many scans", minimum=1)
    # Locations: stations near a border, realtime delays.
    station_border_km: float = setting(
        1.5, "`stations check` lists stations closer than this to another region", minimum=0
    )
    realtime_inline: bool | None = setting(
        None, "poll realtime feeds inside each web process (default on, off under tests)"
    )
    realtime_poll_seconds: float = setting(
        30.0, "how often each realtime feed is polled", minimum=1
    )
    realtime_fresh_seconds: float = setting(
        300.0, "a realtime delay older than this is ignored (timetable instead)", minimum=1
    )
    realtime_timeout_seconds: float = setting(10.0, "a realtime fetch gives up after", minimum=0.1)
    realtime_max_bytes: int = setting(
        20_000_000, "a realtime response larger than this is refused", minimum=1
    )
    # Operations: metrics for the people on call, structured logs, staff single sign-on.
    metrics_token: str | None = setting(
        None, "bearer token that may read /metrics (without it /metrics is a 404)", secret=True
    )
    metrics_port: int | None = setting(
        None, "serve the metrics without a token on this loopback port", minimum=1
    )
    log_format: str = setting(
        "text",
        "`json`: one JSON object per log line, and one `request` event per request",
        choices=("text", "json"),
    )
    oidc_issuer: str | None = setting(
        None, "staff single sign-on: the OpenID Connect provider's issuer URL (https)"
    )
    oidc_client_id: str | None = setting(None, "Tipline's client id at the provider")
    oidc_client_secret: str | None = setting(
        None, "Tipline's client secret at the provider", secret=True
    )
    oidc_name: str = setting("single sign-on", "the provider's name on the sign-in link")
    # The follow-up's additions (F20): one receipt code must not pump photos into the database.
    followup_add_limit_per_tip: Rate = setting(
        Rate(10, 3600), "additions a report may take per window on /followup/add (shared limiter)"
    )
    followup_max_photos_per_tip: int = setting(
        12, "photos a report may hold in all (the form's and every addition's)", minimum=0
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            minimum, choices = f.metadata.get("minimum"), f.metadata.get("choices")
            if minimum is not None and value is not None and value < minimum:
                raise SettingsError(f"{env_name(f.name)} must be at least {minimum:g}, not {value}")
            if choices and value not in choices:
                raise SettingsError(
                    f"{env_name(f.name)} must be one of {', '.join(choices)}, not {value!r}"
                )

    @property
    def production(self) -> bool:
        """True in a production deployment (TIPLINE_ENV=production)."""
        return self.env == "production"

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` (names as attributes or TIPLINE_ names), parsed and validated."""
        return dataclasses.replace(self, **_parse_all(changes))

    def public(self) -> dict[str, str]:
        """Every setting as text for display, secrets masked."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            shown = "(set)" if f.metadata.get("secret") and value else str(value)
            out[env_name(f.name)] = "" if value is None else shown
        return out


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_TYPES = typing.get_type_hints(Settings)


def env_name(attribute: str) -> str:
    """TIPLINE_SMTP_HOST for smtp_host."""
    return PREFIX + attribute.upper()


def _attribute(name: str) -> str | None:
    """`smtp_host` for SMTP_HOST, TIPLINE_SMTP_HOST or smtp_host; None when not a setting."""
    key = name.removeprefix(PREFIX).lower()
    return key if key in _FIELDS else None


def _parse(attribute: str, raw: Any) -> Any:
    """One value, converted to the field's type; SettingsError naming the variable if it can't."""
    kind = _TYPES[attribute]
    optional = isinstance(kind, types.UnionType) and type(None) in typing.get_args(kind)
    if optional:
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    name = env_name(attribute)
    if raw is None or (optional and isinstance(raw, str) and not raw.strip()):
        if optional:
            return None
        raise SettingsError(f"{name} needs a value")
    try:
        if kind is str:
            # Strings stay strings, even "8675309": a secret is never parsed as a number.
            return str(raw).strip() if not isinstance(raw, str) else raw
        if kind is bool:
            return _boolean(raw)
        if kind is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            return int(str(raw).strip()) if isinstance(raw, str) else int(raw)
        if kind is float:
            if isinstance(raw, bool):
                raise ValueError
            return float(raw)
        if kind is Rate:
            return Rate.parse(raw)
    except ValueError as exc:
        hint = {int: "a whole number", float: "a number", bool: "true or false"}.get(kind)
        detail = f"must be {hint}" if hint else str(exc)
        raise SettingsError(f"{name} {detail}, not {raw!r}") from None
    raise TypeError(f"no parser for {kind!r}")  # a programming error: a new field type


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError


def _parse_all(values: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for name, raw in values.items():
        attribute = _attribute(name)
        if attribute is None:
            raise SettingsError(f"unknown setting {name}")
        out[attribute] = _parse(attribute, raw)
    return out


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The TIPLINE_* variables as parsed settings; an unknown one is an error with a suggestion."""
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(PREFIX) or name.startswith(_NOT_SETTINGS):
            continue
        attribute = _attribute(name)
        if attribute is None:
            known = [env_name(a) for a in _FIELDS]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SettingsError(f"unknown setting {name}{hint}")
        values[attribute] = _parse(attribute, raw)
    return values


def load_config(app: Flask, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build the app's Settings (defaults < environment < `overrides`) and Flask's own config.

    Keys of `overrides` that are not settings (TESTING, CLOCK, WTF_CSRF_ENABLED...) go to
    app.config as they are.
    """
    values = from_environment(os.environ)
    flask_only: dict[str, Any] = {}
    for name, raw in (overrides or {}).items():
        attribute = _attribute(name)
        if attribute is None:
            flask_only[name] = raw
        else:
            values[attribute] = _parse(attribute, raw)
    app.config.update(flask_only)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    instance = Path(app.instance_path)
    values["instance_path"] = str(instance)
    values["public_url"] = str(values.get("public_url", Settings.public_url)).rstrip("/")
    if not values.get("database_url"):
        values["database_url"] = "sqlite:///" + str(instance / "tipline.db")
    generated = not values.get("secret_key")
    if generated:
        values["secret_key"] = instance_secret(instance / "secret_key")
    if not values.get("audit_key"):
        # Every server of a deployment shares SECRET_KEY (production insists on it), so they
        # seal the audit chain alike; a deployment that may rotate SECRET_KEY pins AUDIT_KEY.
        values["audit_key"] = derived_key(values["secret_key"], "audit chain")
    settings = Settings(**values)
    if settings.production:
        _refuse_unsafe_production(settings, generated_secret=generated)
    app.extensions[EXTENSION] = settings
    # Flask and its extensions read these from app.config.
    app.config["SECRET_KEY"] = settings.secret_key
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    # Flask predefines SAMESITE as None, so setdefault would leave staff cookies without it.
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings.public_url.startswith("https://")
    # Werkzeug refuses a larger body with 413 before parsing it; a view that needs more (the
    # form's photos) sets request.max_content_length for itself.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    # Tokens expire with the form: a traveler on a slow connection gets 2 hours to type.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 7200)
    return settings


def _refuse_unsafe_production(settings: Settings, *, generated_secret: bool) -> None:
    # A generated key lives on one machine's disk: a second web server would sign with another
    # and sessions would break at random; an http URL would print insecure links on posters.
    if generated_secret:
        raise SettingsError(
            "TIPLINE_ENV=production needs TIPLINE_SECRET_KEY from the environment "
            "(a generated key would differ between servers)"
        )
    if not settings.public_url.startswith("https://"):
        raise SettingsError(
            f"TIPLINE_ENV=production needs an https TIPLINE_PUBLIC_URL, not {settings.public_url}"
        )


def get_settings(app: Flask | None = None) -> Settings:
    """The app's settings (the current app's when `app` is None)."""
    target = app if app is not None else current_app
    settings: Settings = target.extensions[EXTENSION]
    return settings


def update_settings(app: Flask, **changes: Any) -> Settings:
    """Replace some of a running app's settings (tests, the demo); returns the new object."""
    settings = get_settings(app).replace(**changes)
    app.extensions[EXTENSION] = settings
    return settings


def derived_key(secret: str, purpose: str) -> str:
    """A key for one purpose derived from `secret` (HMAC-SHA256), so purposes never share one."""
    return hmac.new(secret.encode(), f"tipline {purpose}".encode(), hashlib.sha256).hexdigest()


def instance_secret(path: Path) -> str:
    """Read the secret key from the instance folder, creating it once (never in the repository)."""
    # Workers starting together must not use two different keys, nor read a half-written one.
    key = create_once(path, secrets.token_hex(32)).strip()
    if not key:
        # Left so by a crash mid-write before create_once: signing with "" would be no secret.
        raise SettingsError(
            f"{path} is empty: put back the secret key from your backup (the audit chain is "
            "keyed by it), or delete the file to generate a new one and end every staff session"
        )
    return key


def key_files(settings: Settings) -> list[Path]:
    """Every key file Tipline generated in the instance folder (names end in _key or _keys).

    Backups use this to carry keys only when asked; a new kind of key joins by its file name.
    """
    folder = Path(settings.instance_path or ".")
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(("_key", "_keys")))
