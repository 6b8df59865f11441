"""What the form shows about a poster, looked up once and kept briefly in process memory."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from tipline.locations.codes import is_valid, normalize
from tipline.locations.models import Placement
from tipline.locations.services import find_placement, help_places, numbers_of


@dataclass(frozen=True)
class Poster:
    """A placement as the traveler's page needs it: plain values, no database session."""

    id: int
    code: str
    spot: str
    lang: str
    active: bool
    station_name: str | None = None
    station_code: str | None = None
    station_state: str | None = None
    train_id: int | None = None
    train_number: str | None = None  # "66", or "5/6" for a car that turns around
    route_name: str | None = None
    train_ids: tuple[int, ...] = ()  # every number the poster rides as, the first first
    # (region, country) pairs whose help numbers the pages show: services.help_places
    help_places: tuple[tuple[str | None, str], ...] = ()

    @classmethod
    def of(
        cls, placement: Placement, help_places: tuple[tuple[str | None, str], ...] = ()
    ) -> Poster:
        """The page's view of a loaded placement (station or train eager-loaded)."""
        station, train = placement.station, placement.train
        trains = placement.trains
        return cls(
            id=placement.id,
            code=placement.code,
            spot=placement.spot,
            lang=placement.lang,
            active=placement.active,
            station_name=station.name if station else None,
            station_code=station.code if station else None,
            station_state=station.state if station else None,
            train_id=train.id if train else None,
            train_number=numbers_of(trains) if trains else None,
            route_name=train.route_name if train else None,
            train_ids=tuple(t.id for t in trains),
            help_places=help_places,
        )


class PosterCache:
    """Posters by code for `ttl` seconds (misses too), at most `size` of them.

    Opening the form is the hot path (every scan) and a poster changes rarely: a renamed spot
    or a retirement may take `ttl` seconds to show. A tip records the poster as its page showed
    it to the traveler, from the same cache, so a station tip is stored without a single read.
    """

    def __init__(self, ttl: float, size: int = 4096) -> None:
        self.ttl = ttl
        self.size = size
        self._items: OrderedDict[str, tuple[float, Poster | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: Callable[[], Session], raw_code: str) -> Poster | None:
        """The poster with this code (retired ones too), or None; `session` is called only
        when the database must be asked."""
        code = normalize(raw_code)
        if not is_valid(code):
            # Never cached: a flood of made-up codes must not push real posters out.
            return None
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(code)
            if hit is not None and hit[0] > now:
                self._items.move_to_end(code)
                return hit[1]
        db = session()
        placement = find_placement(db, code)
        poster = Poster.of(placement, help_places(db, placement)) if placement is not None else None
        with self._lock:
            self._items[code] = (now + self.ttl, poster)
            self._items.move_to_end(code)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return poster
