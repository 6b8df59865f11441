"""The staff export: the filtered queue as plain records (CSV or JSON), audited in one place
so every way out records the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, selectinload

from tipline.accounts import audit
from tipline.accounts.models import User
from tipline.intake.models import Tip
from tipline.intake.services import EXPORT_FIELDS, tip_record
from tipline.triage.queue import _TIP_KEYS, ALL, QueueFilter, _filtered, _order, count_filtered

EXPORT_COLUMNS = (
    *EXPORT_FIELDS,
    "assignee",
    "priority_overridden",
    "acknowledged_at",
    "referred_to",
    "referral_ref",
    "closed_at",
    "resolution",
    "duplicate_of",
)


def export_records(session: Session, user: User, f: QueueFilter) -> Iterator[dict[str, Any]]:
    """Every tip of the filtered queue as plain data, in queue order, streamed in batches."""
    query = (
        _filtered(user, f)
        .options(selectinload(Tip.jurisdictions))
        .order_by(*_order(_TIP_KEYS, QueueFilter(status=ALL)))
        .execution_options(yield_per=500)
    )
    emails: dict[int, str] = {}
    for tip in session.scalars(query):
        if tip.assignee_id is not None and tip.assignee_id not in emails:
            emails[tip.assignee_id] = session.get_one(User, tip.assignee_id).email
        yield {
            **tip_record(tip),
            "assignee": emails.get(tip.assignee_id) if tip.assignee_id else None,
            "priority_overridden": tip.priority_overridden,
            "acknowledged_at": _iso(tip.acknowledged_at),
            "referred_to": tip.referred_to,
            "referral_ref": tip.referral_ref,
            "closed_at": _iso(tip.closed_at),
            "resolution": tip.resolution,
            "duplicate_of": tip.duplicate_of_id,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def start_export(
    session: Session, *, user: User, f: QueueFilter, fmt: str, now: datetime
) -> Iterator[dict[str, Any]]:
    """Audit the export (who, which filters, how many), then stream its records."""
    total = count_filtered(session, user, f)  # a read: audit.record takes the write lock
    audit.record(
        session,
        action="tip.export",
        actor=user,
        now=now,
        detail={"format": fmt, "filters": f.params(), "count": total},
    )
    return export_records(session, user, f)
