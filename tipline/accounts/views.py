"""Staff sign-in with a second factor, set-up, sign-out, and the admin audit and user pages."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from tipline.accounts import audit, services, totp
from tipline.accounts.auth import (
    PENDING_KEY,
    PENDING_MINUTES,
    clock,
    current_user,
    end_session,
    safe_next,
    staff_required,
    start_session,
)
from tipline.accounts.forms import AuditFilterForm, CodeForm, SetupForm, SignInForm
from tipline.accounts.models import Role, User
from tipline.accounts.throttle import Throttle
from tipline.config import get_settings
from tipline.db import db

bp = Blueprint("accounts", __name__)

AUDIT_PAGE_SIZE = 50
GENERIC_FAILURE = "That email, password or code was not recognised."


def _throttle() -> Throttle:
    throttle: Throttle = current_app.extensions["tipline.throttle"]
    return throttle


def _limits() -> services.Limits:
    return services.Limits.from_settings(get_settings())


def _client() -> str:
    # Used only as a key of an in-memory counter (hashed there); never stored or logged.
    return request.remote_addr or "unknown"


def _home() -> str:
    return (
        url_for("triage.queue")
        if "triage.queue" in current_app.view_functions
        else url_for("accounts.account")
    )


@bp.route("/staff/signin", methods=["GET", "POST"])
def signin() -> Response | tuple[str, int]:
    """Step one: email and password."""
    target = safe_next(request.args.get("next"))
    if current_user() is not None:
        return redirect(target or _home())
    form = SignInForm()
    if form.validate_on_submit():
        now = clock()
        try:
            user = services.check_password(
                db.session,
                email=form.email.data or "",
                password=form.password.data or "",
                client=_client(),
                now=now,
                throttle=_throttle(),
                limits=_limits(),
            )
        except services.AccountError as exc:
            db.session.commit()
            return _refused(form, exc)
        db.session.commit()
        session[PENDING_KEY] = {
            "uid": user.id,
            "sv": user.session_version,
            "at": now.timestamp(),
            "next": target,
        }
        return redirect(url_for("accounts.signin_code"))
    return render_template("accounts/signin.html", form=form, next=target), 200


def _refused(form: SignInForm | CodeForm, exc: services.AccountError) -> tuple[str, int]:
    if isinstance(exc, services.TooManyAttempts):
        session.pop(PENDING_KEY, None)
        return render_template(
            "accounts/signin.html", form=SignInForm(formdata=None), next=None, error=str(exc)
        ), 429
    template = "accounts/code.html" if isinstance(form, CodeForm) else "accounts/signin.html"
    return render_template(template, form=form, next=None, error=GENERIC_FAILURE), 200


@bp.route("/staff/signin/code", methods=["GET", "POST"])
def signin_code() -> Response | tuple[str, int]:
    """Step two: the authenticator code, within a few minutes of the password."""
    user, pending = _pending_user()
    if user is None:
        flash("Your sign-in took too long or was not started. Please start again.", "info")
        return redirect(url_for("accounts.signin"))
    form = CodeForm()
    if form.validate_on_submit():
        now = clock()
        try:
            services.check_code(
                db.session,
                user=user,
                code=form.code.data or "",
                client=_client(),
                now=now,
                throttle=_throttle(),
                limits=_limits(),
            )
        except services.AccountError as exc:
            db.session.commit()
            return _refused(form, exc)
        db.session.commit()
        start_session(user, now)
        target = pending.get("next")
        return redirect(safe_next(target if isinstance(target, str) else None) or _home())
    return render_template("accounts/code.html", form=form), 200


def _pending_user() -> tuple[User | None, dict[str, object]]:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None, {}
    started = datetime.fromtimestamp(float(pending.get("at", 0)), UTC)
    user = db.session.get(User, pending.get("uid"))
    if (
        clock() - started > timedelta(minutes=PENDING_MINUTES)
        or user is None
        or user.session_version != pending.get("sv")
    ):
        session.pop(PENDING_KEY, None)
        return None, {}
    return user, pending


@bp.route("/staff/signout", methods=["POST"])
def signout() -> Response:
    """Forget this browser's session."""
    user = current_user()
    if user is not None:
        audit.record(
            db.session, action="signout", actor=user, now=clock(), target=f"user:{user.id}"
        )
        db.session.commit()
    end_session()
    flash("You are signed out.", "success")
    return redirect(url_for("accounts.signin"))


@bp.route("/staff/setup/<token>", methods=["GET", "POST"])
def setup(token: str) -> Response | tuple[str, int]:
    """A new user's one-time page: choose a password, enrol the authenticator, confirm."""
    now = clock()
    try:
        user = services.user_for_setup(db.session, token, now)
    except services.SetupLinkInvalid as exc:
        return render_template("accounts/setup_invalid.html", message=str(exc)), 404
    secret = services.enrolment_secret(user)
    db.session.commit()
    form = SetupForm()
    error = None
    if form.validate_on_submit():
        try:
            services.complete_setup(
                db.session,
                user=user,
                password=form.password.data or "",
                code=form.code.data or "",
                now=now,
            )
        except (services.WeakPassword, services.InvalidCode) as exc:
            db.session.rollback()
            error = str(exc)
        else:
            db.session.commit()
            end_session()
            flash("Your account is ready. Sign in with your password and a code.", "success")
            return redirect(url_for("accounts.signin"))
    uri = totp.provisioning_uri(user.email, secret)
    return render_template(
        "accounts/setup.html",
        form=form,
        user=user,
        secret=secret,
        qr=totp.qr_data_uri(uri),
        error=error,
    ), 200


@bp.route("/staff/account")
@staff_required()
def account() -> str:
    """The signed-in user's own account: role, jurisdictions, last sign-in."""
    return render_template("accounts/account.html", user=current_user())


@bp.route("/staff/users")
@staff_required(Role.ADMIN)
def users() -> str:
    """Admins: every staff account and its state (changes are made with `tipline users`)."""
    now = clock()
    rows = [(u, services.user_state(u, now)) for u in services.list_users(db.session)]
    return render_template("accounts/users.html", rows=rows)


@bp.route("/staff/audit", endpoint="audit")
@staff_required(Role.ADMIN)
def audit_log() -> str:
    """Admins: the audit log, filtered and paged, read-only."""
    form = AuditFilterForm(request.args)
    if not form.validate():
        abort(400)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    events, total = audit.search(
        db.session, _audit_filter(form), offset=(page - 1) * AUDIT_PAGE_SIZE, limit=AUDIT_PAGE_SIZE
    )
    pages = max(1, -(-total // AUDIT_PAGE_SIZE))
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "accounts/audit.html",
        form=form,
        events=events,
        total=total,
        page=page,
        pages=pages,
        args=args,
    )


def _audit_filter(form: AuditFilterForm) -> audit.AuditFilter:
    since = datetime.combine(form.since.data, time.min, UTC) if form.since.data else None
    until = (
        datetime.combine(form.until.data, time.min, UTC) + timedelta(days=1)
        if form.until.data
        else None
    )
    return audit.AuditFilter(
        actor=form.actor.data or None,
        action=form.action.data or None,
        target=form.target.data or None,
        outcome=form.outcome.data or None,
        since=since,
        until=until,
    )
