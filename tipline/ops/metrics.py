"""Prometheus metrics for the people on call: counts and ages only, never content, and no place
finer than a jurisdiction (a station's tip count could single out a traveler).

Most figures are read from the database at scrape time (tips by priority, open queues, the
oldest unacknowledged urgent tip per jurisdiction, alerts by state, sign-in failures, scans), so
they are the same whichever worker answers and survive restarts. What only a process sees (the
limiter's refusals, requests by status) is counted in prometheus-client's counters; under
gunicorn set PROMETHEUS_MULTIPROC_DIR (deploy/gunicorn.conf.py marks dead workers) and every
worker's counts are summed.

Served only to a bearer of METRICS_TOKEN at /metrics (anyone else gets the site's ordinary 404,
so the public cannot even tell it exists), or without a token on a loopback port of its own
(METRICS_PORT), bound by one serving process at a time.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from flask import Flask, Response, abort, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    generate_latest,
    make_wsgi_app,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tipline import background
from tipline.config import get_settings
from tipline.db import session_scope, utcnow

log = logging.getLogger(__name__)

REFUSALS = Counter(
    "tipline_limiter_refusals",
    "Requests refused by the limiter (429), by route",
    ["route"],
)
REQUESTS = Counter(
    "tipline_http_responses",
    "Responses by status class (2xx, 3xx, 4xx, 5xx)",
    ["status"],
)
PORT_SERVER = "tipline.metrics.port_server"


class DatabaseCollector(Collector):
    """Figures read from the database at each scrape."""

    def __init__(self, app: Flask, now: Callable[[], datetime]) -> None:
        self.app = app
        self.now = now

    def collect(self) -> Iterable[Metric]:
        """One read transaction; every figure a count or an age."""
        with self.app.app_context(), session_scope(self.app) as session:
            yield from _tip_metrics(session, self.now())
            yield from _alert_metrics(session)
            yield from _other_metrics(session)


def _tip_metrics(session: Session, now: datetime) -> Iterable[Metric]:
    from tipline.intake.models import Priority, Tip, TipJurisdiction, TipStatus
    from tipline.triage.models import QueueEntry

    names = {p.value: p.name.lower() for p in Priority}
    stored = GaugeMetricFamily(
        "tipline_tips_stored", "Tips in the database, by priority", labels=["priority"]
    )
    hour = GaugeMetricFamily(
        "tipline_tips_received_last_hour",
        "Tips received in the last hour, by priority",
        labels=["priority"],
    )
    totals = {
        int(p): int(n)
        for p, n in session.execute(select(Tip.priority, func.count()).group_by(Tip.priority))
    }
    recent = {
        int(p): int(n)
        for p, n in session.execute(
            select(Tip.priority, func.count())
            .where(Tip.received_at >= now - timedelta(hours=1))
            .group_by(Tip.priority)
        )
    }
    for value, name in names.items():
        stored.add_metric([name], totals.get(value, 0))
        hour.add_metric([name], recent.get(value, 0))
    yield stored
    yield hour

    queue = GaugeMetricFamily(
        "tipline_queue_open_tips",
        "Open tips in each jurisdiction's queue, by priority",
        labels=["jurisdiction", "priority"],
    )
    for code, priority, count in session.execute(
        select(QueueEntry.code, QueueEntry.priority, func.count())
        .where(QueueEntry.is_closed.is_(False))
        .group_by(QueueEntry.code, QueueEntry.priority)
    ):
        queue.add_metric([code, names.get(priority, str(priority))], count)
    yield queue

    oldest = GaugeMetricFamily(
        "tipline_urgent_unacknowledged_oldest_seconds",
        "Age of the oldest urgent tip nobody has acknowledged, per jurisdiction (0: none)",
        labels=["jurisdiction"],
    )
    waiting = session.execute(
        select(TipJurisdiction.code, func.min(Tip.received_at))
        .join(Tip, Tip.id == TipJurisdiction.tip_id)
        .where(
            Tip.priority == Priority.URGENT,
            Tip.status == TipStatus.NEW,
            Tip.acknowledged_at.is_(None),
        )
        .group_by(TipJurisdiction.code)
    ).all()
    ages = {code: _age(now, at) for code, at in waiting}
    # Every jurisdiction with open tips gets a value, so "no urgent tip waiting" reads 0, not
    # "no data" (which an alert rule cannot tell from a broken scrape).
    for (code,) in session.execute(select(QueueEntry.code).distinct()):
        ages.setdefault(code, 0.0)
    for code, age in sorted(ages.items()):
        oldest.add_metric([code], age)
    yield oldest


def _age(now: datetime, at: Any) -> float:
    if at is None:
        return 0.0
    if isinstance(at, str):  # SQLite's min() hands back the stored text
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:
        from datetime import UTC

        at = at.replace(tzinfo=UTC)
    return max(0.0, (now - at).total_seconds())


def _alert_metrics(session: Session) -> Iterable[Metric]:
    from tipline.triage.models import Alert, AlertStatus

    alerts = GaugeMetricFamily("tipline_alerts", "Urgent-tip alerts by state", labels=["state"])
    counts = {
        str(state): int(n)
        for state, n in session.execute(select(Alert.status, func.count()).group_by(Alert.status))
    }
    for state in AlertStatus:
        alerts.add_metric([state.value], counts.get(state.value, 0))
    yield alerts


def _other_metrics(session: Session) -> Iterable[Metric]:
    from tipline.accounts.models import AuditEvent
    from tipline.locations.models import ScanCount

    # The audit log is append-only, so its count of failures is a true counter.
    failures = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "signin.failure")
    )
    yield CounterMetricFamily(
        "tipline_signin_failures", "Failed staff sign-ins (audited)", value=failures or 0
    )
    scans = session.scalar(select(func.coalesce(func.sum(ScanCount.count), 0)))
    yield CounterMetricFamily(
        "tipline_scans", "Poster scans written so far (form opens)", value=scans or 0
    )


def registry(app: Flask) -> CollectorRegistry:
    """A registry for one scrape: the database's figures and every process's counters."""
    reg = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(reg)
    else:
        reg.register(REFUSALS)
        reg.register(REQUESTS)
    reg.register(DatabaseCollector(app, _clock(app)))
    return reg


def _clock(app: Flask) -> Callable[[], datetime]:
    custom: Callable[[], datetime] | None = app.config.get("CLOCK")
    return custom if custom is not None else utcnow


def metrics_view() -> Response:
    """The metrics, to the bearer of METRICS_TOKEN; everyone else gets the site's 404."""
    token = get_settings().metrics_token
    given = request.headers.get("Authorization", "")
    if not token or not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        abort(404)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    body = generate_latest(registry(app))
    response = Response(body, mimetype=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def count_response(response: Response) -> Response:
    """Count the response's status class, and a limiter refusal by its route."""
    REQUESTS.labels(f"{response.status_code // 100}xx").inc()
    if response.status_code == 429:
        rule = request.url_rule.rule if request.url_rule is not None else "(no route)"
        REFUSALS.labels(rule).inc()
    return response


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Nothing: the scraper is on this machine and its address is no one's business."""


def serve_port(app: Flask) -> None:
    """Bind the metrics port on loopback if no process does yet (a background job: when the
    worker holding it dies, another takes it over within a pass)."""
    port = get_settings(app).metrics_port
    if not port or app.extensions.get(PORT_SERVER) is not None:
        return
    try:
        server = make_server(
            "127.0.0.1",
            port,
            make_wsgi_app(registry(app)),
            server_class=WSGIServer,
            handler_class=_Quiet,
        )
    except OSError:
        return  # another process of this deployment serves it
    app.extensions[PORT_SERVER] = server
    threading.Thread(target=server.serve_forever, name="tipline-metrics", daemon=True).start()
    log.info("metrics served on 127.0.0.1:%s", port)


def stop_port(app: Flask) -> None:
    """Close the metrics port this process holds."""
    server: WSGIServer | None = app.extensions.pop(PORT_SERVER, None)
    if server is not None:
        server.shutdown()
        server.server_close()


def init_app(app: Flask) -> None:
    """The /metrics route, the response counters and the metrics port job."""
    app.add_url_rule("/metrics", "ops.metrics", metrics_view)
    app.after_request(count_response)
    if get_settings(app).metrics_port:
        background.add_job(app, background.Job("metrics port", serve_port, every=5.0))
