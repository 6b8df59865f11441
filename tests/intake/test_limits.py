"""Tip limits through the form: the flooder is stopped, a poster and /report never are."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.intake.conftest import Posters, form_token, post_tip, receipt_in, text_of
from tipline.intake.models import Tip


def stored(session: Session) -> list[Tip]:
    session.commit()
    return list(session.scalars(select(Tip).order_by(Tip.id)))


def from_(client: FlaskClient, address: str, path: str, **fields: str) -> tuple[int, str]:
    """One tip from the client at `address` (a fresh form token each time)."""
    html = client.get(path).get_data(as_text=True)
    response = client.post(
        path,
        data={"token": form_token(html), **fields},
        environ_base={"REMOTE_ADDR": address},
    )
    return response.status_code, response.get_data(as_text=True)


def test_the_refusal_says_when_to_try_again(
    make_app: Callable[..., Flask], posters: Posters
) -> None:
    client = make_app(TIP_LIMIT_PER_CLIENT="1/600").test_client()
    path = f"/T/{posters.station}"
    assert post_tip(client, path, details="one")[0] == 200
    token = form_token(client.get(path).get_data(as_text=True))
    response = client.post(path, data={"token": token, "details": "two"})
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 600


def test_a_retry_of_a_stored_tip_gets_its_receipt_even_over_the_limit(
    make_app: Callable[..., Flask], posters: Posters, session: Session
) -> None:
    client = make_app(TIP_LIMIT_PER_CLIENT="1/600").test_client()
    path = f"/T/{posters.station}"
    token = form_token(client.get(path).get_data(as_text=True))
    first = client.post(path, data={"token": token, "details": "the answer was lost"})
    again = client.post(path, data={"token": token, "details": "the answer was lost"})
    assert first.status_code == again.status_code == 200
    assert receipt_in(first.get_data(as_text=True)) == receipt_in(again.get_data(as_text=True))
    assert post_tip(client, path, details="a new one")[0] == 429
    assert len(stored(session)) == 1


def test_a_flood_at_a_poster_never_silences_the_next_traveler(
    make_app: Callable[..., Flask], posters: Posters, session: Session
) -> None:
    client = make_app(TIP_LIMIT_PER_CLIENT="2/600", TIP_LIMIT_PER_PLACEMENT="3/600").test_client()
    path = f"/T/{posters.station}"
    flood = [from_(client, f"198.51.100.{n // 3}", path, details=f"flood {n}")[0] for n in range(9)]
    assert flood == [200, 200, 429] * 3  # each flooder stopped at exactly its limit
    status, html = from_(client, "192.0.2.50", path, details="a real traveler")
    assert status == 200 and receipt_in(html)
    bursts = [tip.in_burst for tip in stored(session)]
    assert bursts == [False, False, False, True, True, True, True]
    assert stored(session)[-1].details == "a real traveler"


def test_report_and_unknown_codes_are_separate_buckets(
    make_app: Callable[..., Flask], posters: Posters, session: Session
) -> None:
    client = make_app(TIP_LIMIT_PER_CLIENT="1/600", TIP_LIMIT_PER_PLACEMENT="2/600").test_client()
    for n in range(4):
        assert from_(client, f"198.51.100.{n}", "/report", details=f"report {n}")[0] == 200
    assert from_(client, "192.0.2.1", "/T/ZZZZZZZZ", details="mistyped")[0] == 200
    assert from_(client, "192.0.2.2", "/T/YYYYYYYY", details="another")[0] == 200
    flags = {tip.details: tip.in_burst for tip in stored(session)}
    assert [flags[f"report {n}"] for n in range(4)] == [False, False, True, True]
    assert flags["mistyped"] is False and flags["another"] is False


def test_the_poster_limit_flags_but_the_page_says_nothing_different(
    make_app: Callable[..., Flask], posters: Posters
) -> None:
    client = make_app(TIP_LIMIT_PER_CLIENT=0, TIP_LIMIT_PER_PLACEMENT="1/600").test_client()
    path = f"/T/{posters.station}"
    calm = text_of(post_tip(client, path, details="one")[1])
    burst = text_of(post_tip(client, path, details="two")[1])
    # The traveler in a burst is thanked exactly like anyone else (only the receipt differs).
    assert calm.split("Your receipt")[0] == burst.split("Your receipt")[0]


def test_made_up_codes_never_push_real_posters_out_of_the_cache(
    make_app: Callable[..., Flask], posters: Posters
) -> None:
    from tipline.intake.views import POSTERS

    app = make_app()
    client = app.test_client()
    assert client.get(f"/T/{posters.station}").status_code == 200
    for n in range(50):
        assert client.get(f"/T/FAKE{n:03d}").status_code == 404  # 7 symbols: never valid
    cache = app.extensions[POSTERS]
    assert list(cache._items) == [posters.station]
