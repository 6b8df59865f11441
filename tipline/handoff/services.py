"""Making a hand-off packet: on the timeline, audited, rendered from the shareable view only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from tipline.accounts.models import User
from tipline.handoff.render import Packet, render_packet
from tipline.handoff.shareable import shareable
from tipline.intake.models import Tip
from tipline.triage.display import tip_timezone
from tipline.triage.services import record_handoff


def make_packet(session: Session, *, tip: Tip, actor: User, partner: str, now: datetime) -> bytes:
    """The packet PDF for `partner`; refuses (NotAllowed) a viewer or another jurisdiction."""
    event = record_handoff(session, tip=tip, actor=actor, now=now, partner=partner)
    packet = Packet(
        tip=shareable(tip),
        partner=event.referred_to or partner,
        made_at=now,
        timezone=tip_timezone(session, tip),
    )
    return render_packet(packet)
