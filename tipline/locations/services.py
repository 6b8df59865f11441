"""Placements (posters): create, find, list and retire; stations and trains by their public code."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.sql.elements import ColumnElement

from tipline.accounts import audit
from tipline.accounts.models import User
from tipline.locations import codes, regions
from tipline.locations.models import Placement, PlacementTrain, Station, Train, Trip, TripStop

# The languages a poster and its form can open in; the first is the default.
LANGUAGES = ("en", "es", "fr", "ar")

SPOT_MAX = 200
# A car that turns around runs as two numbers (5 west, 6 east); a few more for odd cases.
MAX_TRAIN_NUMBERS = 6
_NUMBER_SEPARATORS = re.compile(r"[/,;\s]+")

_L = TypeVar("_L", Station, Train)


class InvalidCode(ValueError):
    """A typed placement code that cannot be one (wrong length, letters or check symbol)."""


class PlacementNotFound(LookupError):
    """No placement has this code."""


class UnknownLocation(LookupError):
    """No station or train matches what was typed."""


class AmbiguousLocation(LookupError):
    """A station code or train number that exists in more than one feed."""


class InvalidPlacement(ValueError):
    """A placement that breaks a rule: empty spot, unknown language."""


def qr_url(public_url: str, code: str) -> str:
    """The URL a poster's QR encodes: `<PUBLIC_URL>/T/<CODE>`, all in upper case."""
    # Upper case keeps the whole URL in QR alphanumeric mode, so the symbol stays small; the
    # scheme and host are case-insensitive and the server reads /T/<CODE> in any case.
    return f"{public_url.rstrip('/')}/T/{code}".upper()


def parse_code(raw: str) -> str:
    """A typed code, normalized; InvalidCode with a reason a person can act on."""
    code = codes.normalize(raw)
    if codes.is_valid(code):
        return code
    if len(code) != codes.LENGTH:
        raise InvalidCode(f"{raw.strip()!r} is not a placement code: codes have 8 symbols")
    bad = sorted({ch for ch in code if ch not in codes.ALPHABET})
    if bad:
        raise InvalidCode(
            f"{raw.strip()!r} is not a placement code: {', '.join(bad)} cannot appear in a code"
        )
    raise InvalidCode(
        f"{codes.display(code)}: the last symbol does not match the others; a symbol is mistyped"
    )


def find_placement(session: Session, raw_code: str) -> Placement | None:
    """The placement with this code (retired ones too), its station or train loaded; else None."""
    code = codes.normalize(raw_code)
    if not codes.is_valid(code):
        return None
    return (
        session.scalars(
            select(Placement)
            .where(Placement.code == code)
            .options(
                joinedload(Placement.station),
                joinedload(Placement.train),
                joinedload(Placement.numbers),
            )
        )
        .unique()
        .first()
    )


def get_placement(session: Session, raw_code: str) -> Placement:
    """The placement a person typed the code of; InvalidCode or PlacementNotFound."""
    code = parse_code(raw_code)
    placement = find_placement(session, code)
    if placement is None:
        raise PlacementNotFound(f"no placement has the code {codes.display(code)}")
    return placement


def find_station(session: Session, ref: str) -> Station:
    """The station whose public code (or `FEED:CODE`) is `ref`."""
    feed, key = _split(ref)
    feed_filter = (Station.feed == feed,) if feed else ()
    query = select(Station).where(func.lower(Station.code) == key.lower(), *feed_filter)
    matches = list(session.scalars(query))
    if len(matches) != 1 and feed:
        # The stop_id is the key of last resort, when two stations of one feed share a code.
        by_id = list(session.scalars(select(Station).where(Station.stop_id == key, *feed_filter)))
        matches = by_id or matches
    feeds = Counter(st.feed for st in matches)
    return _one(
        matches,
        ref,
        "station",
        lambda st: f"{st.feed}:{st.code if feeds[st.feed] == 1 else st.stop_id} ({st.name})",
    )


def find_train(session: Session, ref: str) -> Train:
    """The train whose number (or `FEED:NUMBER`) is `ref`."""
    feed, key = _split(ref)
    feed_filter = (Train.feed == feed,) if feed else ()
    query = select(Train).where(func.lower(Train.number) == key.lower(), *feed_filter)
    matches = list(session.scalars(query))
    return _one(matches, ref, "train", lambda t: f"{t.feed}:{t.number} ({t.route_name})")


def find_trains(session: Session, refs: str | Sequence[str]) -> list[Train]:
    """The trains typed as "5/6", "5, 6" or one per item (`FEED:` before the first applies to
    all), in the order given, each once."""
    items = [refs] if isinstance(refs, str) else list(refs)
    found: list[Train] = []
    for item in items:
        feed, _, numbers = item.strip().rpartition(":")
        for number in _NUMBER_SEPARATORS.split(numbers.strip()):
            if number:
                train = find_train(session, f"{feed}:{number}" if feed else number)
                if train not in found:
                    found.append(train)
    if not found:
        raise UnknownLocation("no train number given")
    return found


def add_placement(
    session: Session,
    *,
    station: Station | None = None,
    train: Train | None = None,
    trains: Sequence[Train] = (),
    spot: str,
    lang: str = LANGUAGES[0],
    now: datetime,
    actor: User | None = None,
) -> Placement:
    """A new poster at a station, or in a car running as one or more train numbers (cars turn
    around: the Zephyr's run west as 5 and east as 6), with a fresh code; audited (`actor`
    None: the command line)."""
    numbers = list(dict.fromkeys([*([train] if train is not None else []), *trains]))
    if (station is None) == (not numbers):
        raise InvalidPlacement("a placement is at exactly one station or on one train")
    if len(numbers) > MAX_TRAIN_NUMBERS:
        raise InvalidPlacement(f"a poster rides at most {MAX_TRAIN_NUMBERS} train numbers")
    if len({t.feed for t in numbers}) > 1:
        raise InvalidPlacement("the train numbers of one poster must come from one feed")
    spot, lang = _checked(spot, lang)
    (code,) = _fresh_codes(session, 1)
    placement = Placement(
        code=code,
        station=station,
        train=numbers[0] if numbers else None,
        spot=spot,
        lang=lang,
        created_at=now,
    )
    placement.numbers = [
        PlacementTrain(train=t, train_id=t.id, position=i) for i, t in enumerate(numbers)
    ]
    session.add(placement)
    session.flush()
    audit.record(
        session,
        action="placement.add",
        actor=actor,
        now=now,
        target=f"placement:{placement.code}",
        detail={"where": where(placement), "spot": placement.spot, "lang": placement.lang},
    )
    return placement


def rides(train: Train) -> ColumnElement[bool]:
    """Placements riding as this train number, first or not."""
    others = select(PlacementTrain.placement_id).where(PlacementTrain.train_id == train.id)
    return or_(Placement.train_id == train.id, Placement.id.in_(others))


def add_station_placements(
    session: Session,
    *,
    spot: str,
    lang: str = LANGUAGES[0],
    now: datetime,
    feed: str | None = None,
    actor: User | None = None,
) -> tuple[list[Placement], int]:
    """A poster at every listed station without an active one at this exact spot; audited.

    Returns the new placements and how many stations were skipped.
    """
    spot, lang = _checked(spot, lang)
    query = select(Station).where(Station.in_feed.is_(True)).order_by(Station.feed, Station.code)
    if feed:
        query = query.where(Station.feed == feed)
    stations = list(session.scalars(query))
    covered = set(
        session.scalars(
            select(Placement.station_id).where(
                Placement.active.is_(True),
                Placement.spot == spot,
                Placement.station_id.is_not(None),
            )
        )
    )
    todo = [st for st in stations if st.id not in covered]
    made = [
        Placement(code=code, station=st, spot=spot, lang=lang, created_at=now)
        for st, code in zip(todo, _fresh_codes(session, len(todo)), strict=True)
    ]
    session.add_all(made)
    session.flush()
    if made:
        audit.record(
            session,
            action="placement.add_all",
            actor=actor,
            now=now,
            target=f"feed:{feed}" if feed else None,
            detail={
                "spot": spot,
                "lang": lang,
                "count": len(made),
                "codes": [p.code for p in made],
            },
        )
    return made, len(stations) - len(todo)


def list_placements(
    session: Session, *, station: Station | None = None, train: Train | None = None
) -> list[Placement]:
    """Placements, optionally of one station or train, oldest first, locations loaded."""
    query = select(Placement).options(
        joinedload(Placement.station),
        joinedload(Placement.train),
        selectinload(Placement.numbers),
    )
    if station is not None:
        query = query.where(Placement.station_id == station.id)
    if train is not None:
        query = query.where(rides(train))
    return list(session.scalars(query.order_by(Placement.id)))


def retire_placement(
    session: Session, raw_code: str, *, now: datetime, actor: User | None = None
) -> Placement:
    """Take a poster out of service; its code keeps opening a form and its tips stay linked.
    Audited when it was active (`actor` None: the command line)."""
    placement = get_placement(session, raw_code)
    if placement.active:
        placement.active = False
        placement.retired_at = now
        session.flush()
        audit.record(
            session,
            action="placement.retire",
            actor=actor,
            now=now,
            target=f"placement:{placement.code}",
            detail={"where": where(placement), "spot": placement.spot},
        )
    return placement


def where(placement: Placement) -> str:
    """Where a poster hangs, in words: "New York Penn Station (NYP)", "Train 66", or for a car
    running as several numbers "California Zephyr, 5/6"."""
    if placement.station is not None:
        return f"{placement.station.name} ({placement.station.code})"
    assert placement.train is not None  # the database guarantees exactly one
    trains = placement.trains
    if len(trains) == 1:
        return f"Train {placement.train.number}"
    return train_label(trains)


def train_label(trains: Sequence[Train]) -> str:
    """A car's route and numbers: "California Zephyr, 5/6" (one number: "Train 66")."""
    if len(trains) == 1:
        return f"Train {trains[0].number}"
    routes = list(dict.fromkeys(t.route_name for t in trains))
    return f"{' / '.join(routes)}, {numbers_of(trains)}"


def numbers_of(trains: Sequence[Train]) -> str:
    """ "5/6": the numbers as travelers and staff see them together."""
    return "/".join(t.number for t in trains)


def _checked(spot: str, lang: str) -> tuple[str, str]:
    spot = " ".join(spot.split())
    if not spot:
        raise InvalidPlacement("the spot is empty: say where the poster hangs")
    if len(spot) > SPOT_MAX:
        raise InvalidPlacement(f"the spot is longer than {SPOT_MAX} characters")
    lang = lang.strip().lower()
    if lang not in LANGUAGES:
        raise InvalidPlacement(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
    return spot, lang


def _fresh_codes(session: Session, count: int) -> list[str]:
    """`count` new codes no placement uses (a collision is astronomically rare, yet retried)."""
    fresh: set[str] = set()
    while len(fresh) < count:
        batch = {codes.new_code() for _ in range(count - len(fresh))} - fresh
        taken = set(session.scalars(select(Placement.code).where(Placement.code.in_(batch))))
        fresh |= batch - taken
    return list(fresh)


def _split(ref: str) -> tuple[str | None, str]:
    """`FEED:CODE` -> (feed, code); a bare `CODE` -> (None, code)."""
    feed, _, key = ref.strip().rpartition(":")
    return feed.strip().lower() or None, key.strip()


def _one(matches: Sequence[_L], ref: str, kind: str, label: Callable[[_L], str]) -> _L:
    """The single match, or an error that lists the choices."""
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UnknownLocation(f"no {kind} {ref.strip()!r}")
    choices = ", ".join(sorted(label(m) for m in matches))
    raise AmbiguousLocation(
        f"{kind} {ref.strip()!r} is ambiguous ({len(matches)} matches); type FEED:CODE, "
        f"one of: {choices}"
    )


# --- a station's state: the boundaries' answer, and a person's correction --------------------


class InvalidState(ValueError):
    """A state or province code that no region has (or `national`, which is no place)."""


def stations_to_check(
    session: Session, *, border_km: float, feed: str | None = None, everything: bool = False
) -> list[Station]:
    """Stations whose state a person should confirm (near a border, outside every boundary, a
    time zone the region does not use), not yet confirmed unless `everything`; nearest first."""
    query = select(Station).where(
        Station.in_feed.is_(True),
        or_(
            Station.border_km < border_km,
            Station.state_note.is_not(None),
            Station.state_auto.is_(None),
        ),
    )
    if feed:
        query = query.where(Station.feed == feed)
    if not everything:
        query = query.where(Station.state_override.is_(None))
    found = list(session.scalars(query))
    return sorted(found, key=lambda st: (st.border_km is None, st.border_km or 0, st.feed, st.code))


def set_state(
    session: Session, station: Station, code: str | None, *, now: datetime, actor: User | None
) -> Station:
    """Record a person's state for a station (None: back to the boundaries' answer); kept
    through re-imports, audited. Tips already sent keep the state they were routed with."""
    before = station.state
    if code is None:
        station.state_override = None
        station.state = station.state_auto
        region = regions.find(station.state_auto)
    else:
        region = regions.find(code.strip())
        if region is None or region.country is None:
            raise InvalidState(
                f"{code.strip()!r} is not a US state, DC, territory or Canadian province "
                "(two letters, e.g. NY, QC)"
            )
        station.state_override = station.state = region.code
    station.country = str(region.country) if region and region.country else station.country
    audit.record(
        session,
        action="station.set_state",
        actor=actor,
        now=now,
        target=f"station:{station.feed}:{station.stop_id}",
        detail={
            "code": station.code,
            "from": before,
            "to": station.state,
            "boundaries": station.state_auto,
            "confirmed": code is not None,
        },
    )
    session.flush()
    return station


def help_places(session: Session, placement: Placement) -> tuple[tuple[str | None, str], ...]:
    """Where a placement's help numbers come from, as (region, country) pairs: its station's
    (("QC", "CA"),), or for a train each country its stations lie in, (None, "CA") and
    (None, "US") for a train that crosses the border."""
    if placement.station is not None:
        st = placement.station
        country = regions.country_of(st.state) or st.country
        return ((st.state, str(country)),) if country else ()
    ids = [t.id for t in placement.trains]
    found = session.scalars(
        select(Station.country)
        .join(TripStop, TripStop.station_id == Station.id)
        .join(Trip, Trip.id == TripStop.trip_id)
        .where(Trip.train_id.in_(ids), Station.country.is_not(None))
        .distinct()
    ).all()
    return tuple((None, c) for c in sorted(c for c in found if c))
