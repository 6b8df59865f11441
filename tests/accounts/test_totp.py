"""The TOTP second factor: drift, replay refusal (atomic, in the database) and the QR code."""

from __future__ import annotations

import base64
import itertools
from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy import update
from sqlalchemy.orm import Session

from tests.factories import staff_user
from tipline.accounts import totp
from tipline.accounts.models import User

NOW = datetime(2026, 11, 28, 14, 0, 5, tzinfo=UTC)


def _user(session: Session) -> tuple[User, pyotp.TOTP]:
    user, secret = staff_user(session, email=f"u{next(_serial)}@example.gov")
    return user, pyotp.TOTP(secret)


_serial = itertools.count()


def test_secret_is_160_bits_of_base32() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32
    assert len(base64.b32decode(secret)) == 20


def test_current_code_and_one_step_either_side_are_accepted(session: Session) -> None:
    for offset in (-30, 0, 30):
        user, generator = _user(session)
        assert totp.consume(session, user, generator.at(NOW + timedelta(seconds=offset)), NOW)


def test_codes_two_steps_away_are_refused(session: Session) -> None:
    for offset in (-60, 60):
        user, generator = _user(session)
        assert not totp.consume(session, user, generator.at(NOW + timedelta(seconds=offset)), NOW)


def test_a_code_cannot_be_replayed_nor_an_older_one_used_after_it(session: Session) -> None:
    user, generator = _user(session)
    code = generator.at(NOW)
    assert totp.consume(session, user, code, NOW)
    assert user.totp_last_step == int(NOW.timestamp()) // 30
    assert not totp.consume(session, user, code, NOW + timedelta(seconds=5))
    assert not totp.consume(session, user, generator.at(NOW - timedelta(seconds=30)), NOW)
    later = NOW + timedelta(seconds=30)
    assert totp.consume(session, user, generator.at(later), later)


def test_the_spent_step_is_judged_by_the_database_not_a_stale_copy(session: Session) -> None:
    # Another worker spent the step a moment ago: this one's copy of the user does not know.
    user, generator = _user(session)
    session.commit()
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(totp_last_step=int(NOW.timestamp()) // 30)
        .execution_options(synchronize_session=False)
    )
    assert user.totp_last_step is None  # the stale copy
    assert not totp.consume(session, user, generator.at(NOW), NOW)


def test_typed_spaces_are_ignored_and_garbage_refused(session: Session) -> None:
    user, generator = _user(session)
    code = generator.at(NOW)
    assert totp.consume(session, user, f"{code[:3]} {code[3:]}", NOW)
    user, _ = _user(session)
    assert not totp.consume(session, user, "12345a", NOW)
    assert not totp.consume(session, user, "", NOW)


def test_provisioning_uri_and_qr_code_are_made_locally() -> None:
    secret = totp.new_secret()
    uri = totp.provisioning_uri("ny@example.gov", secret)
    assert uri.startswith(f"otpauth://totp/Tipline:ny%40example.gov?secret={secret}")
    assert "issuer=Tipline" in uri
    data = totp.qr_data_uri(uri)
    assert data.startswith("data:image/svg+xml;base64,")
    svg = base64.b64decode(data.split(",", 1)[1]).decode()
    assert "<svg" in svg and "<path" in svg
    assert "http" not in svg.replace("http://www.w3.org", "")
