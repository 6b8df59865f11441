"""The queue: only one's jurisdictions, open urgent first, filters, pages, counts, deadlines."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories
from tests.triage.conftest import NOW, Staff
from tipline.accounts.models import User
from tipline.config import update_settings
from tipline.intake.models import Tip
from tipline.sealing.keyring import Keyring
from tipline.triage import queue as q
from tipline.triage.display import place_label


def ids(tips: list[Tip]) -> list[int]:
    return [t.id for t in tips]


def page_ids(html: str) -> list[int]:
    """Tip numbers in the queue table, top to bottom."""
    return [int(n) for n in re.findall(r'<td class="num"><a href="/staff/tips/(\d+)"', html)]


def walk(session: Session, user: User, f: q.QueueFilter, per_page: int) -> list[int]:
    """Every page of the queue, following the cursors."""
    seen: list[int] = []
    after = None
    while True:
        page = q.queue_page(session, user, f, after=after, per_page=per_page)
        seen.extend(ids(page.tips))
        if page.next_cursor is None:
            return seen
        after = page.next_cursor


def test_open_urgent_first_then_priority_then_oldest(
    session: Session, staff: Callable[[str], Staff]
) -> None:
    user = staff("ny_triager").user
    normal_old = factories.tip(session, priority=3, received_at=NOW - timedelta(hours=3))
    urgent_new = factories.tip(session, priority=1, received_at=NOW - timedelta(minutes=10))
    high = factories.tip(session, priority=2, received_at=NOW - timedelta(hours=1))
    urgent_closed = factories.tip(
        session,
        priority=1,
        status="closed",
        received_at=NOW - timedelta(hours=9),
        resolution="actioned",
    )
    low_oldest = factories.tip(session, priority=4, received_at=NOW - timedelta(hours=5))
    urgent_acked = factories.tip(
        session, priority=1, status="acknowledged", received_at=NOW - timedelta(minutes=30)
    )
    expected_open = [urgent_acked, urgent_new, high, normal_old, low_oldest]

    page = q.queue_page(session, user, q.QueueFilter())
    assert ids(page.tips) == ids(expected_open)
    everything = q.queue_page(session, user, q.QueueFilter(status=q.ALL))
    assert ids(everything.tips) == ids([*expected_open, urgent_closed])
    closed = q.queue_page(session, user, q.QueueFilter(status="closed"))
    assert ids(closed.tips) == [urgent_closed.id]


def test_pages_follow_the_order_without_gaps_or_repeats(
    session: Session, staff: Callable[[str], Staff]
) -> None:
    made = [
        factories.tip(
            session, priority=p, jurisdictions=codes, received_at=NOW - timedelta(minutes=m)
        )
        for p, codes, m in [
            (1, ["NY"], 5),
            (3, ["NJ"], 50),
            (3, ["NY", "NJ"], 40),
            (2, ["NJ"], 3),
            (4, ["NY"], 300),
            (3, ["NY"], 45),  # a tie: same priority and time, ordered by id
            (3, ["NY"], 45),
            (1, ["NJ", "NY"], 1),
            (2, ["NY"], 7),
        ]
    ]
    factories.tip(session, jurisdictions=["PA"])
    expected = ids(sorted(made, key=lambda t: (t.priority, t.received_at)))
    for name in ("nynj_triager", "national_triager"):
        user = staff(name).user
        national_extra = 1 if name == "national_triager" else 0
        full = q.queue_page(session, user, q.QueueFilter()).tips
        assert len(full) == len(made) + national_extra
        for per_page in (1, 2, 3, 50):
            walked = walk(session, user, q.QueueFilter(), per_page)
            assert walked == ids(full), (name, per_page)
        if not national_extra:
            assert ids(full) == expected
    ny_only = walk(session, staff("ny_triager").user, q.QueueFilter(), 2)
    assert ny_only == [i for i in expected if "NY" in session.get(Tip, i).jurisdiction_codes()]  # type: ignore[union-attr]


def test_a_malformed_cursor_means_the_first_page(
    session: Session, staff: Callable[[str], Staff]
) -> None:
    user = staff("ny_triager").user
    first = factories.tip(session)
    for token in (
        "garbage",
        "1.2",
        "0.1.99999999999999999999999.1",
        "",
        "0.1.5.99999999999999999999",
        "7.1.5.1",
        "0.9.5.1",
    ):
        assert ids(q.queue_page(session, user, q.QueueFilter(), after=token).tips) == [first.id]


def test_each_filter_narrows_the_queue(session: Session, staff: Callable[[str], Staff]) -> None:
    ny = staff("ny_triager").user
    national = staff("national_triager").user
    station = factories.tip(
        session,
        station_code="NYP",
        placement_code="K7Q2M9XD",
        indicators=["fearful", "not_free"],
        details="A man in a GREY coat held her ticket; 100% sure",
    )
    train = factories.tip(
        session,
        jurisdictions=["NY", "NJ"],
        station_code=None,
        station_name=None,
        location_kind="train",
        train_number="66",
        priority=1,
        received_at=NOW - timedelta(days=3),
    )
    nj = factories.tip(
        session,
        jurisdictions=["NJ"],
        station_code="NWK",
        status="acknowledged",
        assignee_id=national.id,
    )
    mine = factories.tip(session, assignee_id=ny.id, station_code="ALB", priority=2)

    def found(user: User, **filters: object) -> set[int]:
        return {t.id for t in q.queue_page(session, user, q.QueueFilter(**filters)).tips}  # type: ignore[arg-type]

    assert found(ny) == {station.id, train.id, mine.id}
    assert found(ny, status="new") == {station.id, train.id, mine.id}
    assert found(national, status="acknowledged") == {nj.id}
    assert found(ny, priority=1) == {train.id}
    assert found(ny, station="NYP") == {station.id}
    assert found(ny, train="66") == {train.id}
    assert found(ny, placement="K7Q2M9XD") == {station.id}
    assert found(ny, since=date(2026, 6, 14)) == {station.id, mine.id}
    assert found(ny, until=date(2026, 6, 12)) == {train.id}
    assert found(ny, indicator="not_free") == {station.id}
    assert found(ny, indicator="free") == set()
    assert found(ny, mine=True) == {mine.id}
    assert found(national, mine=True) == {nj.id}
    assert found(ny, text="grey coat") == {station.id}
    assert found(ny, text="100%") == {station.id}
    assert found(ny, text="%") == {station.id}
    assert found(ny, text="_") == set()
    assert found(national, jurisdiction="NJ") == {train.id, nj.id}
    # Asking for another jurisdiction's queue by its code returns nothing.
    assert found(ny, jurisdiction="NJ") == set()
    assert q.count_filtered(session, ny, q.QueueFilter(jurisdiction="NJ")) == 0


def test_counts_by_status_within_ones_jurisdictions(
    session: Session, staff: Callable[[str], Staff]
) -> None:
    factories.tip(session, jurisdictions=["NY"])
    factories.tip(session, jurisdictions=["NY", "NJ"], status="acknowledged")
    factories.tip(session, jurisdictions=["NJ"], status="referred")
    factories.tip(session, jurisdictions=["NY"], status="closed", resolution="actioned")
    factories.tip(session, jurisdictions=["PA"], status="investigating")

    def counts(name: str) -> dict[str, int]:
        return q.status_counts(session, staff(name).user)

    empty = {"new": 0, "acknowledged": 0, "investigating": 0, "referred": 0}
    assert counts("ny_triager") == {**empty, "new": 1, "acknowledged": 1}
    assert counts("nj_triager") == {**empty, "acknowledged": 1, "referred": 1}
    # The NY+NJ tip counts once for someone who works both.
    assert counts("nynj_triager") == {**empty, "new": 1, "acknowledged": 1, "referred": 1}
    assert counts("national_triager") == {
        "new": 1,
        "acknowledged": 1,
        "investigating": 1,
        "referred": 1,
    }


def test_the_page_shows_age_place_indicators_assignee_and_deadlines(
    app: Flask,
    session: Session,
    login: Callable[[str], FlaskClient],
    staff: Callable[[str], Staff],
) -> None:
    factories.station(session, **factories.NWK)
    helper = staff("ny_admin").user
    late_urgent = factories.tip(
        session,
        priority=1,
        received_at=NOW - timedelta(minutes=12),
        indicators=["minor_commercial_sex", "fearful"],
        assignee_id=helper.id,
    )
    fresh_urgent = factories.tip(
        session,
        priority=1,
        received_at=NOW - timedelta(minutes=9),
        location_kind="train",
        station_code=None,
        station_name=None,
        train_number="66",
        next_stop_code="NWK",
        next_stop_name="Newark Penn Station",
        next_stop_time=datetime(2026, 6, 15, 18, 5, tzinfo=NOW.tzinfo),
    )
    late_normal = factories.tip(session, priority=3, received_at=NOW - timedelta(hours=25))
    acked_urgent = factories.tip(
        session, priority=1, status="acknowledged", received_at=NOW - timedelta(hours=2)
    )
    session.commit()
    client = login("ny_triager")
    html = client.get("/staff/").get_data(as_text=True)

    rows = dict(zip(page_ids(html), re.findall(r"<tr class=\"([^\"]*)\">", html), strict=True))
    assert rows[late_urgent.id] == "urgent overdue"
    assert rows[fresh_urgent.id] == "urgent"
    assert rows[late_normal.id] == " overdue"
    assert rows[acked_urgent.id] == "urgent"
    assert ">12 min</time>" in html and ">1 d</time>" in html and ">2 h</time>" in html
    assert "Train 66 → next: Newark Penn Station 14:05" in html
    assert "New York Penn Station (NYP)" in html
    assert "MINOR, fearful" in html
    assert helper.email in html

    update_settings(app, OVERDUE_URGENT_MINUTES=5)
    html = client.get("/staff/").get_data(as_text=True)
    rows = dict(zip(page_ids(html), re.findall(r"<tr class=\"([^\"]*)\">", html), strict=True))
    assert rows[fresh_urgent.id] == "urgent overdue"


def test_a_new_urgent_tip_comes_first_on_the_next_refresh(
    session: Session, login: Callable[[str], FlaskClient]
) -> None:
    older = factories.tip(session, priority=2, received_at=NOW - timedelta(hours=1))
    session.commit()
    client = login("ny_triager")
    first = client.get("/staff/")
    assert first.headers["Refresh"] == "30; url=/staff/?auto=1"
    assert page_ids(first.get_data(as_text=True)) == [older.id]
    urgent = factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    refreshed = client.get("/staff/?auto=1")
    assert page_ids(refreshed.get_data(as_text=True)) == [urgent.id, older.id]
    assert refreshed.headers["Refresh"] == "30; url=/staff/?auto=1"
    # A filtered or later page stays put while someone reads it.
    assert "Refresh" not in client.get("/staff/?priority=2").headers


def test_the_queue_page_keeps_to_ones_jurisdictions(
    session: Session, login: Callable[[str], FlaskClient]
) -> None:
    ny = factories.tip(session)
    nj = factories.tip(session, jurisdictions=["NJ"], station_code="NWK")
    both = factories.tip(session, jurisdictions=["NJ", "NY"], priority=2)
    session.commit()
    assert set(page_ids(login("ny_triager").get("/staff/").get_data(as_text=True))) == {
        ny.id,
        both.id,
    }
    assert set(page_ids(login("nj_triager").get("/staff/").get_data(as_text=True))) == {
        nj.id,
        both.id,
    }
    response = login("ny_viewer").get("/staff/?jurisdiction=NJ")
    assert page_ids(response.get_data(as_text=True)) == [both.id, ny.id]  # filter refused
    assert "Not a valid choice" in response.get_data(as_text=True)


def test_filters_and_pages_through_the_form(
    session: Session, login: Callable[[str], FlaskClient]
) -> None:
    made = [factories.tip(session, received_at=NOW - timedelta(minutes=i)) for i in range(55)]
    target = factories.tip(session, station_code="ALB", placement_code="K7Q2M9XD")
    session.commit()
    client = login("ny_triager")
    html = client.get("/staff/").get_data(as_text=True)
    assert len(page_ids(html)) == 50
    assert "Next page" in html
    token = re.search(r'after=([^&"]+)', html)
    assert token is not None
    rest = page_ids(client.get(f"/staff/?after={token.group(1)}").get_data(as_text=True))
    assert len(rest) == 6 and not set(rest) & set(page_ids(html))
    assert {*page_ids(html), *rest} == {t.id for t in [*made, target]}
    filtered = client.get("/staff/?station=alb&placement=k7q2-m9xd").get_data(as_text=True)
    assert page_ids(filtered) == [target.id]
    assert "Filters (active)" in filtered


def test_the_queue_opens_only_the_sealed_words_it_shows(
    session: Session, staff: Callable[[str], Staff], monkeypatch: pytest.MonkeyPatch
) -> None:
    user = staff("ny_triager").user
    factories.tip(session, details="a man in a grey coat", contact="call me", descriptions="tall")
    unplaced = factories.tip(
        session,
        location_kind="unknown",
        station_code=None,
        station_name=None,
        state=None,
        typed_place="the bus depot",
        details="by the vending machine",
    )
    session.expunge_all()  # read back from the database, as a request does
    opened: list[str] = []
    real_open = Keyring.open_text

    def counting(self: Keyring, sealed: str, purpose: str) -> str:
        opened.append(purpose)
        return real_open(self, sealed, purpose)

    monkeypatch.setattr(Keyring, "open_text", counting)
    page = q.queue_page(session, user, q.QueueFilter())
    labels = [place_label(t, page.timezones) for t in page.tips]
    assert opened == ["tip.typed_place"]  # one row shows typed words; no details, no contact
    assert "“the bus depot” (typed)" in labels
    assert unplaced.id in ids(page.tips)


def test_each_user_is_offered_their_own_jurisdictions_in_the_filters(
    login: Callable[[str], FlaskClient],
) -> None:
    def offered(client: FlaskClient, path: str = "/staff/") -> list[str]:
        html = client.get(path).get_data(as_text=True)
        select = re.search(r'<select id="jurisdiction".*?</select>', html, re.S)
        assert select is not None
        return re.findall(r'<option[^>]*value="([^"]*)"', select.group(0))

    ny, nynj, national = login("ny_triager"), login("nynj_triager"), login("national_triager")
    assert offered(ny) == ["", "NY"]
    assert offered(nynj) == ["", "NJ", "NY"]
    assert {"", "NY", "NJ", "CA", "ON"} <= set(offered(national))
    assert offered(ny, "/staff/?auto=1") == ["", "NY"]  # the default page, refreshed
    html = ny.get("/staff/?station=%20nyp&jurisdiction=NY").get_data(as_text=True)
    assert 'value="NY" selected' in html or 'selected value="NY"' in html
    assert 'value=" nyp"' in html  # what was typed, as typed


def test_urgent_unacknowledged_tips_within_ones_jurisdictions_newest_first(
    session: Session, staff: Callable[[str], Staff]
) -> None:
    older = factories.tip(session, priority=1, received_at=NOW - timedelta(minutes=20))
    both = factories.tip(
        session, priority=1, jurisdictions=["NJ", "NY"], received_at=NOW - timedelta(minutes=5)
    )
    nj = factories.tip(session, priority=1, jurisdictions=["NJ"], received_at=NOW)
    factories.tip(session, priority=1, status="acknowledged")
    factories.tip(session, priority=2)
    factories.tip(session, priority=1, status="closed", resolution="actioned")

    def urgent(name: str) -> list[int]:
        return q.urgent_unacknowledged(session, staff(name).user)

    assert urgent("ny_triager") == [both.id, older.id]
    assert urgent("nynj_triager") == [nj.id, both.id, older.id]  # the NY+NJ tip once
    assert urgent("national_triager") == [nj.id, both.id, older.id]
