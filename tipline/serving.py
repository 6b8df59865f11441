"""Running Tipline as a server: the werkzeug server behind `tipline run` and `tipline demo`, the
background jobs beside any server, gunicorn's logger for production, and logs that never name a
client or carry a token.

What is logged of a request is its method, its *route* (`/staff/setup/<token>`, never the token;
no query string, which may hold staff search text) and the status: never the client's address,
which the app still receives for its per-client limits.

Gunicorn's access log records every client's address, and its error log names the address of
any malformed request ("Invalid request from ip=..."), sometimes with the header that carried
another one. PRODUCT.md §6 says no traveler's address is ever logged, so under gunicorn the access
log is off for good and every error-log line has its addresses replaced before it is written.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, has_request_context, request
from gunicorn import glogging
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect
from werkzeug.serving import WSGIRequestHandler, run_simple

from tipline import background

log = logging.getLogger(__name__)
_werkzeug_log = logging.getLogger("werkzeug")


def route_of(app: Flask, method: str, raw_path: str) -> str:
    """The URL rule a request matched ("/staff/setup/<token>"), never its values."""
    path = urlsplit(raw_path).path or "/"
    try:
        rule, _args = app.url_map.bind("localhost").match(path, method=method, return_rule=True)
    except RequestRedirect:
        return "(redirect)"
    except HTTPException:
        # Not found, or a method not allowed: still no path in the log.
        return "(no route)"
    return str(rule.rule)


def request_handler(app: Flask) -> type[WSGIRequestHandler]:
    """Werkzeug's request handler, logging routes and statuses only."""

    class QuietRequestHandler(WSGIRequestHandler):
        """Logs `"GET /staff/setup/<token>" 200 -`: no address, no token, no query."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            command = getattr(self, "command", None)
            if command and getattr(self, "path", None):
                line = f"{command} {route_of(app, command, self.path)}"
            else:
                line = "(unreadable request line)"
            self.log("info", '"%s" %s %s', line, code, size)

        def log_error(self, format: str, *args: Any) -> None:
            # http.server puts the raw request line (a token, a path) in its error messages.
            codes = " ".join(str(a) for a in args if isinstance(a, int))
            self.log("error", "request refused %s", codes or "")

        def log(self, type: str, message: str, *args: Any) -> None:
            text = (message % args) if args else message
            getattr(_werkzeug_log, type)(f"[{self.log_date_time_string()}] {text}".rstrip())

    return QuietRequestHandler


class _RedactRequestPath(logging.Filter):
    """Flask logs "Exception on <path> [GET]": the rule instead (a set-up link's token stays out
    of the log even when its page fails)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Exception on "):
            rule = request.url_rule.rule if has_request_context() and request.url_rule else None
            method = request.method if has_request_context() else "?"
            record.msg = f"Exception on {rule or '(no route)'} [{method}]"
            record.args = ()
        return True


def init_app(app: Flask) -> None:
    """Keep request paths out of the app's own error log; start the background jobs if the app
    was created inside a gunicorn worker."""
    if not any(isinstance(f, _RedactRequestPath) for f in app.logger.filters):
        app.logger.addFilter(_RedactRequestPath())
    background.start_with_server(app)


def serve(app: Flask, host: str, port: int) -> None:
    """Serve with werkzeug's threaded server until SIGTERM or Ctrl-C, the background jobs
    beside it; at the end they run their last pass (buffered scan counts are written)."""
    if _werkzeug_log.level == logging.NOTSET:
        _werkzeug_log.setLevel(logging.INFO)
    background.start(app)
    try:
        with _sigterm_as_interrupt():
            run_simple(host, port, app, threaded=True, request_handler=request_handler(app))
    finally:
        background.stop(app)


def run_until_signalled(app: Flask, jobs: list[background.Job]) -> None:
    """Run `jobs` in this process until SIGTERM or Ctrl-C, then stop them (the alert worker)."""
    done = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    background.start(app, only=jobs)
    try:
        while not done.wait(1.0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        background.stop(app)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends werkzeug's server the way Ctrl-C does (Python's default would kill the
    process on the spot, losing what the background jobs still hold)."""

    def _interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- gunicorn ---------------------------------------------------------------------------------

REDACTED = "[address]"
# Anything that might be an IPv4 or IPv6 address (with a port or an IPv4 tail); each candidate
# is then checked by the ipaddress module, so times ("12:30:45") and versions ("27.0.1") stay.
_CANDIDATE = re.compile(r"[0-9A-Fa-f]*[:.][0-9A-Fa-f:.]*[0-9A-Fa-f]")


def _is_address(text: str) -> bool:
    for candidate in (text, text.rsplit(":", 1)[0]):  # "203.0.113.9:51234" has a port
        try:
            ipaddress.ip_address(candidate)
        except ValueError:
            continue
        return True
    return False


def redact(text: str) -> str:
    """`text` with every IPv4 and IPv6 address (with or without a port) replaced."""
    return _CANDIDATE.sub(lambda m: REDACTED if _is_address(m.group()) else m.group(), text)


REQUEST_TEXT = "[request text]"
# Gunicorn's refusal of a malformed request: "Invalid request from ip=...: <what>: <its repr>",
# where the repr is the raw request line, method, version, header or chunk (a path that may be
# a /staff/setup/<token> link, a query with search text). The kind of error stays, its text not.
_INVALID = "Invalid request from ip="
_PLAIN_KIND = re.compile(r"[A-Za-z][A-Za-z0-9 ()<>=.,-]*")
_HANDLING = "Error handling request"


def scrub_request(message: str) -> str:
    """`message` without the raw request text gunicorn puts in its error lines."""
    if message.startswith(_INVALID) and ": " in message:
        head, _, error = message.partition(": ")
        kind, sep, _payload = error.partition(": ")
        if not _PLAIN_KIND.fullmatch(kind):
            return f"{head}: {REQUEST_TEXT}"
        return f"{head}: {kind}: {REQUEST_TEXT}" if sep else f"{head}: {kind}"
    if message.startswith(_HANDLING) and message != f"{_HANDLING} (no URI read)":
        # "Error handling request GET /staff/setup/<token>?q=...": the method at most.
        words = message[len(_HANDLING) :].split()
        method = words[0] if len(words) > 1 and words[0].isalpha() and words[0].isupper() else ""
        return f"{_HANDLING} {method} {REQUEST_TEXT}".replace("  ", " ")
    return message


class _RedactAddresses(logging.Filter):
    """Rewrites a record's message and traceback with the addresses (and the raw text of a
    malformed request) replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(scrub_request(record.getMessage())), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class NoAddressLogger(glogging.Logger):
    """Gunicorn's logger with the access log always off and addresses redacted from the rest."""

    _filter = _RedactAddresses()

    def setup(self, cfg: Any) -> None:
        """Configure as gunicorn does, then install the redaction (once, even after a HUP)."""
        super().setup(cfg)
        if self._filter not in self.error_log.filters:
            self.error_log.addFilter(self._filter)

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Never write an access line, whatever --access-logfile says: it would hold addresses."""
