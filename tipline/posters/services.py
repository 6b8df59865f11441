"""Choose what to print: placements to PosterItems in a stable order; one PDF or a zip of PDFs.

The CLI and the staff desk call these same functions; none of them touches Flask.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from tipline.accounts.audit import record
from tipline.accounts.models import User
from tipline.locations import services as locations
from tipline.locations.codes import display
from tipline.locations.help import HelpBook
from tipline.locations.models import Placement, Station, Train
from tipline.posters.layouts import PosterLayout
from tipline.posters.render import PosterItem, render_posters
from tipline.posters.scope import (
    OutOfScope,
    Scope,
    check,
    covers_station,
    covers_train,
    placement_filter,
)

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# Zip entries carry a timestamp; a fixed one makes the same posters give the same archive.
_ZIP_TIME = (2026, 1, 1, 0, 0, 0)


class SelectionError(LookupError):
    """Nothing printable was chosen: an unknown or retired code, or no active placements."""


class RetiredPlacement(SelectionError):
    """The placement asked for is retired: its poster should come down, not be reprinted."""


class EmptySelection(SelectionError):
    """The station, train or network has no active placements."""


def select_items(
    session: Session,
    *,
    public_url: str,
    placement: str | None = None,
    station: str | None = None,
    train: str | None = None,
    all_: bool = False,
    scope: Scope = None,
    help_book: HelpBook | None = None,
) -> list[PosterItem]:
    """The posters for one placement code, a station code, a train number, or every placement.

    A station, a train or the network gives its active placements only, stations first (by
    name, then code), then trains (by number), each by spot then code. Raises SelectionError,
    or OutOfScope for a placement, station or train outside `scope`.
    """
    chosen = [placement is not None, station is not None, train is not None, all_]
    if sum(chosen) != 1:
        raise ValueError("choose exactly one of placement, station, train or all_")
    try:
        if placement is not None:
            found = check(session, scope, locations.get_placement(session, placement))
            if not found.active:
                raise RetiredPlacement(
                    f"placement {display(found.code)} is retired; print a new placement instead"
                )
            return [_item(session, found, public_url, help_book)]
        query = select(Placement).where(Placement.active.is_(True))
        if station is not None:
            where = locations.find_station(session, station)
            if not covers_station(scope, where):
                raise OutOfScope(f"no station {station!r} in your jurisdictions")
            query = query.where(Placement.station_id == where.id)
            empty = f"{_station_title(where)} has no active placements"
        elif train is not None:
            on = locations.find_train(session, train)
            if not covers_train(session, scope, on):
                raise OutOfScope(f"no train {train!r} in your jurisdictions")
            query = query.where(locations.rides(on))
            empty = f"{_train_title(on)} has no active placements"
        else:
            query = query.where(*placement_filter(scope))
            empty = "there are no active placements"
    except (LookupError, ValueError) as exc:
        if isinstance(exc, SelectionError | OutOfScope):
            raise
        raise SelectionError(str(exc)) from exc
    found_all = session.scalars(
        query.options(
            joinedload(Placement.station),
            joinedload(Placement.train),
            selectinload(Placement.numbers),
        )
    ).all()
    if not found_all:
        raise EmptySelection(f"{empty}; add one with `tipline placements add`")
    return [_item(session, pl, public_url, help_book) for pl in sorted(found_all, key=_order)]


@dataclass(frozen=True)
class Printed:
    """Posters rendered for printing: the file's bytes and what it holds."""

    data: bytes
    items: list[PosterItem]


def print_posters(
    session: Session,
    *,
    layout: PosterLayout,
    public_url: str,
    actor: User | None,
    now: datetime,
    placement: str | None = None,
    station: str | None = None,
    train: str | None = None,
    all_: bool = False,
    bleed: bool = False,
    as_zip: bool = False,
    inline: bool = False,
    scope: Scope = None,
) -> Printed:
    """Render the chosen posters (one PDF, or a zip of one per placement) and audit it; the
    desk and the CLI both print through here."""
    items = select_items(
        session,
        public_url=public_url,
        placement=placement,
        station=station,
        train=train,
        all_=all_,
        scope=scope,
        help_book=layout.help_book,
    )
    if as_zip:
        data = posters_zip(layout, items, bleed=bleed)
    else:
        data = render_posters(layout, items, bleed=bleed)
    chosen = {"placement": placement, "station": station, "train": train, "network": "all"}
    kind = "network" if all_ else next(k for k, v in chosen.items() if v is not None)
    record(
        session,
        action="posters.download",
        actor=actor,
        now=now,
        target=f"{kind}:{chosen[kind]}",
        detail={
            "size": layout.name,
            "bleed": bleed,
            "posters": len(items),
            "format": "zip" if as_zip else "pdf",
            "inline": inline,
        },
    )
    return Printed(data, items)


def posters_zip(layout: PosterLayout, items: Sequence[PosterItem], *, bleed: bool = False) -> bytes:
    """A zip holding one PDF per placement, named by its code (K7Q2M9XD.pdf)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in items:
            entry = zipfile.ZipInfo(f"{item.code}.pdf", date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, render_posters(layout, [item], bleed=bleed))
    return buffer.getvalue()


def short_url(public_url: str, code: str) -> str:
    """The URL printed in words: no scheme, as short as a person can type it."""
    return f"{_SCHEME.sub('', public_url.rstrip('/'))}/t/{code}"


def _item(
    session: Session, placement: Placement, public_url: str, help_book: HelpBook | None
) -> PosterItem:
    if placement.station is not None:
        title = _station_title(placement.station)
        group = f"station:{placement.station.id}"
    else:
        assert placement.train is not None  # the database guarantees exactly one
        trains = placement.trains
        # A car that turns around: "California Zephyr, 5/6".
        title = _train_title(placement.train) if len(trains) == 1 else locations.where(placement)
        group = f"train:{placement.train.id}"
    return PosterItem(
        code=placement.code,
        url=locations.qr_url(public_url, placement.code),
        short_url=short_url(public_url, placement.code),
        lang=placement.lang,
        place=title,
        spot=placement.spot,
        group_key=group,
        group_title=title,
        # A train that crosses the border prints the home country's numbers (one footer).
        numbers=(
            help_book.for_places(locations.help_places(session, placement))[0].numbers
            if help_book
            else None
        ),
    )


def _station_title(station: Station) -> str:
    return f"{station.name} ({station.code})"


def _train_title(train: Train) -> str:
    return f"Train {train.number} · {train.route_name}"


def _order(placement: Placement) -> tuple[object, ...]:
    within = (_folded(placement.spot), placement.code)
    if placement.station is not None:
        st = placement.station
        return (0, _folded(st.name), st.code, st.feed, st.id, *within)
    assert placement.train is not None
    tr = placement.train
    digits = tr.number.isascii() and tr.number.isdigit()
    number = (0, int(tr.number), "") if digits else (1, 0, tr.number)
    return (1, number, tr.feed, "", tr.id, *within)


def _folded(text: str) -> str:
    """A sort key that puts "École" with the E's, not after "Z"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
