"""Writing and reading the append-only, hash-chained audit log."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app, has_app_context, has_request_context
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from tipline.accounts import chain
from tipline.accounts.models import AuditChain, AuditEvent, User
from tipline.config import get_settings
from tipline.db import begin_write

CLI_ACTOR = "cli"


class ChainHeadMissing(RuntimeError):
    """The audit_chain row is gone: the log was tampered with; `tipline audit verify` says how."""


def record(
    session: Session,
    *,
    action: str,
    actor: User | None,
    now: datetime,
    target: str | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
    key: str | None = None,
    system: str | None = None,
) -> AuditEvent:
    """Add one audit record, sealed onto the chain; never put tip text or a password in
    `detail`. `key` defaults to the app's AUDIT_KEY; `system` names the automated part acting
    when no person does (the alert dispatcher)."""
    if actor is not None:
        actor_email: str | None = actor.email
    elif system is not None:
        actor_email = system
    else:
        # No signed-in user: outside a request that is the operator at the command line; inside
        # one it is an anonymous visitor (a failed sign-in), left blank.
        actor_email = None if has_request_context() else CLI_ACTOR
    # Appending reads the head and then writes: on SQLite that needs the write lock first.
    begin_write(session)
    # The caller's own changes go first, so the head's row lock is the last lock taken and
    # held for the shortest time (PostgreSQL: no lock-order deadlock with tip or user rows).
    session.flush()
    head = session.execute(
        select(AuditChain.last_id, AuditChain.last_hash, AuditChain.key_id, AuditChain.records)
        .where(AuditChain.id == 1)
        .with_for_update()
    ).first()
    if head is None:
        raise ChainHeadMissing("audit_chain has no head row: run `tipline audit verify`")
    sealing_key = key if key is not None else _key(session)
    event = AuditEvent(
        id=head.last_id + 1,
        at=now,
        actor_id=actor.id if actor is not None else None,
        actor_email=actor_email,
        action=action,
        target=target,
        outcome=outcome,
        detail=chain.plain(detail),
        prev_hash=head.last_hash,
    )
    event.hash = chain.seal(sealing_key, head.last_hash, event)
    session.add(event)
    session.flush()
    session.execute(
        update(AuditChain)
        .where(AuditChain.id == 1)
        .values(
            last_id=event.id,
            last_hash=event.hash,
            records=head.records + 1,
            key_id=head.key_id or chain.key_id(sealing_key),
        )
    )
    return event


def _key(session: Session) -> str:
    """The app's AUDIT_KEY: from the current app, else from the session (see tipline.db)."""
    key = get_settings(current_app).audit_key if has_app_context() else None
    key = key or session.info.get("audit_key")
    if not key:
        raise RuntimeError("audit.record needs an app context, an app's session, or key=")
    return str(key)


def chain_head(session: Session) -> chain.Head | None:
    """The chain's head as stored (None when its row is gone)."""
    row = session.execute(
        select(AuditChain.last_id, AuditChain.last_hash, AuditChain.key_id, AuditChain.records)
    ).first()
    return chain.Head(row.last_id, row.last_hash, row.key_id, row.records) if row else None


def verify(session: Session, key: str, *, expect: tuple[int, str] | None = None) -> chain.Verdict:
    """Recompute the whole chain and compare it with the head (streams the log)."""
    records = session.scalars(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)
    )
    return chain.verify(key, chain_head(session), records, expect=expect)


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
        "hash": event.hash,
    }
