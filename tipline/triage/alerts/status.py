"""Alert state as the desk reads it: a tip's alerts, failures for the queue's banner, the admin's
list of what is waiting or failed. Read only; who may see a row is `can_see` on its tip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tipline.accounts.access import can_see
from tipline.accounts.models import User
from tipline.intake.models import Tip, TipJurisdiction, TipStatus
from tipline.locations.regions import NATIONAL
from tipline.triage.alerts.channels import list_channels
from tipline.triage.alerts.outbox import channel_label
from tipline.triage.display import station_timezones, zone_codes, zone_of
from tipline.triage.models import Alert, AlertStatus, ChannelTier, OnCallChannel

WAITING = (AlertStatus.PENDING, AlertStatus.SENDING)


@dataclass(frozen=True)
class AlertLine:
    """One alert in words, for a page."""

    id: int
    tip_id: int
    step: int
    status: AlertStatus
    attempts: int
    channel: str  # "email to desk@example.gov", "webhook to hooks.example.org"
    jurisdiction: str
    tier: str
    channel_removed: bool
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    cancelled_reason: str | None
    tip_unacknowledged: bool
    tip_jurisdictions: tuple[str, ...] = ()
    tip_zone: str | None = None  # the tip's local time zone, for showing its times

    @property
    def state(self) -> str:
        """What a person reads: "sending" counts as pending (it is on its way)."""
        return "pending" if self.status == AlertStatus.SENDING else str(self.status)

    @property
    def step_label(self) -> str:
        """ "first alert" or "escalation 2"."""
        return "first alert" if self.step == 0 else f"escalation {self.step}"


_Row = Select[Alert, OnCallChannel, Tip]


def _query() -> _Row:
    return (
        select(Alert, OnCallChannel, Tip)
        .join(OnCallChannel, OnCallChannel.id == Alert.channel_id)
        .join(Tip, Tip.id == Alert.tip_id)
    )


def _lines(session: Session, rows: Sequence[Any]) -> list[AlertLine]:
    tip_ids = {alert.tip_id for alert, _channel, _tip in rows}
    zones = station_timezones(session, set().union(*(zone_codes(tip) for *_, tip in rows)))
    codes: dict[int, list[str]] = {}
    if tip_ids:
        for tip_id, code in session.execute(
            select(TipJurisdiction.tip_id, TipJurisdiction.code)
            .where(TipJurisdiction.tip_id.in_(tip_ids))
            .order_by(TipJurisdiction.code)
        ):
            codes.setdefault(tip_id, []).append(code)
    return [
        AlertLine(
            id=alert.id,
            tip_id=alert.tip_id,
            step=alert.step,
            status=AlertStatus(alert.status),
            attempts=alert.attempts,
            channel=channel_label(channel),
            jurisdiction=channel.jurisdiction,
            tier=str(channel.tier),
            channel_removed=channel.removed_at is not None,
            created_at=alert.created_at,
            next_attempt_at=alert.next_attempt_at,
            sent_at=alert.sent_at,
            last_error=alert.last_error,
            cancelled_reason=alert.cancelled_reason,
            tip_unacknowledged=tip.status == TipStatus.NEW,
            tip_jurisdictions=tuple(codes.get(alert.tip_id, ())),
            tip_zone=zone_of(tip, zones),
        )
        for alert, channel, tip in rows
    ]


def alerts_of_tip(session: Session, tip_id: int) -> list[AlertLine]:
    """Every alert of one tip, in the order they were planned (the caller checked access)."""
    rows = session.execute(_query().where(Alert.tip_id == tip_id).order_by(Alert.id)).all()
    return _lines(session, rows)


def _visible(session: Session, user: User, rows: Sequence[Any]) -> list[AlertLine]:
    return [line for line in _lines(session, rows) if can_see(user, line.tip_jurisdictions)]


def _for_user(query: _Row, user: User) -> _Row:
    """Narrow to the user's jurisdictions in SQL first (can_see decides in the end)."""
    if user.is_national:
        return query
    mine = select(TipJurisdiction.tip_id).where(
        TipJurisdiction.code.in_(sorted(user.jurisdiction_codes()))
    )
    return query.where(Alert.tip_id.in_(mine))


def failed_recently(
    session: Session, user: User, *, now: datetime, within: timedelta, limit: int = 20
) -> list[AlertLine]:
    """Alerts that gave up within `within`, on tips `user` may see: the queue's banner."""
    recent = (Alert.status == AlertStatus.FAILED, Alert.created_at >= now - within)
    # Every queue page and refresh asks; almost always nothing failed. One small lookup on
    # ix_alert_status_next_attempt_at settles that before the three-table read.
    if session.scalar(select(Alert.id).where(*recent).limit(1)) is None:
        return []
    query = _for_user(_query().where(*recent), user)
    rows = session.execute(query.order_by(Alert.id.desc()).limit(limit)).all()
    return _visible(session, user, rows)


def waiting_and_failed(
    session: Session, user: User, *, limit: int = 200
) -> tuple[list[AlertLine], list[AlertLine]]:
    """(waiting, failed) alerts on tips `user` may see, newest first: the admin's page."""
    waiting = _for_user(_query().where(Alert.status.in_([s.value for s in WAITING])), user)
    failed = _for_user(_query().where(Alert.status == AlertStatus.FAILED), user)
    newest = (Alert.id.desc(),)
    return (
        _visible(session, user, session.execute(waiting.order_by(*newest).limit(limit)).all()),
        _visible(session, user, session.execute(failed.order_by(*newest).limit(limit)).all()),
    )


def channels_for(session: Session, user: User) -> tuple[list[OnCallChannel], list[str]]:
    """The on-call channels of `user`'s jurisdictions (every one for national), and those of
    their jurisdictions that have no primary channel (their urgent tips go to national's)."""
    channels = list_channels(session)
    covered = {c.jurisdiction for c in channels if c.tier == ChannelTier.PRIMARY}
    if user.is_national:
        return channels, [] if NATIONAL in covered else [NATIONAL]
    mine = user.jurisdiction_codes()
    return [c for c in channels if c.jurisdiction in mine], sorted(mine - covered)
