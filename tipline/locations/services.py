"""Placements (posters): create, find, list and retire; stations and trains by their public code."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from tipline.locations import codes
from tipline.locations.models import Placement, Station, Train

# The languages a poster and its form can open in; the first is the default.
LANGUAGES = ("en", "es", "fr")

SPOT_MAX = 200

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
    return session.scalars(
        select(Placement)
        .where(Placement.code == code)
        .options(joinedload(Placement.station), joinedload(Placement.train))
    ).first()


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


def add_placement(
    session: Session,
    *,
    station: Station | None = None,
    train: Train | None = None,
    spot: str,
    lang: str = LANGUAGES[0],
    now: datetime,
) -> Placement:
    """A new poster at a station or on a train, with a fresh code."""
    if (station is None) == (train is None):
        raise InvalidPlacement("a placement is at exactly one station or on one train")
    spot, lang = _checked(spot, lang)
    (code,) = _fresh_codes(session, 1)
    placement = Placement(
        code=code, station=station, train=train, spot=spot, lang=lang, created_at=now
    )
    session.add(placement)
    session.flush()
    return placement


def add_station_placements(
    session: Session, *, spot: str, lang: str = LANGUAGES[0], now: datetime, feed: str | None = None
) -> tuple[list[Placement], int]:
    """A poster at every listed station without an active one at this exact spot.

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
    return made, len(stations) - len(todo)


def list_placements(
    session: Session, *, station: Station | None = None, train: Train | None = None
) -> list[Placement]:
    """Placements, optionally of one station or train, oldest first, locations loaded."""
    query = select(Placement).options(joinedload(Placement.station), joinedload(Placement.train))
    if station is not None:
        query = query.where(Placement.station_id == station.id)
    if train is not None:
        query = query.where(Placement.train_id == train.id)
    return list(session.scalars(query.order_by(Placement.id)))


def retire_placement(session: Session, raw_code: str, *, now: datetime) -> Placement:
    """Take a poster out of service; its code keeps opening a form and its tips stay linked."""
    placement = get_placement(session, raw_code)
    if placement.active:
        placement.active = False
        placement.retired_at = now
        session.flush()
    return placement


def where(placement: Placement) -> str:
    """Where a poster hangs, in words: "New York Penn Station (NYP)" or "Train 66"."""
    if placement.station is not None:
        return f"{placement.station.name} ({placement.station.code})"
    assert placement.train is not None  # the database guarantees exactly one
    return f"Train {placement.train.number}"


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
