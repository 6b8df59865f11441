"""Structured logs: with LOG_FORMAT=json every line Tipline writes is one JSON object (time,
level, event, logger, and inside a request its id, route, method, status and duration), and
each request ends with one `request` event. Plain text stays the default (`tipline demo`).

What a line may hold is the same as in text (PRODUCT.md §6): a route, never a path or query
(tokens and search text live there); never an address (any that slips into a message or a
traceback is replaced, as gunicorn's lines are); never a header (user agents, cookies); never a
form field (tip text, receipt codes); and database errors lose their bound parameters, which
would hold whatever a statement was writing.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from flask.logging import default_handler

from tipline.config import get_settings
from tipline.serving import redact

# Request events of the load balancer's probes are left out when they succeed: one every few
# seconds from every balancer would drown the rest.
QUIET_ROUTES = ("/healthz", "/readyz")
# SQLAlchemy puts a failed statement's values in its message: "[parameters: ('tip text', …)]".
_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s*(?:\(Background|\Z|\n))", re.S)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# werkzeug's own request line ('[06/Dec/2026 21:45:45] "GET /T/<code>" 200 -'): the request event
# says the same and more, so in JSON it is left out.
_WERKZEUG_REQUEST = re.compile(r'^\[[^\]]+\] "')
_EXTRA = ("request_id", "method", "route", "status", "duration_ms")
request_log = logging.getLogger("tipline.request")


def scrub(text: str) -> str:
    """`text` without addresses and without a database error's bound parameters."""
    return redact(_PARAMETERS.sub("[parameters hidden]", _ANSI.sub("", text)))


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": scrub(record.getMessage()),
            "logger": record.name,
        }
        for key in _EXTRA:
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if has_request_context() and "request_id" not in line:
            line["request_id"] = g.get("request_id")
            line["route"] = request.url_rule.rule if request.url_rule else "(no route)"
        if record.exc_info:
            line["error"] = scrub(self.formatException(record.exc_info))
        elif record.exc_text:
            line["error"] = scrub(record.exc_text)
        return json.dumps(line, ensure_ascii=False, default=str)


class _JsonHandler(logging.StreamHandler):
    """Tipline's JSON handler (one per logger, however many apps a process builds)."""


class _NoWerkzeugRequestLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _WERKZEUG_REQUEST.match(str(record.msg))


def _install(logger: logging.Logger) -> None:
    if any(isinstance(h, _JsonHandler) for h in logger.handlers):
        return
    logger.removeHandler(default_handler)
    handler = _JsonHandler(sys.stderr)
    if logger.name == "werkzeug":
        handler.addFilter(_NoWerkzeugRequestLines())
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


def _begin() -> None:
    g.request_id = secrets.token_hex(8)
    g.request_started = time.perf_counter()


def _end(response: Response) -> Response:
    started = g.get("request_started")
    route = request.url_rule.rule if request.url_rule else "(no route)"
    response.headers["X-Request-Id"] = g.get("request_id", "")
    if started is None or (route in QUIET_ROUTES and response.status_code < 400):
        return response
    request_log.info(
        "request",
        extra={
            "request_id": g.get("request_id"),
            "method": request.method,
            "route": route,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return response


def init_app(app: Flask) -> None:
    """With LOG_FORMAT=json: JSON lines for Tipline's loggers and werkzeug's, and one request
    event per request."""
    if get_settings(app).log_format != "json":
        return
    for name in ("tipline", "werkzeug"):
        _install(logging.getLogger(name))
    app.before_request(_begin)
    app.after_request(_end)
