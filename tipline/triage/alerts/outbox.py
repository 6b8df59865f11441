"""The alert outbox: rows derived from the data, claimed atomically, their outcomes recorded.

A tip is *alarmed* while it is open, urgent and not yet acknowledged. Planning adds a pending
Alert row for each alarmed tip and each channel that should hear it at its current escalation
step: step 0 at once, step n once the tip has gone unacknowledged for n escalation intervals
(bounded). Claiming takes due rows with a conditional UPDATE so several workers never send the
same row; the outcome is recorded with a retry and backoff on failure. Acting on the tip
(`silence`) calls off whatever still waits; viewing it does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Exists,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from tipline.accounts import audit
from tipline.db import UTCDateTime
from tipline.intake.models import Priority, Tip, TipJurisdiction, TipStatus
from tipline.locations.regions import NATIONAL
from tipline.triage.alerts.delivery import AlertSettings, Announcement, webhook_host
from tipline.triage.display import place_label, station_timezones, zone_codes, zone_of
from tipline.triage.models import (
    Alert,
    AlertEscalation,
    AlertStatus,
    ChannelKind,
    ChannelTier,
    EventKind,
    OnCallChannel,
    TipEvent,
)

# Who the audit log and the timeline name when the dispatcher, not a person, acted.
DISPATCHER = "alert dispatcher"
SUPERSEDED = "replaced by a later announcement"
ACTED_ON = "the tip was acted on"
CHANNEL_REMOVED = "the channel was removed"


@dataclass
class Planned:
    """What one planning step added."""

    alerts: int = 0
    escalated: list[tuple[int, int]] = field(default_factory=list)  # (tip id, step)


def alarmed() -> ColumnElement[bool]:
    """The SQL condition on Tip for "still needs someone": open, urgent, not acknowledged."""
    return and_(
        Tip.is_closed == false(), Tip.priority == Priority.URGENT, Tip.status == TipStatus.NEW
    )


def _at_step(step: int, now: datetime, settings: AlertSettings) -> ColumnElement[bool]:
    """Tips whose escalation step is exactly `step` now (a range of ix_tip_queue)."""
    recent = Tip.received_at >= now - settings.window
    every = settings.escalate_every
    if every is None:
        return recent
    conditions = [recent, Tip.received_at <= now - every * step]
    if step < settings.escalation_steps:
        conditions.append(Tip.received_at > now - every * (step + 1))
    return and_(*conditions)


def _recipients(step: int) -> ColumnElement[bool]:
    """Which channels hear a tip at `step` (an ON condition over Tip and OnCallChannel).

    Step 0: the primary channels of the tip's jurisdictions (national's primary ones when none
    of its jurisdictions has one, so an urgent tip always reaches someone). Step 1: all of its
    jurisdictions' channels, secondary ones included, and national's primary. Later: national's
    secondary too.
    """
    channel = OnCallChannel
    of_tip = exists().where(
        TipJurisdiction.tip_id == Tip.id, TipJurisdiction.code == channel.jurisdiction
    )
    primary = channel.tier == ChannelTier.PRIMARY
    national = channel.jurisdiction == NATIONAL
    if step == 0:
        other = aliased(OnCallChannel)
        covered = (
            select(other.id)
            .join(TipJurisdiction, TipJurisdiction.code == other.jurisdiction)
            .where(
                TipJurisdiction.tip_id == Tip.id,
                other.tier == ChannelTier.PRIMARY,
                other.removed_at.is_(None),
            )
            .exists()
        )
        return and_(primary, or_(of_tip, and_(national, ~covered)))
    if step == 1:
        return or_(of_tip, and_(national, primary))
    return or_(of_tip, national)


def _dialect(session: Session) -> Any:
    return postgresql if session.get_bind().dialect.name == "postgresql" else sqlite


def _steps(settings: AlertSettings) -> range:
    return range((settings.escalation_steps if settings.escalate_every is not None else 0) + 1)


def _missing(
    step: int, now: datetime, settings: AlertSettings
) -> Select[int, int, int, str, int, datetime, datetime]:
    """The alert rows owed at `step` that do not exist yet, as values to insert."""
    return (
        select(
            Tip.id,
            OnCallChannel.id,
            literal(step),
            literal(AlertStatus.PENDING.value),
            literal(0),
            literal(now, UTCDateTime()),
            literal(now, UTCDateTime()),
        )
        .join(OnCallChannel, and_(OnCallChannel.removed_at.is_(None), _recipients(step)))
        .where(
            alarmed(),
            _at_step(step, now, settings),
            ~exists().where(
                Alert.tip_id == Tip.id,
                Alert.channel_id == OnCallChannel.id,
                Alert.step == step,
            ),
        )
    )


def _reached(step: int, now: datetime, settings: AlertSettings) -> Select[int, int, datetime]:
    """Tips at escalation `step` whose escalation is not recorded yet."""
    recorded = exists().where(AlertEscalation.tip_id == Tip.id, AlertEscalation.step == step)
    return select(Tip.id, literal(step), literal(now, UTCDateTime())).where(
        alarmed(), _at_step(step, now, settings), ~recorded
    )


def needs_planning(session: Session, *, now: datetime, settings: AlertSettings) -> bool:
    """Whether `plan` would write anything, found by reading only.

    On SQLite a write transaction, even one that changes nothing, makes a request that read
    first and writes next fail with "database is locked" rather than wait: an idle dispatcher
    must not take the write lock every pass.
    """
    for step in _steps(settings):
        if session.execute(_missing(step, now, settings).limit(1)).first() is not None:
            return True
        if step and session.execute(_reached(step, now, settings).limit(1)).first() is not None:
            return True
    return session.execute(select(Alert.id).where(_settled(now)).limit(1)).first() is not None


def has_due(session: Session, *, now: datetime) -> bool:
    """Whether `claim` would find a row, found by reading only (see `needs_planning`)."""
    return session.execute(select(Alert.id).where(_due(now)).limit(1)).first() is not None


def plan(session: Session, *, now: datetime, settings: AlertSettings) -> Planned:
    """Add the pending alerts each alarmed tip is owed at its current step; put each new
    escalation on the tip's timeline and in the audit log (once, whichever worker gets there)."""
    done = Planned()
    insert = _dialect(session).insert
    columns = ["tip_id", "channel_id", "step", "status", "attempts", "created_at"]
    columns.append("next_attempt_at")
    for step in _steps(settings):
        # Each statement starts by writing: on SQLite a transaction that read first could not
        # write after another worker's commit. Two workers planning the same row keep one.
        added = session.execute(
            insert(Alert)
            .from_select(columns, _missing(step, now, settings))
            .on_conflict_do_nothing(index_elements=["tip_id", "channel_id", "step"])
            .returning(Alert.id)
        )
        done.alerts += len(added.all())
        if step == 0:
            continue
        new = session.execute(
            insert(AlertEscalation)
            .from_select(["tip_id", "step", "at"], _reached(step, now, settings))
            .on_conflict_do_nothing(index_elements=["tip_id", "step"])
            .returning(AlertEscalation.tip_id)
        )
        done.escalated.extend((tip_id, step) for tip_id in new.scalars())
    for tip_id, step in done.escalated:
        _record_escalation(session, tip_id, step, now=now, settings=settings)
    _sweep(session, now=now)
    return done


def _record_escalation(
    session: Session, tip_id: int, step: int, *, now: datetime, settings: AlertSettings
) -> None:
    """The timeline entry and audit record of one escalation step."""
    heard = session.execute(
        select(OnCallChannel.jurisdiction, func.count())
        .join(Alert, Alert.channel_id == OnCallChannel.id)
        .where(Alert.tip_id == tip_id, Alert.step == step)
        .group_by(OnCallChannel.jurisdiction)
        .order_by(OnCallChannel.jurisdiction)
    ).all()
    every = settings.escalate_every or timedelta(0)
    waited = _minutes(every * step)
    if heard:
        where = ", ".join(f"{code} ({n})" for code, n in heard)
        reason = f"Not acknowledged after {waited}: announced again to {where}."
    else:
        reason = f"Not acknowledged after {waited}, and no on-call channel to announce it to."
    session.add(
        TipEvent(tip_id=tip_id, kind=EventKind.ESCALATED, actor_id=None, at=now, reason=reason)
    )
    audit.record(
        session,
        action="tip.escalated",
        actor=None,
        system=DISPATCHER,
        now=now,
        target=f"tip:{tip_id}",
        detail={
            "step": step,
            "after_minutes": round(every.total_seconds() * step / 60, 2),
            "channels": {code: n for code, n in heard},
        },
    )


def _minutes(span: timedelta) -> str:
    seconds = span.total_seconds()
    if seconds < 60:
        return f"{seconds:g} s"
    return f"{seconds / 60:g} min"


def _settled(now: datetime) -> ColumnElement[bool]:
    """Rows nobody should send any more, so nothing waits or stays "sending" forever: older
    steps a later announcement replaced, tips acted on, channels removed."""
    later = aliased(Alert)
    waiting = or_(
        Alert.status == AlertStatus.PENDING,
        and_(Alert.status == AlertStatus.SENDING, Alert.claimed_until < now),
    )
    replaced = exists().where(
        later.tip_id == Alert.tip_id, later.channel_id == Alert.channel_id, later.step > Alert.step
    )
    return and_(waiting, or_(replaced, ~_still(), _removed().exists()))


def _still() -> Exists:
    """The alert's tip still needs someone (correlated to the Alert row)."""
    return select(Tip.id).where(Tip.id == Alert.tip_id, alarmed()).exists()


def _removed() -> Select[int]:
    return select(OnCallChannel.id).where(
        OnCallChannel.id == Alert.channel_id, OnCallChannel.removed_at.is_not(None)
    )


def _sweep(session: Session, *, now: datetime) -> None:
    """Cancel the settled rows (see `_settled`), saying why."""
    reason = case(
        (_removed().exists(), CHANNEL_REMOVED), (~_still(), ACTED_ON), else_=literal(SUPERSEDED)
    )
    session.execute(
        update(Alert)
        .where(_settled(now))
        .values(status=AlertStatus.CANCELLED, cancelled_reason=reason, claimed_until=None)
        .execution_options(synchronize_session=False)
    )


def _due(now: datetime) -> ColumnElement[bool]:
    """A row is due when pending and its time has come, or when its claim was abandoned; and
    only while its tip still needs someone and its channel still exists."""
    still = _still()
    active = (
        select(OnCallChannel.id)
        .where(OnCallChannel.id == Alert.channel_id, OnCallChannel.removed_at.is_(None))
        .exists()
    )
    return and_(
        or_(
            and_(Alert.status == AlertStatus.PENDING, Alert.next_attempt_at <= now),
            and_(Alert.status == AlertStatus.SENDING, Alert.claimed_until < now),
        ),
        still,
        active,
    )


def claim(
    session: Session, *, now: datetime, lease: timedelta, limit: int = 20
) -> list[tuple[int, int]]:
    """Take up to `limit` due alerts for this worker: (alert id, attempt number) pairs."""
    due = (
        select(Alert.id)
        .where(_due(now))
        .order_by(Alert.next_attempt_at)
        .limit(limit)
        # PostgreSQL: rows another worker is claiming are skipped, not waited for.
        .with_for_update(skip_locked=True)
    )
    # The outer condition is checked again on each row as it is written, so of two workers
    # racing for a row exactly one changes it; RETURNING says which rows are this worker's.
    claimed = session.execute(
        update(Alert)
        .where(Alert.id.in_(due), _due(now))
        .values(status=AlertStatus.SENDING, claimed_until=now + lease, attempts=Alert.attempts + 1)
        .returning(Alert.id, Alert.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted((alert_id, attempts) for alert_id, attempts in claimed)


def announcement(session: Session, alert_id: int, public_url: str) -> Announcement:
    """What a claimed alert will say."""
    alert = session.get_one(Alert, alert_id)
    tip = session.get_one(Tip, alert.tip_id)
    zones = station_timezones(session, zone_codes(tip))
    return Announcement(
        alert_id=alert.id,
        tip_id=tip.id,
        priority=Priority(tip.priority).name.lower(),
        place=place_label(tip, zones, typed=False),
        jurisdictions=tuple(tip.jurisdiction_codes()),
        channel_jurisdiction=alert.channel.jurisdiction,
        received_at=tip.received_at,
        url=f"{public_url}/staff/tips/{tip.id}",
        kind=ChannelKind(alert.channel.kind),
        target=alert.channel.target,
        step=alert.step,
        timezone=zone_of(tip, zones),
    )


def record_outcome(
    session: Session,
    alert_id: int,
    *,
    attempt: int,
    error: str | None,
    now: datetime,
    settings: AlertSettings,
) -> AlertStatus:
    """Mark a claimed alert sent, or schedule its retry with backoff (failed after the last;
    cancelled if someone acted on the tip meanwhile). One UPDATE, for SQLite's sake."""
    values: dict[str, Any] = {"claimed_until": None}
    if error is None:
        status: Any = AlertStatus.SENT
        values.update(sent_at=now, last_error=None)
    else:
        final = attempt >= settings.max_attempts
        still = _still()
        status = case(
            (still, (AlertStatus.FAILED if final else AlertStatus.PENDING).value),
            else_=AlertStatus.CANCELLED.value,
        )
        values.update(
            last_error=error[:500],
            cancelled_reason=case((still, None), else_=literal(ACTED_ON)),
        )
        if not final:
            delay = min(settings.retry_seconds * 2 ** (attempt - 1), settings.retry_max_seconds)
            values.update(next_attempt_at=now + timedelta(seconds=delay))
    stored, tip_id = session.execute(
        update(Alert)
        .where(Alert.id == alert_id)
        .values(status=status, **values)
        .returning(Alert.status, Alert.tip_id)
        .execution_options(synchronize_session=False)
    ).one()
    outcome = AlertStatus(stored)
    if outcome == AlertStatus.FAILED:
        _record_failure(session, alert_id, tip_id, attempt=attempt, error=error or "", now=now)
    return outcome


def _record_failure(
    session: Session, alert_id: int, tip_id: int, *, attempt: int, error: str, now: datetime
) -> None:
    """An alert that will never go out is on the tip's timeline (and in the queue's banner)."""
    channel = session.scalars(
        select(OnCallChannel)
        .join(Alert, Alert.channel_id == OnCallChannel.id)
        .where(Alert.id == alert_id)
    ).one()
    reason = (
        f"The alert by {channel_label(channel)} ({channel.jurisdiction}) failed after "
        f"{attempt} attempts: {error}"
    )
    session.add(
        TipEvent(
            tip_id=tip_id, kind=EventKind.ALERT_FAILED, actor_id=None, at=now, reason=reason[:500]
        )
    )


def channel_label(channel: OnCallChannel) -> str:
    """A channel in words, without a webhook's path (it often carries the receiver's secret)."""
    if channel.kind == ChannelKind.EMAIL:
        return f"email to {channel.target}"
    return f"webhook to {webhook_host(channel.target)}"


def silence(session: Session, *, tip_id: int, reason: str) -> int:
    """Call off the tip's alerts that have not gone out (someone acted on it); how many.

    A row being sent right now is marked too; its sender then records what really happened.
    """
    result = session.execute(
        update(Alert)
        .where(
            Alert.tip_id == tip_id,
            Alert.status.in_([AlertStatus.PENDING.value, AlertStatus.SENDING.value]),
        )
        .values(status=AlertStatus.CANCELLED, cancelled_reason=reason[:200])
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
