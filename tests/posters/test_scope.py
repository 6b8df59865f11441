"""Which posters an admin manages: a station's by its state, a train's by every state its
numbers call in, a car riding two numbers by either."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tipline.accounts.models import Role
from tipline.locations import services as locations
from tipline.locations.models import Placement
from tipline.posters import scope

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


def test_scope_follows_the_station_and_every_number_of_a_train(session: Session) -> None:
    nyp = factories.station(session)
    den = factories.station(
        session, code="DEN", name="Denver Union", lat=39.75, lon=-105.0, state="CO",
        tz="America/Denver",
    )  # fmt: skip
    sac = factories.station(
        session, code="SAC", name="Sacramento", lat=38.58, lon=-121.5, state="CA",
        tz="America/Los_Angeles",
    )  # fmt: skip
    west = factories.train(session, number="5", stops=[(den, None, 3600), (sac, 9000, None)])
    east = factories.train(
        session, number="6", service_id="east", stops=[(den, None, 3600), (nyp, 90000, None)]
    )
    at_nyp = factories.placement(session, station=nyp)
    zephyr = locations.add_placement(
        session, station=None, trains=[west, east], spot="Car 3", now=NOW
    )
    ny, ca, co = frozenset({"NY"}), frozenset({"CA"}), frozenset({"CO"})
    assert scope.covers(session, ny, at_nyp) and not scope.covers(session, ca, at_nyp)
    # Number 5 never reaches New York, number 6 does: the car's poster is New York's too.
    assert scope.covers(session, ny, zephyr) and scope.covers(session, ca, zephyr)
    assert scope.covers(session, co, zephyr)
    assert not scope.covers(session, frozenset({"TX"}), zephyr)

    def codes(within: scope.Scope) -> set[str]:
        query = select(Placement.code).where(*scope.placement_filter(within))
        return set(session.scalars(query))

    assert codes(ny) == {at_nyp.code, zephyr.code}
    assert codes(ca) == {zephyr.code}
    assert codes(frozenset()) == set()
    assert codes(None) == {at_nyp.code, zephyr.code}
    admin, _ = factories.staff_user(session, role=Role.ADMIN, jurisdictions=("national",))
    assert scope.scope_of(admin) is None and scope.scope_of(None) is None
