"""Reading the queue: what a staff member may see, filtered, ordered and paged by an index."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    cast,
    distinct,
    exists,
    false,
    func,
    select,
    true,
    tuple_,
)
from sqlalchemy.orm import Session

from tipline.accounts.models import User
from tipline.intake.models import Priority, Tip, TipJurisdiction, TipStatus
from tipline.locations.regions import NATIONAL
from tipline.triage.display import station_timezones, zone_codes
from tipline.triage.models import QueueEntry

OPEN_STATUSES = (
    TipStatus.NEW,
    TipStatus.ACKNOWLEDGED,
    TipStatus.INVESTIGATING,
    TipStatus.REFERRED,
)
# The status filter's choices beyond single statuses.
OPEN, ALL = "open", "all"
PAGE_SIZE = 50
RELATED_WINDOW = timedelta(hours=2)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class QueueFilter:
    """What a staff member narrowed the queue to; empty fields match everything."""

    status: str = OPEN  # "open", "all", or one TipStatus value
    priority: int | None = None
    jurisdiction: str | None = None
    station: str | None = None  # a station code
    train: str | None = None  # a train number
    placement: str | None = None  # a placement code
    since: date | None = None  # received on or after this UTC day
    until: date | None = None  # received on or before this UTC day
    indicator: str | None = None
    mine: bool = False
    text: str | None = None  # searched in the traveler's free text

    def params(self) -> dict[str, str]:
        """The non-empty filters as URL query parameters (also what the audit log keeps)."""
        out: dict[str, str] = {}
        for key, value in asdict(self).items():
            if value is None or value is False or value == "":
                continue
            if key == "status" and value == OPEN:
                continue
            out[key] = "1" if value is True else str(value)
        return out

    @property
    def is_default(self) -> bool:
        """True when nothing narrows the queue: the view that auto-refreshes."""
        return not self.params()


@dataclass(frozen=True)
class Cursor:
    """The sort key of the last row shown; the next page starts after it."""

    is_closed: bool
    priority: int
    received_at: datetime
    tip_id: int

    def encode(self) -> str:
        """A compact URL-safe token."""
        # Whole microseconds, computed exactly (a float timestamp could be off by one).
        micros = (self.received_at - _EPOCH) // timedelta(microseconds=1)
        return f"{int(self.is_closed)}.{self.priority}.{micros}.{self.tip_id}"

    @classmethod
    def decode(cls, token: str | None) -> Cursor | None:
        """The cursor in `token`, or None for a missing or malformed one (the first page)."""
        try:
            closed, priority, micros, tip_id = (int(p) for p in (token or "").split("."))
            received = _EPOCH + timedelta(microseconds=micros)
        except (ValueError, OverflowError):
            return None
        if closed not in (0, 1) or not 1 <= priority <= 4 or not 0 <= tip_id < 2**63:
            return None
        return cls(bool(closed), priority, received, tip_id)

    @classmethod
    def after(cls, tip: Tip | QueueTip) -> Cursor:
        """The cursor just past `tip`."""
        return cls(tip.is_closed, int(tip.priority), tip.received_at, tip.id)


@dataclass
class QueuePage:
    """One page of the queue, with what the rows need to display."""

    tips: list[QueueTip]
    next_cursor: str | None
    assignees: dict[int, str] = field(default_factory=dict)  # user id -> email
    jurisdictions: dict[int, list[str]] = field(default_factory=dict)  # tip id -> codes
    timezones: dict[str, str] = field(default_factory=dict)  # station code -> tz name


# What a queue row shows (and the sort key), read as bare columns: the page builds no ORM object
# per row. The traveler's words are sealed (tipline.sealing), and every sealed value read is one
# decryption; of them the queue shows only typed_place, and only for a tip with no station or
# train (`_typed_places`).
ROW_COLUMNS: tuple[Any, ...] = (
    Tip.id,
    Tip.received_at,
    Tip.is_closed,
    Tip.priority,
    Tip.status,
    Tip.state,
    Tip.station_code,
    Tip.station_name,
    Tip.train_number,
    Tip.last_stop_code,
    Tip.next_stop_code,
    Tip.next_stop_name,
    Tip.next_stop_time,
    Tip.in_burst,
    Tip.indicators,
    Tip.assignee_id,
)


@dataclass
class QueueTip:
    """One tip as its queue row shows it (ROW_COLUMNS, and typed_place where shown)."""

    id: int
    received_at: datetime
    is_closed: bool
    priority: int
    status: str
    state: str | None
    station_code: str | None
    station_name: str | None
    train_number: str | None
    last_stop_code: str | None
    next_stop_code: str | None
    next_stop_name: str | None
    next_stop_time: datetime | None
    in_burst: bool
    indicators: list[str]
    assignee_id: int | None
    typed_place: str | None = None


def visible(user: User) -> ColumnElement[bool]:
    """The SQL condition for tips `user` may see: one of their jurisdictions, or national."""
    return visible_in(user.jurisdiction_codes())


def visible_in(codes: Iterable[str]) -> ColumnElement[bool]:
    """The SQL condition for tips routed to one of `codes` ("national" among them: every tip)."""
    wanted = sorted(set(codes))
    if NATIONAL in wanted:
        return true()
    return exists().where(TipJurisdiction.tip_id == Tip.id, TipJurisdiction.code.in_(wanted))


@dataclass(frozen=True)
class _Keys:
    """The columns one walk of the queue filters and orders on: Tip's own, or a QueueEntry's."""

    is_closed: Any
    priority: Any
    received_at: Any
    tip_id: Any
    status: Any


_TIP_KEYS = _Keys(Tip.is_closed, Tip.priority, Tip.received_at, Tip.id, Tip.status)
_ENTRY_KEYS = _Keys(
    QueueEntry.is_closed,
    QueueEntry.priority,
    QueueEntry.received_at,
    QueueEntry.tip_id,
    QueueEntry.status,
)


def walked_codes(user: User, f: QueueFilter) -> list[str] | None:
    """The jurisdictions whose queues are walked, or None for the whole table (national)."""
    if f.jurisdiction:
        allowed = user.is_national or f.jurisdiction in user.jurisdiction_codes()
        return [f.jurisdiction] if allowed else []
    if user.is_national:
        return None
    return sorted(user.jurisdiction_codes())


def _order(keys: _Keys, f: QueueFilter) -> tuple[Any, ...]:
    """Sort columns: open first, priority, oldest; a single status makes the first constant."""
    if f.status in (OPEN, ALL):
        return (keys.is_closed, keys.priority, keys.received_at, keys.tip_id)
    return (keys.priority, keys.received_at, keys.tip_id)


def _narrowed(query: Select[Any], keys: _Keys, user: User, f: QueueFilter) -> Select[Any]:
    """Apply the filters (all but jurisdiction, which picks the walk) to a query over Tip."""
    # On a jurisdiction's walk the status and priority are tested on the queue entry (its
    # index); with a station filter, again on the tip, so that when the planner starts from
    # ix_tip_station_queue instead it narrows as much. (Not otherwise: PostgreSQL would then
    # misjudge the walk's yield and sort the whole jurisdiction instead of reading 51 rows.)
    for k in {keys, _TIP_KEYS} if f.station else {keys}:
        if f.status == OPEN:
            query = query.where(k.is_closed == false())
        elif f.status == ALL:
            # Always true, but it lets an index (.., is_closed, priority, ..) serve a priority
            # filter: the planner walks both values of is_closed in order instead of sorting.
            query = query.where(k.is_closed.in_([False, True]))
        else:
            query = query.where(k.status == f.status)
        if f.priority is not None:
            query = query.where(k.priority == f.priority)
    if f.station:
        query = query.where(Tip.station_code == f.station)
    if f.train:
        query = query.where(Tip.train_number == f.train)
    if f.placement:
        query = query.where(Tip.placement_code == f.placement)
    if f.since is not None:
        query = query.where(keys.received_at >= _day_start(f.since))
    if f.until is not None:
        query = query.where(keys.received_at < _day_start(f.until + timedelta(days=1)))
    if f.indicator:
        # Indicator keys are plain slugs, so their quoted form in the stored JSON list is exact.
        query = query.where(
            cast(Tip.indicators, String).contains(f'"{f.indicator}"', autoescape=True)
        )
    if f.mine:
        query = query.where(Tip.assignee_id == user.id)
    if f.text:
        query = query.where(Tip.id.in_(tips_with_text(f.text)))
    return query


def tips_with_text(text: str) -> list[int]:
    """Ids of tips whose details contain `text` (any case). Details are sealed at rest
    (tipline.sealing), so SQL cannot search them: each is opened and searched here, one pass
    over every tip's details per search."""
    from tipline.db import db

    wanted = text.casefold()
    rows = db.session.execute(select(Tip.id, Tip.details))
    return [tip_id for tip_id, details in rows if wanted in (details or "").casefold()]


def _rows() -> Select[Any]:
    """A SELECT of the queue row's columns."""
    return select(*ROW_COLUMNS)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


def queue_queries(
    user: User, f: QueueFilter, *, after: Cursor | None = None, limit: int = PAGE_SIZE
) -> list[Select[Any]]:
    """The SELECTs behind one queue page: one per walked jurisdiction, or one over every tip."""
    codes = walked_codes(user, f)
    walks: list[tuple[_Keys, Select[Any]]] = []
    if codes is None:
        walks.append((_TIP_KEYS, _rows()))
    for code in codes or ():
        # Each jurisdiction's queue is one range of ix_queue_entry_order (or _status): the
        # page costs the rows shown, however many tips the table holds.
        walks.append(
            (
                _ENTRY_KEYS,
                _rows()
                .join(QueueEntry, QueueEntry.tip_id == Tip.id)
                .where(QueueEntry.code == code),
            )
        )
    queries = []
    for keys, query in walks:
        order = _order(keys, f)
        query = _narrowed(query, keys, user, f)
        if after is not None:
            mark = (after.is_closed, after.priority, after.received_at, after.tip_id)
            query = query.where(tuple_(*order) > tuple_(*mark[len(mark) - len(order) :]))
        queries.append(query.order_by(*order).limit(limit))
    return queries


def queue_page(
    session: Session,
    user: User,
    f: QueueFilter,
    *,
    after: str | None = None,
    per_page: int = PAGE_SIZE,
) -> QueuePage:
    """One page of the tips `user` may see, open urgent first, then priority, then oldest."""
    found: dict[int, QueueTip] = {}
    for query in queue_queries(user, f, after=Cursor.decode(after), limit=per_page + 1):
        for row in session.execute(query):
            found[row.id] = QueueTip(**row._mapping)
    # Each walk returned its own first rows; their merge holds the page's first rows, since a
    # tip in the page is within the first per_page + 1 of every jurisdiction it belongs to.
    tips = sorted(found.values(), key=_sort_key)[: per_page + 1]
    more = len(tips) > per_page
    tips = tips[:per_page]
    page = QueuePage(tips=tips, next_cursor=Cursor.after(tips[-1]).encode() if more else None)
    ids = [t.id for t in tips]
    if not ids:
        return page
    for tip_id, code in session.execute(
        select(TipJurisdiction.tip_id, TipJurisdiction.code)
        .where(TipJurisdiction.tip_id.in_(ids))
        .order_by(TipJurisdiction.code)
    ):
        page.jurisdictions.setdefault(tip_id, []).append(code)
    assignee_ids = {t.assignee_id for t in tips if t.assignee_id is not None}
    if assignee_ids:
        page.assignees = {
            user_id: email
            for user_id, email in session.execute(
                select(User.id, User.email).where(User.id.in_(assignee_ids))
            )
        }
    page.timezones = station_timezones(session, set().union(*(zone_codes(t) for t in tips)))
    _typed_places(session, tips)
    return page


def _typed_places(session: Session, tips: list[QueueTip]) -> None:
    """Open typed_place for the tips whose row shows it (no station, no train), in one query."""
    unplaced = {t.id: t for t in tips if not (t.station_code or t.station_name or t.train_number)}
    if unplaced:
        for tip_id, typed in session.execute(
            select(Tip.id, Tip.typed_place).where(Tip.id.in_(unplaced))
        ):
            unplaced[tip_id].typed_place = typed


def _sort_key(tip: QueueTip) -> tuple[bool, int, datetime, int]:
    return (tip.is_closed, int(tip.priority), tip.received_at, tip.id)


def status_counts(session: Session, user: User) -> dict[str, int]:
    """How many open tips `user` may see, per status."""
    codes = walked_codes(user, QueueFilter())
    rows: Sequence[Any]
    if codes is None:
        rows = session.execute(
            select(Tip.status, func.count())
            .where(Tip.status.in_(OPEN_STATUSES))
            .group_by(Tip.status)
        ).all()
    else:
        # A covering range of ix_queue_entry_status per jurisdiction; a tip routed to two of
        # the user's jurisdictions counts once.
        counted = func.count(distinct(QueueEntry.tip_id)) if len(codes) > 1 else func.count()
        rows = session.execute(
            select(QueueEntry.status, counted)
            .where(QueueEntry.code.in_(codes), QueueEntry.status.in_(OPEN_STATUSES))
            .group_by(QueueEntry.status)
        ).all()
    counts = {s.value: 0 for s in OPEN_STATUSES}
    counts.update({str(status): int(n) for status, n in rows})
    return counts


def _filtered(user: User, f: QueueFilter) -> Select[Any]:
    """Every tip of the filtered queue as one query (exports: no page, no index walk)."""
    query = select(Tip)
    codes = walked_codes(user, f)
    if codes is not None:
        # The same jurisdictions the queue walks: the user's, or the one asked for if theirs.
        query = query.where(
            exists().where(TipJurisdiction.tip_id == Tip.id, TipJurisdiction.code.in_(codes))
        )
    return _narrowed(query, _TIP_KEYS, user, f)


# The export: the intake's record of what the traveler sent and where, then the handling.
def count_filtered(session: Session, user: User, f: QueueFilter) -> int:
    """How many tips the filtered queue holds in all."""
    query = select(func.count()).select_from(_filtered(user, f).subquery())
    return session.scalar(query) or 0


def related_tips(session: Session, user: User, tip: Tip, *, limit: int = 20) -> Sequence[Tip]:
    """Visible tips from the same placement, station or train within ±2 h of `tip`."""
    same: list[ColumnElement[bool]] = []
    if tip.placement_id is not None:
        same.append(Tip.placement_id == tip.placement_id)
    if tip.station_code:
        same.append(Tip.station_code == tip.station_code)
    if tip.train_number:
        same.append(Tip.train_number == tip.train_number)
    if not same:
        return []
    start, end = tip.received_at - RELATED_WINDOW, tip.received_at + RELATED_WINDOW
    found: dict[int, Tip] = {}
    # One query per key, so each uses its (key, received_at) index instead of an OR scan.
    for condition in same:
        query = (
            select(Tip)
            .where(condition, Tip.received_at.between(start, end), Tip.id != tip.id, visible(user))
            .order_by(Tip.received_at)
            .limit(limit)
        )
        for other in session.scalars(query):
            found[other.id] = other
    return sorted(found.values(), key=lambda t: t.received_at)[:limit]


def urgent_unacknowledged(session: Session, user: User, *, limit: int = 50) -> list[int]:
    """Ids of the open urgent tips nobody has acknowledged that `user` may see, newest first
    (what the open queue page watches for)."""
    codes = walked_codes(user, QueueFilter())
    if codes is None:
        query = (
            select(Tip.id)
            .where(Tip.status == TipStatus.NEW, Tip.priority == Priority.URGENT)
            .order_by(Tip.received_at.desc(), Tip.id.desc())
            .limit(limit)
        )
        return list(session.scalars(query))
    # One range of ix_queue_entry_status per jurisdiction (instead of every urgent new tip in
    # the country, each checked for a jurisdiction); a tip routed to two of them counts once.
    rows = session.execute(
        select(QueueEntry.tip_id, QueueEntry.received_at)
        .where(
            QueueEntry.code.in_(codes),
            QueueEntry.status == TipStatus.NEW,
            QueueEntry.priority == Priority.URGENT,
        )
        .distinct()
        .order_by(QueueEntry.received_at.desc(), QueueEntry.tip_id.desc())
        .limit(limit)
    )
    return [tip_id for tip_id, _received in rows]


# The export moved to its own module; these names stay importable from here.
from tipline.triage.export import EXPORT_COLUMNS, export_records  # noqa: E402, F401
