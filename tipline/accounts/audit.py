"""Writing and reading the append-only audit log."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import has_request_context
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tipline.accounts.models import AuditEvent, User

CLI_ACTOR = "cli"


def record(
    session: Session,
    *,
    action: str,
    actor: User | None,
    now: datetime,
    target: str | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
    system: str | None = None,
) -> AuditEvent:
    """Add one audit record; never put tip text or a password in `detail`. `system` names the
    automated part acting when no person does (the alert dispatcher)."""
    if actor is not None:
        actor_email: str | None = actor.email
    elif system is not None:
        actor_email = system
    else:
        # No signed-in user: outside a request that is the operator at the command line; inside
        # one it is an anonymous visitor (a failed sign-in), left blank.
        actor_email = None if has_request_context() else CLI_ACTOR
    event = AuditEvent(
        at=now,
        actor_id=actor.id if actor is not None else None,
        actor_email=actor_email,
        action=action,
        target=target,
        outcome=outcome,
        detail=dict(detail or {}),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class AuditFilter:
    """What an admin narrowed the audit log to; empty fields match everything."""

    actor: str | None = None  # part of an email ("cli" for the command line)
    action: str | None = None  # exact, or a prefix ending in "." ("signin.")
    target: str | None = None  # exact ("tip:42")
    outcome: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _filtered(query: Select[Any], f: AuditFilter) -> Select[Any]:
    if f.actor:
        needle = f.actor.strip().lower()
        query = query.where(func.lower(AuditEvent.actor_email).contains(needle, autoescape=True))
    if f.action:
        action = f.action.strip()
        if action.endswith("."):
            query = query.where(AuditEvent.action.startswith(action, autoescape=True))
        else:
            query = query.where(AuditEvent.action == action)
    if f.target:
        query = query.where(AuditEvent.target == f.target.strip())
    if f.outcome:
        query = query.where(AuditEvent.outcome == f.outcome.strip())
    if f.since is not None:
        query = query.where(AuditEvent.at >= f.since)
    if f.until is not None:
        query = query.where(AuditEvent.at < f.until)
    return query


def search(
    session: Session, f: AuditFilter, *, offset: int = 0, limit: int | None = None
) -> tuple[Sequence[AuditEvent], int]:
    """Matching records newest first, and how many match in all."""
    total = session.scalar(_filtered(select(func.count(AuditEvent.id)), f)) or 0
    query = _filtered(select(AuditEvent), f).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if limit is not None:
        query = query.offset(offset).limit(limit)
    return session.scalars(query).all(), total


def oldest_first(session: Session, f: AuditFilter) -> Iterator[AuditEvent]:
    """Matching records oldest first, streamed in batches (the log can be large)."""
    query = _filtered(select(AuditEvent), f).order_by(AuditEvent.at, AuditEvent.id)
    yield from session.scalars(query.execution_options(yield_per=1000))


def as_row(event: AuditEvent) -> dict[str, Any]:
    """One record as plain data, for export."""
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor_email,
        "actor_id": event.actor_id,
        "action": event.action,
        "target": event.target,
        "outcome": event.outcome,
        "detail": event.detail,
    }
