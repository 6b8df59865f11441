"""Reads for the staff poster desk: placements grouped by station and by train, searched, paged."""

from __future__ import annotations

import enum
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, joinedload

from tipline.locations import codes
from tipline.locations.models import Placement, Station, Train
from tipline.posters.scope import Scope, placement_filter, station_filter


class Show(enum.StrEnum):
    """Which placements the desk lists."""

    ACTIVE = "active"
    RETIRED = "retired"
    ALL = "all"


@dataclass
class Group:
    """A station or a train and its placements (by spot, then code)."""

    kind: str  # "station" | "train"
    id: int
    title: str  # "New York Penn Station (NYP)" or "Train 66 · Northeast Regional"
    ref: str  # what `tipline posters --station/--train` takes: "amtrak:NYP", "amtrak:66"
    placements: list[Placement] = field(default_factory=list)

    @property
    def active(self) -> int:
        """How many of the listed placements are active."""
        return sum(1 for pl in self.placements if pl.active)


@dataclass(frozen=True)
class DeskPage:
    """One page of groups, and how many groups and pages match in all."""

    groups: list[Group]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class Totals:
    """Placements in the whole network."""

    active: int
    retired: int


def totals(session: Session, *, scope: Scope = None) -> Totals:
    """How many placements (in scope) are active and retired."""
    rows = session.execute(
        select(Placement.active, func.count())
        .where(*placement_filter(scope))
        .group_by(Placement.active)
    )
    counts = {active: count for active, count in rows}
    return Totals(active=counts.get(True, 0), retired=counts.get(False, 0))


def search(
    session: Session,
    *,
    text: str = "",
    show: Show = Show.ACTIVE,
    page: int = 1,
    per_page: int = 20,
    scope: Scope = None,
) -> DeskPage:
    """Stations then trains (in scope) that have matching placements, one page of them.

    `text` matches a station's code (exactly) or name (in part), a train's number (exactly) or
    route (in part), or a placement's code; every case-insensitive. Stations come by name,
    trains by number.
    """
    text = " ".join(text.split())
    stations = session.execute(
        select(Station.id, Station.name, Station.code)
        .join(Placement, Placement.station_id == Station.id)
        .where(*_shown(show), *_station_matches(text), *station_filter(scope))
        .distinct()
    ).all()
    trains = session.execute(
        select(Train.id, Train.number)
        .join(Placement, Placement.train_id == Train.id)
        .where(*_shown(show), *_train_matches(text), *placement_filter(scope))
        .distinct()
    ).all()
    keys = sorted(
        [(0, _folded(name), code, sid, "station") for sid, name, code in stations]
        + [(1, _natural(number), "", tid, "train") for tid, number in trains]
    )
    pages = max(1, -(-len(keys) // per_page))
    page = min(max(1, page), pages)
    chosen = keys[(page - 1) * per_page : page * per_page]
    return DeskPage(groups=_groups(session, chosen, show), total=len(keys), page=page, pages=pages)


def station_ref(session: Session, station: Station) -> str:
    """The reference `find_station` resolves to exactly this station: FEED:CODE, or FEED:STOP_ID
    when two of the feed's stations share the code."""
    shared = _shared_codes(session, [station])
    return f"{station.feed}:{station.stop_id if shared else station.code}"


def group_of(session: Session, placement: Placement) -> tuple[str, str]:
    """("station", ref) or ("train", ref): where `placement` hangs, as the printing takes it."""
    if placement.station is not None:
        return "station", station_ref(session, placement.station)
    assert placement.train is not None  # the database guarantees exactly one
    return "train", train_ref(placement.train)


def train_ref(train: Train) -> str:
    """The reference `find_train` resolves to exactly this train: FEED:NUMBER."""
    return f"{train.feed}:{train.number}"


def _shown(show: Show) -> tuple[ColumnElement[bool], ...]:
    if show is Show.ACTIVE:
        return (Placement.active.is_(True),)
    if show is Show.RETIRED:
        return (Placement.active.is_(False),)
    return ()


def _station_matches(text: str) -> tuple[ColumnElement[bool], ...]:
    if not text:
        return ()
    lowered = text.lower()
    return (
        or_(
            func.lower(Station.code) == lowered,
            func.lower(Station.name).contains(lowered, autoescape=True),
            Placement.code == codes.normalize(text),
        ),
    )


def _train_matches(text: str) -> tuple[ColumnElement[bool], ...]:
    if not text:
        return ()
    lowered = text.lower()
    return (
        or_(
            func.lower(Train.number) == lowered.removeprefix("train").strip(),
            func.lower(Train.route_name).contains(lowered, autoescape=True),
            Placement.code == codes.normalize(text),
        ),
    )


def _groups(session: Session, keys: list[tuple[Any, ...]], show: Show) -> list[Group]:
    station_ids = [k[3] for k in keys if k[4] == "station"]
    train_ids = [k[3] for k in keys if k[4] == "train"]
    found = session.scalars(
        select(Placement)
        .options(joinedload(Placement.station), joinedload(Placement.train))
        .where(
            *_shown(show),
            or_(Placement.station_id.in_(station_ids), Placement.train_id.in_(train_ids)),
        )
    ).all()
    shared = _shared_codes(session, [pl.station for pl in found if pl.station is not None])
    groups: dict[tuple[str, int], Group] = {}
    for pl in sorted(found, key=lambda p: (_folded(p.spot), p.code)):
        if pl.station is not None:
            st = pl.station
            key = ("station", st.id)
            if key not in groups:
                ref = f"{st.feed}:{st.stop_id if (st.feed, st.code) in shared else st.code}"
                groups[key] = Group("station", st.id, f"{st.name} ({st.code})", ref)
        else:
            assert pl.train is not None  # the database guarantees exactly one
            tr = pl.train
            key = ("train", tr.id)
            if key not in groups:
                title = f"Train {tr.number} · {tr.route_name}"
                groups[key] = Group("train", tr.id, title, train_ref(tr))
        groups[key].placements.append(pl)
    return [groups[(k[4], k[3])] for k in keys if (k[4], k[3]) in groups]


def _shared_codes(session: Session, stations: list[Station]) -> set[tuple[str, str]]:
    """(feed, code) pairs among `stations` that more than one station of the feed carries."""
    pairs = {(st.feed, st.code) for st in stations}
    if not pairs:
        return set()
    feeds = {feed for feed, _ in pairs}
    station_codes = {code for _, code in pairs}
    rows = session.execute(
        select(Station.feed, Station.code).where(
            Station.feed.in_(feeds), Station.code.in_(station_codes)
        )
    )
    counts = Counter((feed, code) for feed, code in rows)
    return {pair for pair in pairs if counts[pair] > 1}


def _natural(text: str) -> tuple[Any, ...]:
    """Train 66 before train 171; text parts compared as text."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text))


def _folded(text: str) -> str:
    """A sort key that puts "École" with the E's, not after "Z"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
