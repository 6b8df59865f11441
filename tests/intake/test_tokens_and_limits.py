"""The form token, and tip limits on the shared limiter (memory and Redis)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import redis

from tipline import limiter as limiter_module
from tipline.config import Rate as Limit
from tipline.intake import tokens
from tipline.intake.limits import TipLimits, poster_bucket
from tipline.limiter import Limiter


def test_a_token_round_trips_and_is_random() -> None:
    first, second = tokens.mint("secret"), tokens.mint("secret")
    assert first != second
    assert tokens.read("secret", first) != tokens.read("secret", second)


@pytest.mark.parametrize("signed", ["", "garbage", "a.b.c", "x" * 10_000, "\x00" * 80])
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


CLIENT, POSTER = Limit(2, 600), Limit(3, 600)


@pytest.fixture(params=["memory", "redis"])
def tip_limits_(request: pytest.FixtureRequest) -> Iterator[TipLimits]:
    if request.param == "memory":
        yield TipLimits(Limiter())
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    yield TipLimits(Limiter(url, prefix=prefix))
    conn = redis.Redis.from_url(url)
    for key in conn.scan_iter(f"*{prefix}*"):
        conn.delete(key)


def admit(limits: TipLimits, address: str | None, bucket: str) -> tuple[bool, bool]:
    verdict = limits.admit(address, bucket, per_client=CLIENT, per_poster=POSTER)
    return verdict.allowed, verdict.burst


def test_a_client_is_stopped_at_its_limit_and_a_poster_never_is(tip_limits_: TipLimits) -> None:
    poster = poster_bucket("K7Q2M9XD", None)
    assert [admit(tip_limits_, "198.51.100.1", poster) for _ in range(3)] == [
        (True, False),
        (True, False),
        (False, False),  # the flooder: refused at exactly its limit
    ]
    # Other travelers at the same poster: the third is over the poster's threshold, yet taken.
    assert admit(tip_limits_, "198.51.100.2", poster) == (True, False)
    assert admit(tip_limits_, "198.51.100.3", poster) == (True, True)
    assert admit(tip_limits_, "198.51.100.4", poster) == (True, True)
    # Another poster is not in this one's burst.
    assert admit(tip_limits_, "198.51.100.5", poster_bucket("B2C3D4E5", None)) == (True, False)


def test_unknown_codes_and_report_are_not_one_bucket(tip_limits_: TipLimits) -> None:
    flooded = poster_bucket(None, "ZZZZZZZZ")
    for n in range(5):
        admit(tip_limits_, f"198.51.100.{n}", flooded)
    assert admit(tip_limits_, "198.51.100.9", flooded) == (True, True)
    assert admit(tip_limits_, "198.51.100.9", poster_bucket(None, "K7Q2M9XE")) == (True, False)
    assert admit(tip_limits_, "198.51.100.10", poster_bucket(None, None)) == (True, False)
    assert len({flooded, poster_bucket(None, "K7Q2M9XE"), poster_bucket(None, None)}) == 3


def test_a_refused_tip_does_not_count_towards_the_poster(tip_limits_: TipLimits) -> None:
    poster = poster_bucket("K7Q2M9XD", None)
    for _ in range(10):
        admit(tip_limits_, "198.51.100.1", poster)  # 2 taken, 8 refused
    assert admit(tip_limits_, "198.51.100.2", poster) == (True, False)  # the poster's 3rd


def test_without_an_address_no_one_shares_a_client_bucket(tip_limits_: TipLimits) -> None:
    assert all(admit(tip_limits_, None, f"poster:{n}")[0] for n in range(10))
    assert all(admit(tip_limits_, "", f"poster:{n}")[0] for n in range(10))


def test_no_address_reaches_redis(redis_url: str, redis_prefix: str) -> None:
    limits = TipLimits(Limiter(redis_url, prefix=redis_prefix))
    admit(limits, "203.0.113.77", poster_bucket("K7Q2M9XD", None))
    conn = redis.Redis.from_url(redis_url)
    keys = [k.decode() for k in conn.scan_iter(f"*{redis_prefix}*")]
    values = [conn.dump(k) or b"" for k in keys]
    assert len(keys) >= 2
    assert not any("203.0.113.77" in k for k in keys)
    assert not any(b"203.0.113.77" in v for v in values)
    for k in keys:
        conn.delete(k)


def test_a_dead_redis_fails_open_to_counting_in_memory(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on this loopback port: a real refused connection, not a mock.
    limits = TipLimits(Limiter("redis://127.0.0.1:1/0", prefix="tipline-dead"))
    poster = poster_bucket("K7Q2M9XD", None)
    with caplog.at_level(logging.WARNING):
        results = [admit(limits, "198.51.100.1", poster) for _ in range(3)]
    # Never refused because counting failed, and the flooder is still stopped (in memory).
    assert results == [(True, False), (True, False), (False, False)]
    assert caplog.text.count("shared tip limits unavailable") == 1
    assert "198.51.100.1" not in caplog.text
    # After the retry period the shared storage is asked again (and fails again, openly).
    monkeypatch.setattr(limiter_module, "RETRY_SHARED_SECONDS", 0.0)
    limits._counts._shared_down_until = 0.0
    with caplog.at_level(logging.WARNING):
        assert admit(limits, "198.51.100.2", poster) == (True, False)
    assert caplog.text.count("shared tip limits unavailable") == 2
