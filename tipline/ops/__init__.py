"""Operating Tipline: health and readiness for load balancers, backups that restore, metrics for
the people on call, and structured logs, all without personal data."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the health endpoints, the metrics, the log format and staff single sign-on."""
    from tipline.accounts import sso
    from tipline.ops import health, logs, metrics

    logs.init_app(app)
    health.init_app(app)
    metrics.init_app(app)
    sso.init_app(app)
