"""Staff sign-in with a second factor, set-up, sign-out, and the admin audit and user pages."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tipline.accounts import audit, setup, signin, totp, users
from tipline.accounts.auth import (
    clock,
    current_session_id,
    current_user,
    end_session,
    forget_pending,
    pending_user,
    remember_pending,
    safe_next,
    staff_required,
    start_session,
)
from tipline.accounts.errors import AccountError
from tipline.accounts.forms import (
    AuditFilterForm,
    CodeForm,
    SetupForm,
    SignInForm,
    ZoneForm,
    timezone_choices,
)
from tipline.accounts.models import Role, User
from tipline.config import get_settings
from tipline.db import db
from tipline.limiter import get_limiter

bp = Blueprint("accounts", __name__)

AUDIT_PAGE_SIZE = 50
GENERIC_FAILURE = "That email, password or code was not recognised."


def _throttle() -> signin.Throttle:
    return signin.Throttle.from_settings(get_limiter(), get_settings())


def _client() -> str:
    # Only ever hashed into a limiter key (signin.Throttle); never stored or logged.
    return request.remote_addr or "unknown"


def _home() -> str:
    return (
        url_for("triage.queue")
        if "triage.queue" in current_app.view_functions
        else url_for("accounts.account")
    )


@bp.route("/staff/signin", methods=["GET", "POST"], endpoint="signin")
def signin_page() -> Response | tuple[str, int]:
    """Step one: email and password."""
    target = safe_next(request.args.get("next"))
    if current_user() is not None:
        return redirect(target or _home())
    form = SignInForm()
    if not form.validate_on_submit():
        return render_template("accounts/signin.html", form=form, next=target), 200
    now = clock()
    try:
        # Not db.write(): the hash is judged outside SQLite's write lock (audit.record takes it).
        user = signin.check_password(
            db.session,
            email=form.email.data or "",
            password=form.password.data or "",
            client=_client(),
            now=now,
            throttle=_throttle(),
        )
    except AccountError as exc:
        db.session.commit()
        return _refused(form, exc)
    db.session.commit()
    remember_pending(user, now, target)
    return redirect(url_for("accounts.signin_code"))


def _refused(form: SignInForm | CodeForm, exc: AccountError) -> tuple[str, int]:
    if isinstance(exc, signin.TooManyAttempts):
        forget_pending()
        blank = SignInForm(formdata=None)
        return render_template("accounts/signin.html", form=blank, error=str(exc)), 429
    template = "accounts/code.html" if isinstance(form, CodeForm) else "accounts/signin.html"
    return render_template(template, form=form, next=None, error=GENERIC_FAILURE), 200


@bp.route("/staff/signin/code", methods=["GET", "POST"])
def signin_code() -> Response | tuple[str, int]:
    """Step two: the authenticator code, within a few minutes of the password."""
    form = CodeForm()
    # A code is spent by an UPDATE: take the write lock before reading the user.
    user, target = pending_user(db.write() if form.is_submitted() else db.session)
    if user is None:
        flash("Your sign-in took too long or was not started. Please start again.", "info")
        return redirect(url_for("accounts.signin"))
    if not form.validate_on_submit():
        return render_template("accounts/code.html", form=form), 200
    try:
        token = signin.check_code(
            db.session,
            user=user,
            code=form.code.data or "",
            client=_client(),
            now=clock(),
            throttle=_throttle(),
        )
    except AccountError as exc:
        db.session.commit()
        return _refused(form, exc)
    db.session.commit()
    start_session(token)
    return redirect(target or _home())


@bp.route("/staff/signout", methods=["POST"])
def signout() -> Response:
    """End this browser's session, on the server too: a saved cookie is refused afterwards."""
    user, session_id = current_user(), current_session_id()
    if user is not None and session_id is not None:
        signin.sign_out(db.write(), user=user, session_id=session_id, now=clock())
        db.session.commit()
    end_session()
    flash("You are signed out.", "success")
    return redirect(url_for("accounts.signin"))


@bp.route("/staff/setup/<token>", methods=["GET", "POST"], endpoint="setup")
def setup_page(token: str) -> Response | tuple[str, int]:
    """A new user's one-time page: choose a password, enrol the authenticator, confirm."""
    now, form, error = clock(), SetupForm(), None
    try:
        # The first sight of the page stores the secret being enrolled: a write.
        user = setup.user_for_setup(db.write(), token, now)
    except setup.SetupLinkInvalid as exc:
        return render_template("accounts/setup_invalid.html", message=str(exc)), 404
    secret = setup.enrolment_secret(user)
    db.session.commit()
    if form.validate_on_submit():
        try:
            _complete_setup(user, form, now)
        except (setup.WeakPassword, setup.InvalidCode) as exc:
            db.session.rollback()
            error = str(exc)
        else:
            flash("Your account is ready. Sign in with your password and a code.", "success")
            return redirect(url_for("accounts.signin"))
    qr = totp.qr_data_uri(totp.provisioning_uri(user.email, secret))
    page = render_template(
        "accounts/setup.html", form=form, user=user, secret=secret, qr=qr, error=error
    )
    return page, 200


def _complete_setup(user: User, form: SetupForm, now: datetime) -> None:
    setup.complete_setup(
        db.write(),
        user=user,
        password=form.password.data or "",
        code=form.code.data or "",
        now=now,
    )
    db.session.commit()
    end_session()


@bp.route("/staff/account", methods=["GET", "POST"])
@staff_required()
def account() -> Response | str:
    """The signed-in user's own account: role, jurisdictions, last sign-in, their time zone."""
    user = current_user()
    assert user is not None  # staff_required ran first
    form = ZoneForm(timezone=user.timezone or "")
    form.timezone.choices = timezone_choices()
    if form.validate_on_submit():
        users.set_timezone(db.write(), user=user, timezone=form.timezone.data, now=clock())
        db.session.commit()
        flash("Saved your time zone.", "success")
        return redirect(url_for("accounts.account"))
    return render_template("accounts/account.html", user=user, form=form)


@bp.route("/staff/users", endpoint="users")
@staff_required(Role.ADMIN)
def users_page() -> str:
    """Admins: the staff of their own jurisdictions (national: all) and each one's state."""
    admin, throttle = current_user(), _throttle()
    assert admin is not None  # staff_required ran first
    within = None if admin.is_national else admin.jurisdiction_codes()
    rows = [
        (u, users.user_state(u, locked=throttle.locked_for(u.email) > 0))
        for u in users.list_users(db.session, within=within)
    ]
    return render_template(
        "accounts/users.html",
        rows=rows,
        scoped=within is not None,
        manageable=lambda user: users.may_manage(admin, user),
    )


@bp.route("/staff/audit", endpoint="audit")
@staff_required(Role.ADMIN)
def audit_log() -> str:
    """Admins: the audit log, filtered and paged, read-only, with the chain's head."""
    form = AuditFilterForm(request.args)
    if not form.validate():
        abort(400)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    events, total = audit.search(
        db.session, _audit_filter(form), offset=(page - 1) * AUDIT_PAGE_SIZE, limit=AUDIT_PAGE_SIZE
    )
    return render_template(
        "accounts/audit.html",
        form=form,
        events=events,
        total=total,
        page=page,
        pages=max(1, -(-total // AUDIT_PAGE_SIZE)),
        args={k: v for k, v in request.args.items() if k != "page" and v},
        head=audit.chain_head(db.session),
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
