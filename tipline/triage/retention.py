"""Retention: closed tips past their time are deleted with their timeline and alerts; audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, true
from sqlalchemy.orm import Session

from tipline.accounts import audit
from tipline.intake.models import Tip
from tipline.triage.models import Alert, EventKind, TipEvent


@dataclass(frozen=True)
class PurgeReport:
    """What a purge removed (or, in a dry run, would remove)."""

    cutoff: datetime
    tips: int
    events: int
    notes: int
    alerts: int
    dry_run: bool


def purge_closed(
    session: Session, *, older_than: timedelta, now: datetime, dry_run: bool = False
) -> PurgeReport:
    """Delete tips closed before now - older_than, with their timeline and alerts; audited."""
    cutoff = now - older_than
    doomed = select(Tip.id).where(Tip.is_closed == true(), Tip.closed_at < cutoff)
    ids = list(session.scalars(doomed))
    events = notes = alerts = 0
    for chunk in _chunks(ids):
        events += _count(session, TipEvent, TipEvent.tip_id.in_(chunk))
        notes += _count(
            session, TipEvent, TipEvent.tip_id.in_(chunk), TipEvent.kind == EventKind.NOTE
        )
        alerts += _count(session, Alert, Alert.tip_id.in_(chunk))
    report = PurgeReport(cutoff, len(ids), events, notes, alerts, dry_run)
    if dry_run:
        return report
    for chunk in _chunks(ids):
        # The database cascades to jurisdictions, queue entries, events and alerts, and clears
        # duplicate_of on tips that pointed here.
        session.execute(
            delete(Tip).where(Tip.id.in_(chunk)), execution_options={"synchronize_session": False}
        )
    session.expire_all()
    audit.record(
        session,
        action="tips.purge",
        actor=None,
        now=now,
        detail={
            "older_than_days": older_than.days,
            "cutoff": cutoff.isoformat(),
            "tips": report.tips,
            "events": report.events,
            "notes": report.notes,
            "alerts": report.alerts,
        },
    )
    return report


def _count(session: Session, model: type[Any], *conditions: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
