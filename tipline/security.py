"""Response headers every page gets, and which proxies may say who the client is."""

from __future__ import annotations

import logging
import threading

from flask import Flask, Response, abort, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from tipline.config import get_settings

log = logging.getLogger(__name__)
csrf = CSRFProtect()

# Everything a page needs is inline or same-origin; nothing may load from another host.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# No page uses a device sensor or API. Denying them all means a script injected into a page
# (or a framed copy) could not ask a traveler's phone for its position or camera. A photo
# upload uses a file input, which needs none of these.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
)
# Two years, the preload list's minimum. No includeSubDomains: the deployment owns its own
# host, not its parent domain's other hosts (an agency's intranet may still be on http).
HSTS = "max-age=63072000"


def init_app(app: Flask) -> None:
    """Trust the configured proxies, install CSRF protection and the security headers."""
    settings = get_settings(app)
    if settings.proxy_hops:
        # Only the last N hops are believed; anything a client prepends is ignored.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops
        )
    else:
        _warn_once_about_forwarding(app)
    # Before CSRF protection, which reads the form of every staff POST.
    app.before_request(_refuse_bodies_without_a_length)
    csrf.init_app(app)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        # Nothing a traveler typed or saw may stay in a shared phone's cache.
        response.headers.setdefault("Cache-Control", "no-store")
        if get_settings().public_url.startswith("https://"):
            # Station Wi-Fi can strip TLS from a first plain-http visit; after one https answer
            # the browser never tries http for this host again.
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response


def _refuse_bodies_without_a_length() -> None:
    """A request body must say its length (411 otherwise). Browsers always do, and nginx sends
    one upstream; a chunked body reached gunicorn's parser mid-view (a malformed chunk was a
    500 on every form) and slipped past MAX_REQUEST_BYTES, which werkzeug checks only against
    a Content-Length."""
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        abort(411)


def _warn_once_about_forwarding(app: Flask) -> None:
    warned = threading.Event()

    @app.before_request
    def _forwarded_without_trust() -> None:
        # Behind a proxy with TIPLINE_PROXY_HOPS=0 every traveler has the proxy's address and
        # so shares one per-client tip limit: say so once, without the header's value.
        if not warned.is_set() and "X-Forwarded-For" in request.headers:
            warned.set()
            log.warning(
                "requests carry X-Forwarded-For but TIPLINE_PROXY_HOPS is 0: per-client limits "
                "see the proxy, not the traveler; set it to the number of trusted proxies"
            )
