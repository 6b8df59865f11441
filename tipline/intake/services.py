"""Storing a traveler's tip: where it came from, who should see it, how urgent it is."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from tipline.config import Settings
from tipline.intake.lookup import Poster
from tipline.intake.models import (
    Indicator,
    LocationKind,
    Priority,
    Tip,
    TipJurisdiction,
)
from tipline.locations.codes import ALPHABET
from tipline.locations.models import Placement, Train
from tipline.locations.regions import NATIONAL
from tipline.locations.schedule import describe
from tipline.locations.whereabouts import Whereabouts, whereabouts
from tipline.locations.whereabouts import last_station_choices as choices_for
from tipline.sealing import get_keyring

MAX_DETAILS = 4000
MAX_PEOPLE = 200
# Longest accepted value of each free-text answer (the columns' sizes; details by the product).
TEXT_LIMITS = {
    "typed_place": 300,
    "when_text": 200,
    "where_text": 300,
    "car": 32,
    "direction": 200,
    "descriptions": 2000,
    "details": MAX_DETAILS,
    "contact": 300,
}
RECEIPT_GROUPS = 4
RECEIPT_GROUP_SIZE = 4


class InvalidAnswers(ValueError):
    """The answers break a rule the form should already have enforced."""


@dataclass(frozen=True)
class TipAnswers:
    """What the traveler told us, already parsed from the form."""

    indicators: tuple[Indicator, ...] = ()
    happening_now: bool = False
    when_text: str | None = None
    where_text: str | None = None
    car: str | None = None
    direction: str | None = None
    people_count: int | None = None
    descriptions: str | None = None
    details: str = ""
    contact: str | None = None
    consent_forward: bool = False
    typed_place: str | None = None  # unknown or missing code: where the traveler says they are
    typed_code: str | None = None  # unknown code: what the URL carried (a fake sticker's trace)
    lang: str = "en"
    # A train poster: the station code the traveler says the train last left (optional).
    last_station: str | None = None


@dataclass(frozen=True)
class Receipt:
    """What the traveler is shown after sending: the receipt code (stored only as a hash)."""

    code: str
    tip_id: int
    # False when this token's tip was already stored (a resent form); not part of equality.
    new: bool = field(default=True, compare=False)


def receipt_code(secret: str, token: str) -> str:
    """The receipt for a submission token: HMAC(secret, token) as 4 groups of 4 Crockford
    symbols, so a retried POST whose first answer was lost shows the same code."""
    digest = hmac.new(secret.encode(), b"receipt:" + token.encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:10], "big")  # 80 bits = 16 symbols of 5 bits
    symbols = "".join(ALPHABET[(number >> (5 * i)) & 31] for i in range(15, -1, -1))
    return "-".join(
        symbols[i : i + RECEIPT_GROUP_SIZE]
        for i in range(0, RECEIPT_GROUPS * RECEIPT_GROUP_SIZE, RECEIPT_GROUP_SIZE)
    )


def receipt_hash(code: str) -> str:
    """What is stored of a receipt code: a keyed hash (the keyring's look-up key, never in the
    database) of the SHA-256 of its symbols, dashes and case ignored. Without the key a stolen
    database cannot test guesses offline."""
    plain = hashlib.sha256(code.replace("-", "").replace(" ", "").upper().encode()).hexdigest()
    return get_keyring().lookup_hash(plain)


def _token_key(token: str) -> str:
    # Stored hashed: with the database and the secret key, a plain token would give back
    # every receipt code (HMAC(secret, token)); its hash does not.
    return hashlib.sha256(token.encode()).hexdigest()


def priority_of(answers: TipAnswers, *, moving: bool) -> Priority:
    """The intake priority (staff may override it):

    - URGENT: happening now, or a minor appears to be involved in commercial sex;
    - HIGH: any indicator on a train that is moving (minutes matter to meet it), or 3 or more
      indicators;
    - NORMAL: any indicator, or anything written in details or descriptions;
    - LOW: nothing but a place or contact.
    """
    if answers.happening_now or Indicator.MINOR_COMMERCIAL_SEX in answers.indicators:
        return Priority.URGENT
    if (moving and answers.indicators) or len(set(answers.indicators)) >= 3:
        return Priority.HIGH
    if answers.indicators or answers.details.strip() or (answers.descriptions or "").strip():
        return Priority.NORMAL
    return Priority.LOW


def check_answers(answers: TipAnswers) -> None:
    """Enforce the limits on answers; raise InvalidAnswers naming the first one broken."""
    for name, limit in TEXT_LIMITS.items():
        value = getattr(answers, name)
        if value is not None and len(value) > limit:
            raise InvalidAnswers(f"{name} longer than {limit} characters")
    if answers.people_count is not None and not 1 <= answers.people_count <= MAX_PEOPLE:
        raise InvalidAnswers(f"people_count outside 1..{MAX_PEOPLE}")
    for indicator in answers.indicators:
        Indicator(indicator)


@dataclass(frozen=True)
class Location:
    """Where a tip comes from at the moment it is sent: snapshot columns, routing, motion."""

    columns: dict[str, Any]
    jurisdictions: tuple[str, ...]
    moving: bool = False


def locate(
    session: Session,
    placement: Placement | Poster | None,
    now: datetime,
    *,
    last_station: str | None = None,
    realtime_max_age: float | None = None,
) -> Location:
    """Where a poster is at `now` (its station, or every run of its train numbers under way
    with their last and next stops, and the traveler's answer to "which station did the train
    last leave?") and the jurisdictions a tip from there is routed to; reads only for a train.
    Realtime delays count when younger than `realtime_max_age` seconds."""
    if placement is None:
        return Location({"location_kind": LocationKind.UNKNOWN}, (NATIONAL,))
    poster = Poster.of(placement) if isinstance(placement, Placement) else placement
    columns: dict[str, Any] = {
        "placement_id": poster.id,
        "placement_code": poster.code,
        "spot": poster.spot,
    }
    if poster.train_id is None:
        columns.update(
            location_kind=LocationKind.STATION,
            station_code=poster.station_code,
            station_name=poster.station_name,
            state=poster.station_state,
        )
        return Location(columns, (poster.station_state or NATIONAL,))
    columns.update(
        location_kind=LocationKind.TRAIN,
        train_number=poster.train_number,
        route_name=poster.route_name,
    )
    ids = poster.train_ids or (poster.train_id,)
    found = {t.id: t for t in session.scalars(select(Train).where(Train.id.in_(ids)))}
    trains = [found[i] for i in ids if i in found]
    where = whereabouts(
        session, trains, now, answer=last_station, realtime_max_age=realtime_max_age
    )
    columns.update(_whereabouts_columns(where))
    return Location(columns, tuple(where.jurisdictions() or [NATIONAL]), moving=where.moving)


# Table-level statements, built once: values travel as parameters, so each insert skips the
# ORM's per-value coercion and reuses one compiled statement. ON CONFLICT DO NOTHING (the same
# token twice: a double tap raced in two workers) returns no row instead of failing, so no
# savepoint is needed around it: two fewer statements while SQLite's write lock is held.
_TIP = cast(Table, Tip.__table__)
_INSERT_TIP = {
    name: dialect.insert(_TIP).on_conflict_do_nothing().returning(_TIP.c.id)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
_INSERT_JURISDICTION = insert(cast(Table, TipJurisdiction.__table__))


class TipNotStored(RuntimeError):
    """The insert met a stored tip that is not this submission's (a receipt collision)."""


def submit_tip(
    session: Session,
    *,
    placement: Placement | Poster | None,
    answers: TipAnswers,
    token: str,
    now: datetime,
    secret: str,
    location: Location | None = None,
    in_burst: bool = False,
) -> Receipt:
    """Store a tip with its location snapshot, routing and priority; the same token twice
    stores one tip and returns the same receipt. Pass `location` (from `locate`, read in an
    earlier transaction) to make this transaction start with its write; `in_burst` when it came
    while its poster was over its burst threshold."""
    check_answers(answers)
    if location is None:
        location = locate(session, placement, now, last_station=answers.last_station)
    code = receipt_code(secret, token)
    values = {
        **location.columns,
        **_answer_columns(answers),
        "received_at": now,
        "submission_token": _token_key(token),
        "receipt_hash": receipt_hash(code),
        "lang": answers.lang,
        "priority": priority_of(answers, moving=location.moving),
        "typed_place": answers.typed_place,
        "in_burst": in_burst,
    }
    if location.columns["location_kind"] == LocationKind.UNKNOWN and answers.typed_code:
        values["placement_code"] = answers.typed_code[:16]
    # On SQLite a transaction that read first cannot take the write lock once another worker
    # has committed (SQLITE_BUSY_SNAPSHOT), whereas one that starts by writing waits for it:
    # with `location` given, this insert is the transaction's first statement. Two plain
    # INSERTs (no unit of work) keep the lock, held until commit, as short as can be.
    connection = session.connection()
    tip_id = connection.execute(_INSERT_TIP[connection.dialect.name], values).scalar_one_or_none()
    if tip_id is None:
        # Another request with this token (a double tap) stored the tip: same receipt.
        existing = session.scalar(
            select(Tip.id).where(Tip.submission_token == values["submission_token"])
        )
        if existing is None:
            raise TipNotStored("a unique value of this tip belongs to another tip")
        return Receipt(code=code, tip_id=existing, new=False)
    connection.execute(
        _INSERT_JURISDICTION, [{"tip_id": tip_id, "code": c} for c in location.jurisdictions]
    )
    return Receipt(code=code, tip_id=tip_id)


def stored_receipt(session: Session, *, token: str, secret: str) -> Receipt | None:
    """The receipt of the tip already stored under this form token, if there is one."""
    tip_id = session.scalar(select(Tip.id).where(Tip.submission_token == _token_key(token)))
    return None if tip_id is None else Receipt(code=receipt_code(secret, token), tip_id=tip_id)


@dataclass(frozen=True)
class Burst:
    """Tips a poster took while over its burst threshold: how many, first and last."""

    count: int
    first: datetime
    last: datetime


def bursts(session: Session, placement_ids: Iterable[int], *, since: datetime) -> dict[int, Burst]:
    """Burst-flagged tips per placement received at or after `since` (placements with none
    are left out)."""
    ids = list(placement_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Tip.placement_id, func.count(), func.min(Tip.received_at), func.max(Tip.received_at))
        .where(Tip.placement_id.in_(ids), Tip.received_at >= since, Tip.in_burst)
        .group_by(Tip.placement_id)
    )
    return {pid: Burst(count, first, last) for pid, count, first, last in rows if pid is not None}


def _answer_columns(answers: TipAnswers) -> dict[str, Any]:
    return {
        "indicators": sorted({str(i) for i in answers.indicators}),
        "happening_now": answers.happening_now,
        "when_text": answers.when_text,
        "where_text": answers.where_text,
        "car": answers.car,
        "direction": answers.direction,
        "people_count": answers.people_count,
        "descriptions": answers.descriptions,
        "details": answers.details,
        "contact": answers.contact,
        "consent_forward": answers.consent_forward,
    }


def last_station_choices(
    session: Session, poster: Poster | None, now: datetime, settings: Settings
) -> list[tuple[str, str]]:
    """For a train poster's form: the stations the traveler may say the train last left,
    nearest first ((code, name) pairs); nothing for any other poster."""
    if poster is None or poster.train_id is None:
        return []
    ids = poster.train_ids or (poster.train_id,)
    trains = list(session.scalars(select(Train).where(Train.id.in_(ids))))
    trains.sort(key=lambda t: ids.index(t.id))
    return choices_for(session, trains, now, realtime_max_age=settings.realtime_fresh_seconds)


def _whereabouts_columns(where: Whereabouts) -> dict[str, Any]:
    """The snapshot of a train tip: every candidate run, the traveler's answer, and the last
    and next stops of the run they single out (if any)."""
    columns: dict[str, Any] = {
        "train_runs": [run.as_dict() for run in where.runs],
        "train_moving": where.moving,
    }
    if where.answer is not None:
        columns.update(
            traveler_last_stop_code=where.answer.code,
            traveler_last_stop_name=where.answer.name,
        )
    if where.run is not None:
        columns.update(
            trip_id=where.run.trip_id,
            service_date=where.run.service_date,
            route_name=where.run.route_name,
        )
    for prefix, call in (("last", where.last), ("next", where.next)):
        if call is not None:
            columns.update(
                {
                    f"{prefix}_stop_code": call.station_code,
                    f"{prefix}_stop_name": call.station_name,
                    f"{prefix}_stop_time": call.time,
                }
            )
    return columns


EXPORT_FIELDS = (
    "id",
    "received_at",
    "status",
    "priority",
    "jurisdictions",
    "lang",
    "location_kind",
    "placement_code",
    "spot",
    "typed_place",
    "station_code",
    "station_name",
    "state",
    "train_number",
    "route_name",
    "trip_id",
    "service_date",
    "last_stop_code",
    "last_stop_name",
    "last_stop_time",
    "next_stop_code",
    "next_stop_name",
    "next_stop_time",
    "train_moving",
    "train_runs",
    "traveler_last_stop_code",
    "traveler_last_stop_name",
    "indicators",
    "happening_now",
    "when_text",
    "where_text",
    "car",
    "direction",
    "people_count",
    "descriptions",
    "details",
    "contact",
    "consent_forward",
    "in_burst",
)


def tip_record(tip: Tip) -> dict[str, Any]:
    """A stored tip as plain data for export (keys in EXPORT_FIELDS order): snapshot, answers
    and handling, never the receipt hash or the submission token."""
    computed: dict[str, Any] = {
        "status": str(tip.status),
        "priority": Priority(tip.priority).name.lower(),
        "jurisdictions": tip.jurisdiction_codes(),
        "location_kind": str(tip.location_kind),
        "indicators": list(tip.indicators),
        "train_runs": [describe(run) for run in tip.train_runs or []],
    }
    record = {}
    for name in EXPORT_FIELDS:
        value = computed[name] if name in computed else getattr(tip, name)
        record[name] = value.isoformat() if isinstance(value, datetime | date) else value
    return record


def tips_since(session: Session, since: datetime | None) -> list[Tip]:
    """Stored tips received at or after `since` (all when None), oldest first."""
    query = select(Tip).options(selectinload(Tip.jurisdictions)).order_by(Tip.received_at, Tip.id)
    if since is not None:
        query = query.where(Tip.received_at >= since)
    return list(session.scalars(query))
