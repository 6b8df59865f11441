"""On-call channels: where each jurisdiction's urgent tips are announced."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline.accounts import audit
from tipline.locations.regions import UnknownJurisdiction, normalize
from tipline.triage.alerts.delivery import check_webhook_url
from tipline.triage.models import ChannelKind, OnCallChannel

_EMAIL = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")


class InvalidChannel(ValueError):
    """An on-call channel that cannot be used; the message says why."""


def set_channels(
    session: Session,
    *,
    jurisdiction: str,
    emails: Sequence[str],
    webhooks: Sequence[str],
    now: datetime,
) -> tuple[list[OnCallChannel], int]:
    """Make a jurisdiction's channels exactly these; unchanged ones keep their alert history
    (so no tip is announced twice). Returns the channels and how many were removed."""
    try:
        (code,) = normalize([jurisdiction])
    except UnknownJurisdiction as exc:
        raise InvalidChannel(str(exc)) from exc
    wanted: set[tuple[ChannelKind, str]] = set()
    for address in emails:
        if not _EMAIL.fullmatch(address.strip()):
            raise InvalidChannel(f"{address!r} is not an email address")
        wanted.add((ChannelKind.EMAIL, address.strip()))
    for url in webhooks:
        try:
            wanted.add((ChannelKind.WEBHOOK, check_webhook_url(url.strip())))
        except ValueError as exc:
            raise InvalidChannel(str(exc)) from exc
    current = session.scalars(select(OnCallChannel).where(OnCallChannel.jurisdiction == code)).all()
    removed = 0
    for channel in current:
        if (ChannelKind(channel.kind), channel.target) in wanted:
            wanted.discard((ChannelKind(channel.kind), channel.target))
        else:
            session.delete(channel)
            removed += 1
    for kind, target in sorted(wanted):
        session.add(OnCallChannel(jurisdiction=code, kind=kind, target=target, created_at=now))
    session.flush()
    channels = list_channels(session, jurisdiction=code)
    audit.record(
        session,
        action="oncall.set",
        actor=None,
        now=now,
        target=f"oncall:{code}",
        # Webhook URLs often carry a secret in their path: the audit log keeps only the host.
        detail={
            "emails": [c.target for c in channels if c.kind == ChannelKind.EMAIL],
            "webhooks": [
                urlsplit(c.target).hostname for c in channels if c.kind == ChannelKind.WEBHOOK
            ],
            "removed": removed,
        },
    )
    return channels, removed


def list_channels(session: Session, *, jurisdiction: str | None = None) -> list[OnCallChannel]:
    """Every on-call channel (or one jurisdiction's), by jurisdiction then kind."""
    query = select(OnCallChannel).order_by(
        OnCallChannel.jurisdiction, OnCallChannel.kind, OnCallChannel.target
    )
    if jurisdiction is not None:
        query = query.where(OnCallChannel.jurisdiction == jurisdiction)
    return list(session.scalars(query))
