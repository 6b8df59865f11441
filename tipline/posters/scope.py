"""Which posters an admin manages: those of their own jurisdictions; national manages all.

A station poster belongs to the station's state or province. A train poster belongs to every
state its train numbers call in (a Northeast Regional poster is New York's and New Jersey's
alike), as a train tip falls back to every state on its route.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, Select, false, or_, select
from sqlalchemy.orm import Session

from tipline.accounts.models import User
from tipline.locations.models import Placement, PlacementTrain, Station, Train, Trip, TripStop

# None: every jurisdiction (a national user, or the command line).
Scope = frozenset[str] | None


class OutOfScope(LookupError):
    """The poster, station or train is not in the user's jurisdictions."""


def scope_of(user: User | None) -> Scope:
    """The jurisdictions `user` manages posters in; None for national (or no user: the CLI)."""
    if user is None or user.is_national:
        return None
    return frozenset(user.jurisdiction_codes())


def trains_in(codes: Iterable[str]) -> Select[int]:
    """Ids of the trains that call at a station in `codes`."""
    return (
        select(Trip.train_id)
        .join(TripStop, TripStop.trip_id == Trip.id)
        .join(Station, Station.id == TripStop.station_id)
        .where(Station.state.in_(sorted(codes)))
        .distinct()
    )


def station_filter(scope: Scope) -> tuple[ColumnElement[bool], ...]:
    """WHERE clauses keeping the stations in scope."""
    return () if scope is None else (Station.state.in_(sorted(scope)),)


def train_filter(scope: Scope) -> tuple[ColumnElement[bool], ...]:
    """WHERE clauses keeping the trains in scope."""
    return () if scope is None else (Train.id.in_(trains_in(scope)),)


def placement_filter(scope: Scope) -> tuple[ColumnElement[bool], ...]:
    """WHERE clauses keeping the placements in scope."""
    if scope is None:
        return ()
    if not scope:
        return (false(),)
    stations = select(Station.id).where(Station.state.in_(sorted(scope)))
    # A car that turns around rides as several numbers (placement_train): any one will do.
    riding = select(PlacementTrain.placement_id).where(
        PlacementTrain.train_id.in_(trains_in(scope))
    )
    return (
        or_(
            Placement.station_id.in_(stations),
            Placement.train_id.in_(trains_in(scope)),
            Placement.id.in_(riding),
        ),
    )


def covers_station(scope: Scope, station: Station) -> bool:
    """True when `station` is in scope."""
    return scope is None or station.state in scope


def covers_train(session: Session, scope: Scope, train: Train) -> bool:
    """True when `train` calls somewhere in scope."""
    if scope is None:
        return True
    query = trains_in(scope).where(Trip.train_id == train.id).limit(1)
    return session.scalar(query) is not None


def covers(session: Session, scope: Scope, placement: Placement) -> bool:
    """True when `placement` is in scope."""
    if placement.station is not None:
        return covers_station(scope, placement.station)
    # A car that turns around rides as several numbers: any one in scope will do.
    return any(covers_train(session, scope, train) for train in placement.trains)


def check(session: Session, scope: Scope, placement: Placement) -> Placement:
    """`placement` if in scope; OutOfScope (shown as "not found") otherwise."""
    if not covers(session, scope, placement):
        raise OutOfScope(f"no placement {placement.code} in your jurisdictions")
    return placement
