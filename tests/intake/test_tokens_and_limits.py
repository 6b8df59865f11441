"""The form token and the in-memory tip limits."""

from __future__ import annotations

import pytest

from tipline.config import Rate as Limit
from tipline.intake import tokens
from tipline.intake.limits import RateLimiter


def test_a_token_round_trips_and_is_random() -> None:
    first, second = tokens.mint("secret"), tokens.mint("secret")
    assert first != second
    assert tokens.read("secret", first) != tokens.read("secret", second)


@pytest.mark.parametrize("signed", ["", "garbage", "a.b.c"])
def test_damaged_tokens_are_refused(signed: str) -> None:
    with pytest.raises(tokens.InvalidToken):
        tokens.read("secret", signed)


def test_tokens_from_another_key_or_too_old_are_refused() -> None:
    signed = tokens.mint("secret")
    with pytest.raises(tokens.InvalidToken):
        tokens.read("other", signed)
    with pytest.raises(tokens.InvalidToken):
        tokens.read("secret", signed, max_age=-1)


@pytest.mark.parametrize(
    ("text", "limit"),
    [("10/600", Limit(10, 600)), ("3/60.5", Limit(3, 60.5)), (0, Limit(0, 0)), ("0", Limit(0, 0))],
)
def test_limits_are_read_from_settings(text: object, limit: Limit) -> None:
    assert Limit.parse(text) == limit


@pytest.mark.parametrize("text", ["ten", "10", "10/0", "-1/60", "10/x"])
def test_bad_limit_settings_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="10/600"):
        Limit.parse(text)


def test_limiter_counts_per_client_and_per_placement_in_a_sliding_window() -> None:
    limiter = RateLimiter(Limit(2, 60), Limit(3, 60))
    assert limiter.allow("198.51.100.1", "P1", now=0)
    assert limiter.allow("198.51.100.1", "P1", now=1)
    assert not limiter.allow("198.51.100.1", "P2", now=2)  # this client: 2 per minute
    assert limiter.allow("198.51.100.2", "P1", now=3)
    assert not limiter.allow("198.51.100.3", "P1", now=4)  # this poster: 3 per minute
    assert limiter.allow("198.51.100.1", "P2", now=61)  # the window slid


def test_limiter_keeps_no_address() -> None:
    limiter = RateLimiter(Limit(5, 60), Limit(0, 0))
    limiter.allow("203.0.113.9", "P1", now=0)
    assert "203.0.113.9" not in repr(limiter.__dict__)
    assert limiter.client_key("203.0.113.9") != RateLimiter(Limit(5, 60), Limit(0, 0)).client_key(
        "203.0.113.9"
    )
