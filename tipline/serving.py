"""What gunicorn runs with in production: a logger that never writes a client's address.

Gunicorn's access log records every client's address, and its error log names the address of
any malformed request ("Invalid request from ip=..."), sometimes with the header that carried
another one. PRODUCT.md §6 says no traveler's address is ever logged, so the access log is off
for good and every error-log line has its addresses replaced before it is written.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any

from gunicorn import glogging

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


class _RedactAddresses(logging.Filter):
    """Rewrites a record's message and traceback with the addresses replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
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
