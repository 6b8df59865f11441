"""The TOTP second factor: secrets, codes with replay refusal, and a QR code drawn locally."""

from __future__ import annotations

import base64
import hmac
import io
from datetime import datetime

import pyotp
import qrcode
import qrcode.image.svg
from sqlalchemy import or_, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from tipline.accounts.models import User

ISSUER = "Tipline"
STEP_SECONDS = 30
# One step either side: a phone clock half a minute off, or a code typed as it rolled over.
DRIFT_STEPS = 1


def new_secret() -> str:
    """A fresh base32 TOTP secret (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(email: str, secret: str, issuer: str = ISSUER) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def normalize_code(code: str) -> str:
    """Strip the spaces and dashes people type between the digits."""
    return "".join(ch for ch in code if ch not in " -\t")


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time-step whose code is `code` (within the allowed drift), or None."""
    code = normalize_code(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def consume(session: Session, user: User, code: str, now: datetime) -> bool:
    """True for a valid code whose time-step this user has not used; the step is then spent.

    Atomic on every database: one conditional UPDATE accepts the step only while it is newer
    than the last one used, so of several requests racing with one code exactly one wins (the
    others wait on the row, re-read it and match nothing).
    """
    if user.totp_secret is None:
        return False
    step = matching_step(user.totp_secret, code, now)
    if step is None:
        return False
    # Refuse the step last used and any before it: a code seen over a shoulder is spent.
    result = session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    accepted = bool(getattr(result, "rowcount", 0))
    if accepted:
        set_committed_value(user, "totp_last_step", step)
    return accepted


def qr_data_uri(uri: str) -> str:
    """The URI as a QR code in an SVG data: URI, drawn here (no third-party image service)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=4)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
