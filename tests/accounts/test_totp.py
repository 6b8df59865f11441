"""The TOTP second factor: drift, replay refusal and the locally drawn QR code."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pyotp

from tipline.accounts import totp
from tipline.accounts.models import Role, User

NOW = datetime(2026, 11, 28, 14, 0, 5, tzinfo=UTC)


def _user() -> tuple[User, pyotp.TOTP]:
    secret = totp.new_secret()
    return User(email="a@example.gov", role=Role.TRIAGER, totp_secret=secret), pyotp.TOTP(secret)


def test_secret_is_160_bits_of_base32() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32
    assert len(base64.b32decode(secret)) == 20


def test_current_code_and_one_step_either_side_are_accepted() -> None:
    for offset in (-30, 0, 30):
        user, generator = _user()
        assert totp.verify(user, generator.at(NOW + timedelta(seconds=offset)), NOW)


def test_codes_two_steps_away_are_refused() -> None:
    for offset in (-60, 60):
        user, generator = _user()
        assert not totp.verify(user, generator.at(NOW + timedelta(seconds=offset)), NOW)


def test_a_code_cannot_be_replayed_nor_an_older_one_used_after_it() -> None:
    user, generator = _user()
    code = generator.at(NOW)
    assert totp.verify(user, code, NOW)
    assert not totp.verify(user, code, NOW + timedelta(seconds=5))
    assert not totp.verify(user, generator.at(NOW - timedelta(seconds=30)), NOW)
    assert totp.verify(user, generator.at(NOW + timedelta(seconds=30)), NOW + timedelta(seconds=30))


def test_typed_spaces_are_ignored_and_garbage_refused() -> None:
    user, generator = _user()
    code = generator.at(NOW)
    assert totp.verify(user, f"{code[:3]} {code[3:]}", NOW)
    user, _ = _user()
    assert not totp.verify(user, "12345a", NOW)
    assert not totp.verify(user, "", NOW)


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
