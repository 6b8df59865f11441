"""The shared limiter: exact counts in memory and in Redis, no address in any key."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from sqlalchemy.orm import Session

from tipline.config import Rate
from tipline.limiter import LIMITER, Limiter, LimiterUnavailable, _refused
from tipline.ops.health import readiness


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[Limiter]:
    if request.param == "memory":
        yield Limiter()
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    yield Limiter(url, prefix=prefix)
    conn = redis.Redis.from_url(url)
    for key in conn.scan_iter(f"*{prefix}*"):
        conn.delete(key)


def test_exactly_the_rate_is_allowed(limiter: Limiter) -> None:
    rate = Rate(3, 60)
    verdicts = [limiter.hit(rate, "tip", "client-a") for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert 0 < verdicts[-1].retry_after <= 60
    assert limiter.hit(rate, "tip", "client-b").allowed  # another key has its own count


def test_a_refusal_never_says_retry_now() -> None:
    # CI caught Redis answering a reset time of "now" for a window opened that millisecond.
    assert _refused(Rate(3, 60), time.time()).retry_after == 1.0
    assert _refused(Rate(3, 60), time.time() - 5).retry_after == 1.0
    assert _refused(Rate(3, 60), time.time() + 3600).retry_after == 60.0
    assert 29 < _refused(Rate(3, 60), time.time() + 30).retry_after <= 30


def test_peek_does_not_count_and_clear_forgets(limiter: Limiter) -> None:
    rate = Rate(1, 60)
    assert limiter.peek(rate, "k").allowed
    assert limiter.hit(rate, "k").allowed
    assert not limiter.peek(rate, "k").allowed
    limiter.clear(rate, "k")
    assert limiter.hit(rate, "k").allowed


def test_an_off_rate_always_allows(limiter: Limiter) -> None:
    assert all(limiter.hit(Rate(0, 0), "k").allowed for _ in range(50))


def test_two_limiters_on_one_redis_share_counts_and_fingerprints(
    redis_url: str, redis_prefix: str
) -> None:
    # Two gunicorn workers: each has its own Limiter object, both see one count.
    first, second = Limiter(redis_url, prefix=redis_prefix), Limiter(redis_url, prefix=redis_prefix)
    assert first.fingerprint("203.0.113.9") == second.fingerprint("203.0.113.9")
    rate = Rate(2, 60)
    key = first.fingerprint("203.0.113.9")
    assert first.hit(rate, key).allowed
    assert second.hit(rate, key).allowed
    assert not first.hit(rate, key).allowed
    conn = redis.Redis.from_url(redis_url)
    keys = [k.decode() for k in conn.scan_iter(f"*{redis_prefix}*")]
    assert keys and not any("203.0.113.9" in k for k in keys)
    for k in keys:
        conn.delete(k)


def test_memory_fingerprints_are_private_to_the_process() -> None:
    assert Limiter().fingerprint("203.0.113.9") != Limiter().fingerprint("203.0.113.9")
    assert "203.0.113.9" not in Limiter().fingerprint("203.0.113.9")


def test_a_fixed_window_is_exact_and_says_when_it_reopens(limiter: Limiter) -> None:
    rate = Rate(3, 60)
    verdicts = [limiter.hit(rate, "signin", "c", fixed=True) for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    # The window opened at the first hit: it reopens 60 s after it, to the second.
    assert 58 < verdicts[-1].retry_after <= 60
    assert not limiter.peek(rate, "signin", "c", fixed=True).allowed
    # The sliding counters of the same key are another budget.
    assert limiter.hit(rate, "signin", "c").allowed


def test_a_refund_gives_one_place_back_and_never_a_credit(limiter: Limiter) -> None:
    rate = Rate(2, 60)
    for fixed in (False, True):
        assert limiter.hit(rate, "r", fixed=fixed).allowed
        assert limiter.hit(rate, "r", fixed=fixed).allowed
        assert not limiter.peek(rate, "r", fixed=fixed).allowed
        limiter.refund(rate, "r", fixed=fixed)
        assert limiter.hit(rate, "r", fixed=fixed).allowed
        assert not limiter.hit(rate, "r", fixed=fixed).allowed
    # Refunds on an empty budget do not lend places for later.
    for _ in range(3):
        limiter.refund(rate, "empty", fixed=True)
    assert [limiter.hit(rate, "empty", fixed=True).allowed for _ in range(3)] == [
        True,
        True,
        False,
    ]


def test_a_hold_lasts_exactly_its_seconds(limiter: Limiter) -> None:
    assert limiter.held(2, "lock", "e") == 0
    assert 1.5 < limiter.hold(2, "lock", "e") <= 2
    assert 1.5 < limiter.held(2, "lock", "e") <= 2
    assert 1.5 < limiter.hold(2, "lock", "e") <= 2  # raising it again does not extend it
    limiter.release(2, "lock", "e")
    assert limiter.held(2, "lock", "e") == 0
    limiter.hold(1, "lock", "f")
    time.sleep(1.1)
    assert limiter.held(1, "lock", "f") == 0


def test_a_fingerprint_never_fails_when_redis_is_down_from_the_start() -> None:
    from tests.processes import free_port

    limiter = Limiter(f"redis://127.0.0.1:{free_port()}/0", prefix="tipline-test-dead")
    started = time.monotonic()
    first = limiter.fingerprint("203.0.113.9")
    # Hashed with this process's salt, the same for a while (not asked for again every time).
    assert limiter.fingerprint("203.0.113.9") == first
    assert time.monotonic() - started < 3.0
    with pytest.raises(LimiterUnavailable):  # the hit itself still says "unavailable"
        limiter.hit(Rate(3, 60), "signin", first)


def test_sign_in_and_follow_up_fail_open_when_redis_is_down_when_the_app_starts(
    app: Flask, session: Session
) -> None:
    # F15: workers started while Redis was down answered 500 on sign-in and /followup.
    from tests import factories
    from tests.followup.test_followup import send_tip
    from tests.processes import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    app.extensions[LIMITER] = Limiter(dead, prefix="tipline-test-dead")
    client = app.test_client()
    poster = factories.placement(session, station=factories.station(session))
    session.commit()
    code = send_tip(client, f"/T/{poster.code}")
    looked_up = client.post("/followup", data={"code": code})
    assert looked_up.status_code < 500, looked_up.status_code
    user, secret = factories.staff_user(session)
    staff = app.test_client()
    factories.sign_in(staff, user.email, factories.STAFF_PASSWORD, secret)
    assert staff.get("/staff/").status_code == 200
    try:
        assert app.test_client().get("/readyz").status_code == 503
    finally:
        readiness(app).dispose()
