"""Who is signed in on this request, and the checks every staff view makes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import (
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from tipline.accounts.audit import record
from tipline.accounts.models import Role, User
from tipline.config import get_settings
from tipline.db import db, utcnow

P = ParamSpec("P")
R = TypeVar("R")

# The signed session cookie holds only these: who, which session version, when last seen.
SESSION_KEY = "staff"
# Between a correct password and a correct code: expires after PENDING_MINUTES.
PENDING_KEY = "staff_pending"
PENDING_MINUTES = 5


def clock() -> datetime:
    """The current time; tests set app.config["CLOCK"] to a callable to move it."""
    custom: Callable[[], datetime] | None = current_app.config.get("CLOCK")
    return custom() if custom is not None else utcnow()


def current_user() -> User | None:
    """The signed-in, second-factor-complete, active staff user of this request, or None."""
    return g.get("staff_user")


def staff_required(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """Decorate a view: sign-in required; with `roles`, only those roles (others get a 403)."""

    def decorator(view: Callable[P, R]) -> Callable[P, R | Response]:
        @functools.wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            user = current_user()
            if user is None:
                return redirect_to_signin()
            if roles and user.role not in roles:
                refuse(detail={"needs": sorted(r.value for r in roles)})
            return view(*args, **kwargs)

        return wrapped

    return decorator


def redirect_to_signin() -> Response:
    """Send the browser to the sign-in page, coming back here afterwards."""
    if request.method == "GET":
        return redirect(url_for("accounts.signin", next=_here()))
    return redirect(url_for("accounts.signin"))


def refuse(
    *, target: str | None = None, detail: dict[str, Any] | None = None, status: int = 403
) -> NoReturn:
    """Audit an "access.denied" (committed at once), then end the request with `status`."""
    # Whatever the view had pending must not ride along with the audit record's commit.
    db.session.rollback()
    record(
        db.session,
        action="access.denied",
        actor=current_user(),
        now=clock(),
        target=target,
        outcome="denied",
        # The path names the object asked for; the query string may hold typed search text.
        detail={"method": request.method, "path": request.path, **(detail or {})},
    )
    db.session.commit()
    page = render_template("accounts/denied.html", status=status)
    abort(make_response(page, status))


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _here() -> str:
    path = request.full_path if request.query_string else request.path
    return path.rstrip("?")


def start_session(user: User, now: datetime) -> None:
    """Sign `user` in on this browser: a fresh session holding id, version and last-seen."""
    # A fresh session on every sign-in: nothing from before (a pending step, an old CSRF
    # token) carries over.
    session.clear()
    session.permanent = False
    session[SESSION_KEY] = {"uid": user.id, "sv": user.session_version, "seen": now.timestamp()}


def end_session() -> None:
    """Forget everything this browser's session held."""
    session.clear()
    g.staff_user = None


def load_user() -> None:
    """Before each request: resolve the session cookie to a user, or end a stale session."""
    g.staff_user = None
    # g lives as long as the app context, which spans several requests when one is pushed
    # around them (the test suite does): Flask-WTF's token cached there would belong to another
    # browser's session.
    g.pop("csrf_token", None)
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return
    now = clock()
    user = db.session.get(User, data.get("uid"))
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    seen = datetime.fromtimestamp(float(data.get("seen", 0)), UTC)
    if now - seen > idle:
        session.clear()
        flash(f"You were signed out after {_minutes(idle)} without activity.", "info")
        return
    if (
        user is None
        or not user.active
        or user.session_version != data.get("sv")
        or user.password_hash is None
        or user.totp_secret is None
    ):
        session.clear()
        flash("Your session has ended. Please sign in again.", "info")
        return
    # A page refreshing itself (the queue's ?auto=1) is not activity: an unattended screen
    # must still sign out after the idle timeout.
    if request.args.get("auto") != "1":
        session[SESSION_KEY] = {**data, "seen": now.timestamp()}
    g.staff_user = user


def _minutes(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
