"""Staff single sign-on through the agency's OpenID Connect provider (Authlib), optional.

With OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET set, the sign-in page links to the
provider. The provider only says who someone is: a Tipline account must exist for the email it
vouches for (`email_verified`), be enabled and set up, and keeps its own role and jurisdictions.
Every SSO sign-in, and every refusal, is in the audit log. Password + TOTP stays as it is.

The session starts the way a password + code sign-in does (`sessions.start`, then
`auth.start_session`), so it ends, idles out and is refused afterwards in the same ways.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, current_app, flash, redirect, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from tipline.accounts import sessions
from tipline.accounts.audit import record
from tipline.accounts.auth import clock, end_session, start_session
from tipline.accounts.errors import AccountError
from tipline.accounts.models import User
from tipline.accounts.signin import record_failure
from tipline.accounts.users import find_user
from tipline.config import Settings, SettingsError, get_settings
from tipline.db import db

log = logging.getLogger(__name__)
bp = Blueprint("sso", __name__)
EXTENSION = "tipline.sso"
PROVIDER = "agency"
REFUSED = "Single sign-on did not sign you in. Ask an administrator, or sign in with your password."


class SsoRefused(AccountError):
    """The provider's answer does not open a Tipline session; the reason goes to the audit log."""


@dataclass(frozen=True)
class Identity:
    """What the provider vouched for."""

    subject: str
    email: str | None
    email_verified: bool


def identity_of(claims: dict[str, Any]) -> Identity:
    """The subject and email of an ID token's (already validated) claims."""
    verified = claims.get("email_verified")
    return Identity(
        subject=str(claims.get("sub", "")),
        email=str(claims["email"]) if claims.get("email") else None,
        email_verified=verified is True or str(verified).lower() == "true",
    )


def sign_in(session: Session, *, identity: Identity, issuer: str, now: Any) -> tuple[User, str]:
    """Open a session for the staff account the provider vouched for; audited either way.
    Raises SsoRefused (unverified email, no account, disabled, not set up)."""
    user = find_user(session, identity.email) if identity.email else None
    reason = None
    if not identity.email or not identity.email_verified:
        reason = "email not verified by the provider"
    elif user is None:
        reason = "unknown account"
    elif not user.active:
        reason = "account disabled"
    elif user.password_hash is None or user.totp_secret is None:
        # sessions.find refuses a session of an account not set up, so one would not last.
        reason = "account not set up"
    if reason is not None:
        record_failure(session, user, now, reason, step="sso", extra={"issuer": issuer})
        raise SsoRefused(reason)
    assert user is not None
    user.last_login_at = now
    token = sessions.start(session, user=user, now=now)
    record(
        session,
        action="signin.sso",
        actor=user,
        now=now,
        target=f"user:{user.id}",
        detail={"step": "sso", "issuer": issuer},
    )
    return user, token


def _client() -> Any:
    return current_app.extensions[EXTENSION].create_client(PROVIDER)


def _claims(client: Any) -> dict[str, Any]:
    """The validated ID token's claims (Authlib checks signature, issuer, audience, nonce),
    with email from the UserInfo endpoint when the ID token leaves it out."""
    token = client.authorize_access_token()
    claims = dict(token.get("userinfo") or {})
    if not claims.get("sub"):
        raise ValueError("no ID token")
    if "email" not in claims:
        extra = dict(client.userinfo(token=token))
        # OpenID Connect Core 5.3.2: UserInfo of another subject must not be used.
        if extra.get("sub") != claims["sub"]:
            raise ValueError("UserInfo is about another subject")
        claims.update({k: extra[k] for k in ("email", "email_verified") if k in extra})
    return claims


@bp.route("/staff/sso/start", endpoint="start")
def start() -> Response:
    """Send the browser to the provider (state, nonce and PKCE kept in the staff cookie)."""
    end_session()
    callback = url_for("sso.callback", _external=True)
    response: Response = _client().authorize_redirect(callback)
    return response


@bp.route("/staff/sso/callback", endpoint="callback")
def callback() -> Response:
    """The provider's answer: check it, match the account, start the session."""
    settings = get_settings()
    try:
        claims = _claims(_client())
    except (OAuthError, ValueError, OSError) as exc:
        # A stale or forged state, a refused consent, a bad ID token: nothing is signed in.
        log.warning("single sign-on answer refused: %s", type(exc).__name__)
        flash(REFUSED, "error")
        return redirect(url_for("accounts.signin"))
    try:
        _user, session_token = sign_in(
            db.write(), identity=identity_of(claims), issuer=str(settings.oidc_issuer), now=clock()
        )
    except SsoRefused:
        db.session.commit()
        flash(REFUSED, "error")
        return redirect(url_for("accounts.signin"))
    db.session.commit()
    start_session(session_token)
    home = "triage.queue" if "triage.queue" in current_app.view_functions else "accounts.account"
    return redirect(url_for(home))


def configured(settings: Settings) -> bool:
    """True when single sign-on is set up."""
    return bool(settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret)


def init_app(app: Flask) -> None:
    """Register the provider and the blueprint when OIDC is configured."""
    settings = get_settings(app)
    given = [settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret]
    if any(given) and not all(given):
        raise SettingsError(
            "single sign-on needs TIPLINE_OIDC_ISSUER, TIPLINE_OIDC_CLIENT_ID and "
            "TIPLINE_OIDC_CLIENT_SECRET together"
        )
    if not configured(settings):
        return
    if settings.production and not str(settings.oidc_issuer).startswith("https://"):
        raise SettingsError(
            f"TIPLINE_ENV=production needs an https TIPLINE_OIDC_ISSUER, not {settings.oidc_issuer}"
        )
    oauth = OAuth(app)
    oauth.register(
        PROVIDER,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        server_metadata_url=str(settings.oidc_issuer).rstrip("/")
        + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email", "code_challenge_method": "S256"},
    )
    app.extensions[EXTENSION] = oauth
    app.register_blueprint(bp)

    @app.context_processor
    def _sso_name() -> dict[str, str]:
        return {"sso_name": settings.oidc_name}
