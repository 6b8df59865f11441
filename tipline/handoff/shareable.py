"""What of a tip may leave the task force: one view shared by the hand-off packet and the API.

Never in it: internal notes, staff names, the assignee, the receipt or the submission token.
The traveler's own words (details, descriptions, where and when as typed) only when they ticked
"You may pass my report on" (`consent_forward`); otherwise `words` is None and every reader
shows a redaction instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from tipline.intake.i18n import catalog
from tipline.intake.models import Priority, Tip

WITHHELD = "Withheld: the traveler did not consent to pass their own words on."


@dataclass(frozen=True)
class Stop:
    """A train's last or next scheduled stop."""

    code: str | None
    name: str | None
    at: datetime | None


@dataclass(frozen=True)
class Place:
    """Where the tip came from: the poster, the station or the train and its position."""

    kind: str  # station | train | unknown
    poster_code: str | None
    poster_spot: str | None
    station_code: str | None
    station_name: str | None
    state: str | None
    train_number: str | None
    route_name: str | None
    moving: bool
    last_stop: Stop | None
    next_stop: Stop | None


@dataclass(frozen=True)
class Words:
    """What the traveler wrote, shared only with their consent."""

    details: str
    descriptions: str | None
    when_text: str | None
    where_text: str | None
    car: str | None
    direction: str | None
    people_count: int | None


@dataclass(frozen=True)
class Shareable:
    """A tip as a partner agency may receive it."""

    id: int
    reference: str
    received_at: datetime
    status: str
    priority: str
    jurisdictions: list[str]
    place: Place
    happening_now: bool
    indicators: list[str]
    indicator_labels: list[str]
    words: Words | None

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values; times ISO 8601 with their offset."""
        return _jsonable(asdict(self))


def reference(tip_id: int) -> str:
    """The reference a partner quotes back: "TIP-000042"."""
    return f"TIP-{tip_id:06d}"


def shareable(tip: Tip) -> Shareable:
    """The partner's view of `tip`."""
    labels = catalog("en")
    return Shareable(
        id=tip.id,
        reference=reference(tip.id),
        received_at=tip.received_at,
        status=str(tip.status),
        priority=Priority(tip.priority).name.lower(),
        jurisdictions=tip.jurisdiction_codes(),
        place=_place(tip),
        happening_now=tip.happening_now,
        indicators=list(tip.indicators),
        indicator_labels=[labels.get(f"ind_{key}", key) for key in tip.indicators],
        words=_words(tip) if tip.consent_forward else None,
    )


def _stop(code: str | None, name: str | None, at: datetime | None) -> Stop | None:
    return Stop(code, name, at) if code or name else None


def _place(tip: Tip) -> Place:
    return Place(
        kind=str(tip.location_kind),
        poster_code=tip.placement_code,
        poster_spot=tip.spot,
        station_code=tip.station_code,
        station_name=tip.station_name,
        state=tip.state,
        train_number=tip.train_number,
        route_name=tip.route_name,
        moving=tip.train_moving,
        last_stop=_stop(tip.last_stop_code, tip.last_stop_name, tip.last_stop_time),
        next_stop=_stop(tip.next_stop_code, tip.next_stop_name, tip.next_stop_time),
    )


def _words(tip: Tip) -> Words:
    return Words(
        details=tip.details,
        descriptions=tip.descriptions,
        when_text=tip.when_text,
        where_text=tip.where_text,
        car=tip.car,
        direction=tip.direction,
        people_count=tip.people_count,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
