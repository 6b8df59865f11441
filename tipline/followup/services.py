"""The follow-up's rules: finding a tip by its receipt code, what the traveler is told, adding
information and replying. Text and photos are sealed by their column types."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tipline.accounts import audit
from tipline.accounts.models import User
from tipline.followup.models import Author, TipMessage, TipPhoto
from tipline.intake.models import Tip, TipStatus
from tipline.intake.photos import Photo
from tipline.intake.services import RECEIPT_GROUP_SIZE, RECEIPT_GROUPS, receipt_hash
from tipline.triage.models import EventKind, TipEvent
from tipline.triage.services import NotAllowed, _check_actor

MAX_MESSAGE = 4000
CODE_LENGTH = RECEIPT_GROUPS * RECEIPT_GROUP_SIZE
# Crockford's base 32 reads O as 0 and I, L as 1: a code copied by hand still matches.
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def normalize_code(typed: str) -> str | None:
    """The 16 symbols of a typed receipt code, or None when it cannot be one."""
    # NFKC first: a Chinese or Japanese input method types full-width letters and digits (F7).
    symbols = re.sub(r"[^0-9A-Za-z]", "", unicodedata.normalize("NFKC", typed))
    symbols = symbols.upper().translate(_ALIASES)
    if len(symbols) != CODE_LENGTH or not re.fullmatch(r"[0-9A-HJKMNP-TV-Z]+", symbols):
        return None
    return symbols


def find_by_receipt(session: Session, typed: str) -> Tip | None:
    """The tip whose receipt code this is (None for anything else)."""
    symbols = normalize_code(typed)
    if symbols is None:
        return None
    return session.scalar(select(Tip).where(Tip.receipt_hash == receipt_hash(symbols)))


def traveler_status(tip: Tip) -> str:
    """What the traveler is told, as a catalog key: received, being looked at, or closed."""
    status = TipStatus(tip.status)
    # Opened by staff counts as looked at: a reply or a read is someone working on it.
    if status == TipStatus.NEW and tip.opened_at is None:
        return "fu_status_received"
    if status == TipStatus.CLOSED:
        return "fu_status_closed"
    return "fu_status_looking"


@dataclass(frozen=True)
class PhotoRef:
    """A stored photo's id and size (its bytes stay in the database until served)."""

    id: int
    width: int
    height: int
    message_id: int | None


def conversation(session: Session, tip: Tip) -> Sequence[TipMessage]:
    """Every follow-up message on `tip` (replies and additions), oldest first."""
    return session.scalars(
        select(TipMessage).where(TipMessage.tip_id == tip.id).order_by(TipMessage.at, TipMessage.id)
    ).all()


def photos(session: Session, tip: Tip) -> list[PhotoRef]:
    """The tip's photos, without their bytes."""
    rows = session.execute(
        select(TipPhoto.id, TipPhoto.width, TipPhoto.height, TipPhoto.message_id)
        .where(TipPhoto.tip_id == tip.id)
        .order_by(TipPhoto.id)
    )
    return [PhotoRef(*row) for row in rows]


def photo_count(session: Session, tip: Tip) -> int:
    """How many photos the tip holds (the form's and every addition's)."""
    return session.scalar(select(func.count()).where(TipPhoto.tip_id == tip.id)) or 0


def store_photos(
    session: Session, tip_id: int, cleaned: Sequence[Photo], now: datetime, message_id: int | None
) -> None:
    """Store cleaned photos (sealed by the column type)."""
    for photo in cleaned:
        session.add(
            TipPhoto(
                tip_id=tip_id,
                message_id=message_id,
                at=now,
                content_type=photo.content_type,
                width=photo.width,
                height=photo.height,
                data=photo.data,
            )
        )


def add_from_traveler(
    session: Session, tip: Tip, *, text: str, cleaned: Sequence[Photo], now: datetime
) -> TipMessage:
    """The traveler's addition: stored sealed, on the timeline, audited without its text, and
    the tip back in front of staff: a closed tip reopens (open tips sort first in the queue),
    and the timeline says what came."""
    message = TipMessage(tip_id=tip.id, at=now, author=Author.TRAVELER, body=text)
    session.add(message)
    session.flush()
    store_photos(session, tip.id, cleaned, now, message.id)
    current = TipStatus(tip.status)
    if current == TipStatus.CLOSED:
        tip.status = TipStatus.INVESTIGATING
        tip.is_closed = False
        tip.closed_at = None
        tip.resolution = None
        tip.duplicate_of_id = None
    session.add(
        TipEvent(
            tip_id=tip.id,
            kind=EventKind.TRAVELER_ADDED,
            actor_id=None,
            at=now,
            from_status=current.value,
            to_status=TipStatus(tip.status).value,
            reason=f"{len(cleaned)} photo(s)" if cleaned else None,
        )
    )
    audit.record(
        session,
        action="tip.traveler_added",
        actor=None,
        now=now,
        target=f"tip:{tip.id}",
        detail={"photos": len(cleaned), "reopened": current == TipStatus.CLOSED},
        system="traveler (follow-up)",
    )
    session.flush()
    return message


def reply(session: Session, tip: Tip, *, actor: User, text: str, now: datetime) -> TipMessage:
    """A staff reply the traveler reads with the receipt code: on the timeline and audited
    (the text stays sealed in tip_message, never in the timeline or the audit log)."""
    _check_actor(actor, tip)
    text = text.strip()
    if not text:
        raise NotAllowed("A reply needs some text.")
    if len(text) > MAX_MESSAGE:
        raise NotAllowed(f"A reply is at most {MAX_MESSAGE} characters.")
    message = TipMessage(
        tip_id=tip.id, at=now, author=Author.STAFF, staff_user_id=actor.id, body=text
    )
    session.add(message)
    session.add(TipEvent(tip_id=tip.id, kind=EventKind.REPLIED, actor_id=actor.id, at=now))
    audit.record(session, action="tip.reply", actor=actor, now=now, target=f"tip:{tip.id}")
    session.flush()
    return message
