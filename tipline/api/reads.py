"""What the partner API reads: tips within a token's jurisdictions, each read audited."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tipline.accounts.audit import record
from tipline.api.models import ApiToken
from tipline.handoff.shareable import Shareable, shareable
from tipline.intake.models import Priority, Tip, TipStatus
from tipline.triage.queue import visible_in

MAX_LIMIT = 200
MAX_ID = 2**31 - 1


class BadQuery(ValueError):
    """A query parameter the API does not understand; the message names it."""


class NotFound(LookupError):
    """No such tip within the token's jurisdictions."""


@dataclass(frozen=True)
class TipQuery:
    """The list's filters and position."""

    after_id: int = 0
    since: datetime | None = None
    status: TipStatus | None = None
    priority: Priority | None = None
    limit: int = 50


def encode_cursor(tip_id: int) -> str:
    """An opaque cursor: the list continues after this tip."""
    return base64.urlsafe_b64encode(f"after:{tip_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The tip id a cursor continues after; BadQuery when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        tip_id = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadQuery("cursor: not a cursor this API gave out") from None
    if kind != "after" or not 0 <= tip_id <= MAX_ID:
        raise BadQuery("cursor: not a cursor this API gave out")
    return tip_id


def _audit(
    session: Session, token: ApiToken, action: str, target: str, now: datetime, **detail: Any
) -> None:
    """One audit record of a read by `token` (the actor is the token, named "api:<name>")."""
    record(
        session,
        action=action,
        actor=None,
        system=f"api:{token.name}",
        now=now,
        target=target,
        outcome="denied" if action == "access.denied" else "ok",
        detail=detail,
    )


def list_tips(
    session: Session, *, token: ApiToken, query: TipQuery, now: datetime
) -> tuple[list[Shareable], str | None]:
    """One page of the token's tips, oldest first, and the cursor of the next page (or None)."""
    statement = (
        select(Tip)
        .where(visible_in(token.jurisdictions), Tip.id > query.after_id)
        .options(selectinload(Tip.jurisdictions))
        .order_by(Tip.id)
        .limit(query.limit + 1)
    )
    if query.since is not None:
        statement = statement.where(Tip.received_at >= query.since)
    if query.status is not None:
        statement = statement.where(Tip.status == query.status)
    if query.priority is not None:
        statement = statement.where(Tip.priority == int(query.priority))
    tips = list(session.scalars(statement))
    more = len(tips) > query.limit
    tips = tips[: query.limit]
    _audit(
        session,
        token,
        "api.tips.list",
        f"api_token:{token.id}",
        now,
        count=len(tips),
        tips=[t.id for t in tips],
    )
    return [shareable(t) for t in tips], encode_cursor(tips[-1].id) if more else None


def get_tip(session: Session, *, token: ApiToken, tip_id: int, now: datetime) -> Shareable:
    """One tip of the token's jurisdictions; NotFound otherwise (a hidden one is audited)."""
    tip = None
    if 0 < tip_id <= MAX_ID:
        tip = session.scalar(select(Tip).where(Tip.id == tip_id, visible_in(token.jurisdictions)))
    if tip is None:
        exists = 0 < tip_id <= MAX_ID and session.get(Tip, tip_id) is not None
        if exists:
            _audit(session, token, "access.denied", f"tip:{tip_id}", now, via="api")
        raise NotFound(f"no tip {tip_id} in this token's jurisdictions")
    _audit(session, token, "api.tip.view", f"tip:{tip.id}", now)
    return shareable(tip)
