"""Who is signed in on this request, and the checks every staff view makes."""

from __future__ import annotations

import functools
import logging
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
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from tipline.accounts import sessions
from tipline.accounts.audit import record
from tipline.accounts.models import Role, User
from tipline.config import get_settings
from tipline.db import db, utcnow

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# The signed session cookie holds only a random token naming a server-side session.
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
        db.write(),
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


def start_session(token: str) -> None:
    """Sign this browser in with the token of a server-side session (signin.check_code)."""
    # A fresh cookie on every sign-in: nothing from before (a pending step, an old CSRF token)
    # carries over.
    session.clear()
    session.permanent = False
    session[SESSION_KEY] = {"sid": token}


def end_session() -> None:
    """Forget everything this browser's session held."""
    session.clear()
    g.staff_user = None
    g.staff_session_id = None


def remember_pending(user: User, now: datetime, target: str | None) -> None:
    """After a correct password: this browser may give a code for `user` for a few minutes."""
    session[PENDING_KEY] = {
        "uid": user.id,
        "sv": user.session_version,
        "at": now.timestamp(),
        "next": target,
    }


def forget_pending() -> None:
    """Drop a half-finished sign-in."""
    session.pop(PENDING_KEY, None)


def pending_user(db_session: Session) -> tuple[User | None, str | None]:
    """The user of a half-finished sign-in still in time, and where to go after; else None."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None, None
    started = datetime.fromtimestamp(float(pending.get("at", 0)), UTC)
    user = db_session.get(User, pending.get("uid"), populate_existing=True)
    if (
        clock() - started > timedelta(minutes=PENDING_MINUTES)
        or user is None
        or user.session_version != pending.get("sv")
    ):
        forget_pending()
        return None, None
    target = pending.get("next")
    return user, safe_next(target if isinstance(target, str) else None)


def current_session_id() -> int | None:
    """The id of this request's server-side session (None when not signed in)."""
    return g.get("staff_session_id")


def load_user() -> None:
    """Before each request: resolve the session cookie to a user, or refuse an ended session."""
    g.staff_user = None
    g.staff_session_id = None
    # g lives as long as the app context, which spans several requests when one is pushed
    # around them (the test suite does): Flask-WTF's token cached there would belong to another
    # browser's session.
    g.pop("csrf_token", None)
    data = session.get(SESSION_KEY)
    token = data.get("sid") if isinstance(data, dict) else None
    if not isinstance(token, str):
        if data is not None:
            session.clear()
        return
    now = clock()
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    found = sessions.find(db.session, token, now=now, idle=idle)
    # End the read here: a page view stays a read, and the bookkeeping below is its own write.
    db.session.commit()
    if not found.ok:
        session.clear()
        if found.refused == sessions.Reason.IDLE:
            assert found.session is not None
            idle_id = found.session.id
            _bookkeeping(lambda s: sessions.end(s, idle_id, now=now, reason=sessions.Reason.IDLE))
            flash(f"You were signed out after {_minutes(idle)} without activity.", "info")
        else:
            flash("Your session has ended. Please sign in again.", "info")
        return
    assert found.session is not None
    # A page refreshing itself (the queue's ?auto=1) is not activity: an unattended screen
    # must still sign out after the idle timeout.
    if request.args.get("auto") != "1" and sessions.needs_touch(found.session, now):
        session_id = found.session.id
        _bookkeeping(lambda s: sessions.touch(s, session_id, now=now))
    g.staff_user = found.user
    g.staff_session_id = found.session.id


def _bookkeeping(write: Callable[[Session], object]) -> None:
    """A small write on the side of a read (last activity, an idle end): never fails the page."""
    try:
        write(db.write())
        db.session.commit()
    except OperationalError as exc:
        # Only "database is locked" after the busy timeout lands here; the session's state is
        # judged from what was read, so skipping one timestamp changes nothing for the user.
        db.session.rollback()
        log.warning("session bookkeeping skipped: %s", type(exc).__name__)


def _minutes(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
