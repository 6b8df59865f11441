"""Admins manage staff on the web: invite, change role and jurisdictions, disable, enable, reset.

The views call the same services as `tipline users ...`; the services check scope (an admin
never grants beyond their own jurisdictions), keep one national admin, audit every change and
end the user's open sessions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from tipline.accounts import users
from tipline.accounts.auth import clock, current_user, refuse, staff_required
from tipline.accounts.errors import AccountError
from tipline.accounts.forms import ActionForm, InviteForm, StaffForm, jurisdiction_choices
from tipline.accounts.models import Role, User
from tipline.accounts.setup import setup_url
from tipline.config import get_settings
from tipline.db import db
from tipline.triage.alerts.delivery import AlertSettings, DeliveryError, send_mail

bp = Blueprint("users", __name__)

ACTIONS: dict[str, Callable[..., object]] = {
    "disable": users.disable_user,
    "enable": users.enable_user,
    "reset": users.reset_user,
}
T = TypeVar("T")


def _admin() -> User:
    admin = current_user()
    assert admin is not None  # staff_required ran first
    return admin


def _choices(form: StaffForm) -> StaffForm:
    form.jurisdictions.choices = jurisdiction_choices(users.grantable(_admin()))
    return form


def _managed(user_id: int) -> User:
    """The account `user_id` when this admin may manage it; otherwise a 404 (audited when it
    exists: an admin probing another state's staff is worth a record)."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    if not users.may_manage(_admin(), user):
        refuse(target=f"user:{user_id}", status=404)
    return user


def _emailed(email: str, link: str) -> str | None:
    """Email the set-up link when SMTP is set; returns what happened in words (None: no SMTP)."""
    settings = AlertSettings.from_settings(get_settings())
    if not settings.smtp_host:
        return None
    body = (
        "An administrator has given you an account on the Tipline staff desk.\n\n"
        f"Set your password and authenticator here (the link works once, for 72 hours):\n{link}\n"
    )
    try:
        send_mail(settings, to=email, subject="Your Tipline staff account", body=body)
    except DeliveryError as exc:
        return f"The email could not be sent ({exc}); pass the link on yourself."
    return f"The link was emailed to {email}."


def _show_link(user: User, token: str, what: str) -> str:
    link = setup_url(get_settings().public_url, token)
    mailed = _emailed(user.email, link)
    return render_template(
        "accounts/users_link.html", user=user, link=link, what=what, mailed=mailed
    )


def _saved(work: Callable[[Session], T]) -> T | AccountError:
    """Run one account change under the write lock and commit it; a refusal is rolled back
    and returned for the page to show."""
    try:
        done = work(db.write())
    except AccountError as exc:
        db.session.rollback()
        return exc
    db.session.commit()
    return done


@bp.route("/staff/users/new", methods=["GET", "POST"], endpoint="invite")
@staff_required(Role.ADMIN)
def invite() -> str | tuple[str, int]:
    """Invite a staff member: email, role and jurisdictions; the set-up link is shown once."""
    form, outcome = _choices(InviteForm()), None
    if form.validate_on_submit():
        outcome = _saved(
            lambda session: users.create_user(
                session,
                email=form.email.data or "",
                role=Role(form.role.data),
                jurisdiction_codes=form.jurisdictions.data or [],
                actor=_admin(),
                now=clock(),
            )
        )
        if not isinstance(outcome, AccountError):
            return _show_link(*outcome, "invited")
    page = render_template("accounts/users_invite.html", form=form, error=outcome)
    return page, 200


@bp.route("/staff/users/<int:user_id>", methods=["GET", "POST"], endpoint="edit")
@staff_required(Role.ADMIN)
def edit(user_id: int) -> Response | tuple[str, int]:
    """One account: change its role and jurisdictions; disable, enable or reset it."""
    user = _managed(user_id)
    form = _choices(StaffForm(obj=None, role=user.role.value))
    if not form.is_submitted():
        form.jurisdictions.data = sorted(user.jurisdiction_codes())
    error = _change(user, form) if form.validate_on_submit() else None
    if form.is_submitted() and form.errors == {} and error is None:
        flash(f"Saved {user.email}; their open sessions have ended.", "success")
        return redirect(url_for("users.edit", user_id=user.id))
    page = render_template(
        "accounts/users_edit.html", user=user, form=form, action=ActionForm(), error=error
    )
    return page, 200


def _change(user: User, form: StaffForm) -> AccountError | None:
    return _saved(
        lambda session: users.change_user(
            session,
            user=user,
            role=Role(form.role.data),
            jurisdiction_codes=form.jurisdictions.data or [],
            actor=_admin(),
            now=clock(),
        )
    )


@bp.route(
    "/staff/users/<int:user_id>/<any(disable, enable, reset):action>",
    methods=["POST"],
    endpoint="act",
)
@staff_required(Role.ADMIN)
def act(user_id: int, action: str) -> Response | str:
    """Disable, enable or reset an account (reset shows a new set-up link once)."""
    user = _managed(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    outcome = _saved(
        lambda session: ACTIONS[action](session, user=user, actor=_admin(), now=clock())
    )
    if isinstance(outcome, AccountError):
        flash(str(outcome), "error")
    elif action == "reset":
        return _show_link(user, str(outcome), "reset")
    else:
        flash(f"{user.email}: {action}d; their open sessions have ended.", "success")
    return redirect(url_for("users.edit", user_id=user.id))
