"""Password rules and Argon2 hashing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from tipline.accounts import passwords
from tipline.accounts.models import Role, User


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short pass1", "at least 12 characters"),
        ("qwerty123456", "too common"),
        ("Password2024!", "too common"),
        ("!!sunshine!!", "too common"),
        ("dragondragon", "too common"),
        ("aaaaaaaaaaaaaaaa", "too repetitive"),
        ("janedoe-river-lamp", "email address"),
        ("x" * 300, "at most 256"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, reason: str) -> None:
    problem = passwords.password_problem(password, "JaneDoe@example.gov")
    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(
    "password", ["correct horse battery staple 42", "lantern-orbit-pickle-9", "Río verde en marzo"]
)
def test_good_passwords_pass(password: str) -> None:
    assert passwords.password_problem(password, "janedoe@example.gov") is None


def test_the_common_list_ships_ten_thousand_entries() -> None:
    common = passwords.common_passwords()
    assert len(common) == 10_000
    assert {"123456", "password", "qwertyuiop", "1qaz2wsx3edc"} <= common


def test_hash_is_argon2id_and_verifies() -> None:
    hashed = passwords.hash_password("correct horse battery staple 42")
    assert hashed.startswith("$argon2id$")
    user = User(email="a@example.gov", role=Role.VIEWER, password_hash=hashed)
    assert passwords.verify_password(user, "correct horse battery staple 42")
    assert not passwords.verify_password(user, "correct horse battery staple 43")
    assert not passwords.verify_password(None, "anything at all here")
    assert user.password_hash == hashed


def test_hash_is_upgraded_at_sign_in_when_parameters_change() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    user = User(
        email="a@example.gov",
        role=Role.VIEWER,
        password_hash=weak.hash("correct horse battery staple 42"),
    )
    old = user.password_hash
    assert passwords.verify_password(user, "correct horse battery staple 42")
    assert user.password_hash != old
    assert user.password_hash is not None
    assert "m=65536,t=3,p=4" in user.password_hash
