"""On-call channels: where each jurisdiction's urgent tips are announced, and in which tier.

A primary channel hears a jurisdiction's urgent tips at once; a secondary one hears them when
nobody has acknowledged one in time. `set` makes a jurisdiction's channels exactly the ones
given, `add` and `remove` change only the ones named. A removed channel is kept (marked removed)
so tips keep the history of where they were announced, and adding it back announces nothing
twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tipline.accounts import audit
from tipline.locations.regions import UnknownJurisdiction, normalize
from tipline.triage.alerts.delivery import EMAIL, check_webhook_url, webhook_host
from tipline.triage.alerts.outbox import CHANNEL_REMOVED
from tipline.triage.models import Alert, AlertStatus, ChannelKind, ChannelTier, OnCallChannel

_Key = tuple[ChannelKind, str]


class InvalidChannel(ValueError):
    """An on-call channel that cannot be used or changed; the message says why."""


@dataclass
class ChannelChange:
    """What a change did to one jurisdiction's channels."""

    jurisdiction: str
    channels: list[OnCallChannel] = field(default_factory=list)  # its channels afterwards
    added: int = 0
    removed: int = 0
    moved: int = 0  # changed tier

    def summary(self) -> str:
        """One line: "NY: 2 channel(s); 1 added, 0 removed, 0 moved"."""
        return (
            f"{self.jurisdiction}: {len(self.channels)} channel(s); {self.added} added, "
            f"{self.removed} removed, {self.moved} changed tier"
        )


def set_channels(
    session: Session,
    *,
    jurisdiction: str,
    emails: Sequence[str],
    webhooks: Sequence[str],
    secondary_emails: Sequence[str] = (),
    secondary_webhooks: Sequence[str] = (),
    now: datetime,
) -> ChannelChange:
    """Make a jurisdiction's channels exactly these (none given: it has none); unchanged ones
    keep their alert history, so no tip is announced twice."""
    code = _jurisdiction(jurisdiction)
    wanted = _wanted(emails, webhooks, ChannelTier.PRIMARY)
    for key, tier in _wanted(secondary_emails, secondary_webhooks, ChannelTier.SECONDARY).items():
        if key in wanted:
            raise InvalidChannel(f"{key[1]} is given both as primary and as secondary")
        wanted[key] = tier
    change = ChannelChange(code)
    for channel in _rows(session, code):
        key = (ChannelKind(channel.kind), channel.target)
        if key in wanted:
            _keep(channel, wanted.pop(key), change)
        elif channel.removed_at is None:
            _remove(session, channel, now)
            change.removed += 1
    _add_new(session, code, wanted, now, change)
    return _done(session, change, action="oncall.set", now=now)


def add_channels(
    session: Session,
    *,
    jurisdiction: str,
    emails: Sequence[str],
    webhooks: Sequence[str],
    tier: ChannelTier = ChannelTier.PRIMARY,
    now: datetime,
) -> ChannelChange:
    """Add these channels to a jurisdiction's, keeping the others (one already there takes
    `tier`)."""
    code = _jurisdiction(jurisdiction)
    wanted = _wanted(emails, webhooks, tier)
    if not wanted:
        raise InvalidChannel("name at least one --email or --webhook to add")
    change = ChannelChange(code)
    for channel in _rows(session, code):
        key = (ChannelKind(channel.kind), channel.target)
        if key in wanted:
            _keep(channel, wanted.pop(key), change)
    _add_new(session, code, wanted, now, change)
    return _done(session, change, action="oncall.add", now=now)


def remove_channels(
    session: Session,
    *,
    jurisdiction: str,
    emails: Sequence[str],
    webhooks: Sequence[str],
    now: datetime,
) -> ChannelChange:
    """Remove these channels from a jurisdiction's; any alert still waiting on them is called
    off. Nothing changes if one of them is not a channel of the jurisdiction."""
    code = _jurisdiction(jurisdiction)
    named = _wanted(emails, webhooks, ChannelTier.PRIMARY)
    if not named:
        raise InvalidChannel("name at least one --email or --webhook to remove")
    active = {
        (ChannelKind(c.kind), c.target): c for c in _rows(session, code) if c.removed_at is None
    }
    unknown = [target for kind, target in named if (kind, target) not in active]
    if unknown:
        raise InvalidChannel(f"{code} has no channel {', '.join(unknown)}: nothing was removed")
    change = ChannelChange(code)
    for key in named:
        _remove(session, active[key], now)
        change.removed += 1
    return _done(session, change, action="oncall.remove", now=now)


def list_channels(
    session: Session, *, jurisdiction: str | None = None, removed: bool = False
) -> list[OnCallChannel]:
    """Every on-call channel in use (or one jurisdiction's), by jurisdiction, tier and kind;
    `removed` adds the removed ones."""
    query = select(OnCallChannel).order_by(
        OnCallChannel.jurisdiction, OnCallChannel.tier, OnCallChannel.kind, OnCallChannel.target
    )
    if jurisdiction is not None:
        query = query.where(OnCallChannel.jurisdiction == jurisdiction)
    if not removed:
        query = query.where(OnCallChannel.removed_at.is_(None))
    return list(session.scalars(query))


# --- internals -------------------------------------------------------------------------------


def _jurisdiction(jurisdiction: str) -> str:
    try:
        (code,) = normalize([jurisdiction])
    except UnknownJurisdiction as exc:
        raise InvalidChannel(str(exc)) from exc
    return code


def _wanted(
    emails: Sequence[str], webhooks: Sequence[str], tier: ChannelTier
) -> dict[_Key, ChannelTier]:
    """The channels named, checked: addresses that look like addresses, https webhooks."""
    wanted: dict[_Key, ChannelTier] = {}
    for address in emails:
        address = address.strip()
        if not EMAIL.fullmatch(address):
            raise InvalidChannel(f"{address!r} is not an email address")
        wanted[(ChannelKind.EMAIL, address)] = tier
    for url in webhooks:
        try:
            wanted[(ChannelKind.WEBHOOK, check_webhook_url(url.strip()))] = tier
        except ValueError as exc:
            raise InvalidChannel(str(exc)) from exc
    return wanted


def _rows(session: Session, code: str) -> list[OnCallChannel]:
    """The jurisdiction's channel rows, removed ones included."""
    return list(session.scalars(select(OnCallChannel).where(OnCallChannel.jurisdiction == code)))


def _keep(channel: OnCallChannel, tier: ChannelTier, change: ChannelChange) -> None:
    """A named channel that has a row: back in use if removed, in the tier asked for."""
    if channel.removed_at is not None:
        channel.removed_at = None
        change.added += 1
    elif channel.tier != tier:
        change.moved += 1
    channel.tier = tier


def _add_new(
    session: Session,
    code: str,
    wanted: dict[_Key, ChannelTier],
    now: datetime,
    change: ChannelChange,
) -> None:
    for (kind, target), tier in sorted(wanted.items()):
        session.add(
            OnCallChannel(jurisdiction=code, kind=kind, target=target, tier=tier, created_at=now)
        )
        change.added += 1


def _remove(session: Session, channel: OnCallChannel, now: datetime) -> None:
    channel.removed_at = now
    session.execute(
        update(Alert)
        .where(
            Alert.channel_id == channel.id,
            Alert.status.in_([AlertStatus.PENDING.value, AlertStatus.SENDING.value]),
        )
        .values(status=AlertStatus.CANCELLED, cancelled_reason=CHANNEL_REMOVED)
        .execution_options(synchronize_session=False)
    )


def _done(session: Session, change: ChannelChange, *, action: str, now: datetime) -> ChannelChange:
    """Flush, list the result and audit it (webhooks by host only: paths often hold secrets)."""
    session.flush()
    change.channels = list_channels(session, jurisdiction=change.jurisdiction)
    audit.record(
        session,
        action=action,
        actor=None,
        now=now,
        target=f"oncall:{change.jurisdiction}",
        detail={
            "channels": [
                {
                    "kind": str(c.kind),
                    "tier": str(c.tier),
                    "to": c.target if c.kind == ChannelKind.EMAIL else webhook_host(c.target),
                }
                for c in change.channels
            ],
            "added": change.added,
            "removed": change.removed,
            "moved": change.moved,
        },
    )
    return change
