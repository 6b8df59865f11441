"""Test data made through the models: stations, trains with a trip, placements."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from tipline.locations.codes import new_code
from tipline.locations.models import (
    Placement,
    ServiceCalendar,
    Station,
    Train,
    Trip,
    TripStop,
)

NYP = dict(code="NYP", name="New York Penn Station", lat=40.7506, lon=-73.9935, state="NY")
NWK = dict(code="NWK", name="Newark Penn Station", lat=40.7347, lon=-74.1644, state="NJ")
PHL = dict(code="PHL", name="Philadelphia 30th Street", lat=39.9557, lon=-75.1820, state="PA")
WAS = dict(code="WAS", name="Washington Union Station", lat=38.8973, lon=-77.0063, state="DC")


def station(
    session: Session, *, feed: str = "test", tz: str = "America/New_York", **fields: object
) -> Station:
    """A station (defaults: New York Penn)."""
    values = {**NYP, **fields}
    st = Station(feed=feed, stop_id=str(values["code"]), timezone=tz, country="US", **values)
    session.add(st)
    session.flush()
    return st


def train(
    session: Session,
    *,
    number: str = "66",
    route: str = "Northeast Regional",
    stops: list[tuple[Station, int | None, int | None]] | None = None,
    service_id: str = "daily",
    weekdays: str = "1111111",
    feed: str = "test",
) -> Train:
    """A train with one trip over `stops` ((station, arrival s, departure s), in order)."""
    tr = Train(feed=feed, number=number, route_name=route)
    session.add(tr)
    if session.query(ServiceCalendar).filter_by(feed=feed, service_id=service_id).first() is None:
        session.add(
            ServiceCalendar(
                feed=feed,
                service_id=service_id,
                weekdays=weekdays,
                start_date=date(2026, 1, 1),
                end_date=date(2027, 12, 31),
            )
        )
    trip = Trip(
        feed=feed,
        trip_id=f"{number}-{service_id}",
        train=tr,
        service_id=service_id,
        route_name=route,
        headsign=None,
        direction_id=0,
    )
    for seq, (st, arr, dep) in enumerate(stops or []):
        trip.stops.append(TripStop(seq=seq, station=st, arrival=arr, departure=dep))
    session.add(trip)
    session.flush()
    return tr


def placement(
    session: Session,
    *,
    station: Station | None = None,
    train: Train | None = None,
    spot: str = "Women's restroom, concourse A",
    lang: str = "en",
) -> Placement:
    """A poster at a station or on a train."""
    pl = Placement(code=new_code(), station=station, train=train, spot=spot, lang=lang)
    session.add(pl)
    session.flush()
    return pl
