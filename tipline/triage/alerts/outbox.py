"""The alert outbox: rows derived from the data, claimed atomically, their outcomes recorded.

Planning adds an Alert row for every urgent, unopened, recent tip and every on-call channel of
its jurisdictions that has none yet; claiming takes due rows with a conditional UPDATE so several
workers never send the same row; the outcome is recorded with a retry and backoff on failure.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, false, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tipline.db import UTCDateTime
from tipline.intake.models import Priority, Tip, TipJurisdiction
from tipline.locations.regions import NATIONAL
from tipline.triage.alerts.delivery import AlertSettings, Announcement
from tipline.triage.display import place_label, station_timezones
from tipline.triage.models import Alert, AlertStatus, ChannelKind, OnCallChannel


def plan(session: Session, *, now: datetime, window: timedelta) -> int:
    """Add a pending Alert for each (urgent unopened recent tip, its channel) lacking one."""
    channel_fits = or_(
        OnCallChannel.jurisdiction == NATIONAL,
        exists().where(
            TipJurisdiction.tip_id == Tip.id, TipJurisdiction.code == OnCallChannel.jurisdiction
        ),
    )
    missing = (
        select(
            Tip.id,
            OnCallChannel.id,
            literal(AlertStatus.PENDING.value),
            literal(0),
            literal(now, UTCDateTime()),
            literal(now, UTCDateTime()),
        )
        .join(OnCallChannel, channel_fits)
        .where(
            # A range of ix_tip_queue: open, urgent, recent.
            Tip.is_closed == false(),
            Tip.priority == Priority.URGENT,
            Tip.received_at >= now - window,
            Tip.opened_at.is_(None),
            ~exists().where(Alert.tip_id == Tip.id, Alert.channel_id == OnCallChannel.id),
        )
    )
    columns = ["tip_id", "channel_id", "status", "attempts", "created_at", "next_attempt_at"]
    # One statement that starts by writing: on SQLite a transaction that read first could not
    # write after another worker's commit. Two workers planning the same pair keep one row.
    insert = _dialect(session).insert(Alert).from_select(columns, missing)
    added = session.execute(
        insert.on_conflict_do_nothing(index_elements=["tip_id", "channel_id"]).returning(Alert.id)
    )
    return len(added.all())


def _dialect(session: Session) -> Any:
    return postgresql if session.get_bind().dialect.name == "postgresql" else sqlite


def _due(now: datetime) -> Any:
    """A row is due when pending and its time has come, or when its claim was abandoned."""
    unopened = select(Tip.id).where(Tip.id == Alert.tip_id, Tip.opened_at.is_(None)).exists()
    return and_(
        or_(
            and_(Alert.status == AlertStatus.PENDING, Alert.next_attempt_at <= now),
            and_(Alert.status == AlertStatus.SENDING, Alert.claimed_until < now),
        ),
        unopened,
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
    zones = station_timezones(session, {tip.next_stop_code})
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
    cancelled if someone opened the tip meanwhile). One UPDATE, for SQLite's sake."""
    values: dict[str, Any] = {"claimed_until": None}
    if error is None:
        status: Any = AlertStatus.SENT
        values.update(sent_at=now, last_error=None)
    elif attempt >= settings.max_attempts:
        status = AlertStatus.FAILED
        values.update(last_error=error[:500])
    else:
        delay = min(settings.retry_seconds * 2 ** (attempt - 1), settings.retry_max_seconds)
        opened = select(Tip.id).where(Tip.id == Alert.tip_id, Tip.opened_at.is_not(None))
        status = case(
            (opened.exists(), AlertStatus.CANCELLED.value), else_=AlertStatus.PENDING.value
        )
        values.update(last_error=error[:500], next_attempt_at=now + timedelta(seconds=delay))
    stored = session.execute(
        update(Alert)
        .where(Alert.id == alert_id)
        .values(status=status, **values)
        .returning(Alert.status)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    return AlertStatus(stored)
