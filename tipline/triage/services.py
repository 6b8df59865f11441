"""Handling a tip: reading it within one's jurisdictions, each action on its timeline, retention."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from tipline.accounts import audit
from tipline.accounts.access import can_see
from tipline.accounts.models import Role, User, UserJurisdiction
from tipline.intake.models import Priority, Tip, TipStatus
from tipline.locations.regions import NATIONAL
from tipline.triage.alerts.outbox import silence
from tipline.triage.models import EventKind, Resolution, TipEvent
from tipline.triage.queue import visible
from tipline.triage.retention import PurgeReport, purge_closed  # noqa: F401  (importable here)

NOTE_MAX = 4000
MAX_ID = 2**63 - 1
REASON_MAX = 500

# Server-enforced workflow (PRODUCT.md §5). Closing needs an acknowledgement first, so every
# closed tip shows who took it on; reopening resumes the investigation.
TRANSITIONS: dict[TipStatus, frozenset[TipStatus]] = {
    TipStatus.NEW: frozenset({TipStatus.ACKNOWLEDGED}),
    TipStatus.ACKNOWLEDGED: frozenset(
        {TipStatus.INVESTIGATING, TipStatus.REFERRED, TipStatus.CLOSED}
    ),
    TipStatus.INVESTIGATING: frozenset({TipStatus.REFERRED, TipStatus.CLOSED}),
    # Referred again (to someone else), taken back, or closed.
    TipStatus.REFERRED: frozenset({TipStatus.REFERRED, TipStatus.INVESTIGATING, TipStatus.CLOSED}),
    TipStatus.CLOSED: frozenset({TipStatus.INVESTIGATING}),
}
ACTING_ROLES = frozenset({Role.ADMIN, Role.TRIAGER})


class TriageError(ValueError):
    """An action the rules refuse; the message tells staff why in plain words."""


class InvalidTransition(TriageError):
    """The tip's status does not allow this action."""


class InvalidAssignee(TriageError):
    """The chosen person cannot take this tip."""


class NotAllowed(TriageError):
    """The actor may not change this tip (a viewer, or outside their jurisdictions)."""


class TipNotFound(LookupError):
    """No such tip, or not one of the user's: both get the same answer, so ids reveal nothing."""

    def __init__(self, tip_id: int, *, hidden: bool) -> None:
        super().__init__(f"no tip #{tip_id} in your jurisdictions")
        self.tip_id = tip_id
        self.hidden = hidden  # True when it exists but belongs to other jurisdictions


def get_tip_for(session: Session, user: User, tip_id: int) -> Tip:
    """The tip `tip_id` if `user` may see it; TipNotFound for a missing or a hidden one."""
    if not 0 < tip_id <= MAX_ID:
        # A guessed id past the column's range is simply not there (SQLite would overflow).
        raise TipNotFound(tip_id, hidden=False)
    tip = session.scalar(select(Tip).where(Tip.id == tip_id, visible(user)))
    if tip is None:
        hidden = session.scalar(select(Tip.id).where(Tip.id == tip_id)) is not None
        raise TipNotFound(tip_id, hidden=hidden)
    return tip


def record_view(session: Session, *, tip: Tip, actor: User, now: datetime) -> None:
    """Audit a staff member opening `tip` (a view never stops its alerts: acting does)."""
    _opened(session, tip, now)
    audit.record(session, action="tip.view", actor=actor, now=now, target=_target(tip))


def timeline(session: Session, tip: Tip) -> Sequence[TipEvent]:
    """Everything done to `tip`, oldest first."""
    query = (
        select(TipEvent)
        .where(TipEvent.tip_id == tip.id)
        .options(selectinload(TipEvent.actor), selectinload(TipEvent.assignee))
        .order_by(TipEvent.at, TipEvent.id)
    )
    return session.scalars(query).all()


def assignable_users(session: Session, tip: Tip) -> Sequence[User]:
    """Active, enrolled triagers and admins who can see `tip`."""
    codes = [*tip.jurisdiction_codes(), NATIONAL]
    query = (
        select(User)
        .where(
            User.active.is_(True),
            User.role.in_([r.value for r in ACTING_ROLES]),
            User.password_hash.is_not(None),
            User.totp_secret.is_not(None),
            User.id.in_(select(UserJurisdiction.user_id).where(UserJurisdiction.code.in_(codes))),
        )
        .order_by(User.email)
    )
    return session.scalars(query).all()


# --- actions ---------------------------------------------------------------------------------


def acknowledge(session: Session, *, tip: Tip, actor: User, now: datetime) -> TipEvent:
    """Someone has seen the tip and is on it: new → acknowledged."""
    event = _move(session, tip, TipStatus.ACKNOWLEDGED, actor, now, EventKind.ACKNOWLEDGED)
    tip.acknowledged_at = now
    return event


def investigate(
    session: Session, *, tip: Tip, actor: User, now: datetime, reason: str | None = None
) -> TipEvent:
    """Work on the tip in-house: acknowledged or referred → investigating."""
    return _move(
        session,
        tip,
        TipStatus.INVESTIGATING,
        actor,
        now,
        EventKind.INVESTIGATING,
        reason=_optional(reason, "reason", REASON_MAX),
        # Closed → investigating is a reopening, with its own action and timeline entry.
        only_from=frozenset({TipStatus.ACKNOWLEDGED, TipStatus.REFERRED}),
    )


def assign(
    session: Session, *, tip: Tip, actor: User, now: datetime, assignee: User | None
) -> TipEvent:
    """Give the tip to a triager or admin who can see it (None: nobody)."""
    _check_actor(actor, tip)
    if tip.status == TipStatus.CLOSED:
        raise InvalidTransition("This tip is closed. Reopen it before assigning it.")
    if assignee is not None and (
        not assignee.active
        or assignee.role not in ACTING_ROLES
        or not can_see(assignee, tip.jurisdiction_codes())
    ):
        raise InvalidAssignee(
            f"{assignee.email} cannot take this tip: only an active triager or admin of its "
            "jurisdictions can."
        )
    new_id = assignee.id if assignee is not None else None
    if new_id == tip.assignee_id:
        raise TriageError("The tip is already assigned that way.")
    tip.assignee_id = new_id
    return _event(
        session,
        tip,
        actor,
        now,
        EventKind.ASSIGNED,
        assignee_id=new_id,
        audit_detail={"assignee": assignee.email if assignee is not None else None},
    )


def change_priority(
    session: Session, *, tip: Tip, actor: User, now: datetime, priority: Priority, reason: str
) -> TipEvent:
    """Override the computed priority; a reason is required."""
    _check_actor(actor, tip)
    if tip.status == TipStatus.CLOSED:
        raise InvalidTransition("This tip is closed. Reopen it before changing its priority.")
    why = _required(reason, "A reason is required to change the priority.", REASON_MAX)
    old = Priority(tip.priority)
    if priority == old:
        raise TriageError(f"The priority is already {priority.name.lower()}.")
    tip.priority = priority
    tip.priority_overridden = True
    if old == Priority.URGENT:
        silence(session, tip_id=tip.id, reason=f"priority lowered by {actor.email}")
    return _event(
        session,
        tip,
        actor,
        now,
        EventKind.PRIORITY_CHANGED,
        from_priority=int(old),
        to_priority=int(priority),
        reason=why,
        audit_detail={"from": old.name.lower(), "to": priority.name.lower()},
    )


def add_note(session: Session, *, tip: Tip, actor: User, now: datetime, text: str) -> TipEvent:
    """An internal note on the timeline (staff only; the traveler never sees it)."""
    _check_actor(actor, tip)
    note = _required(text, "The note is empty.", NOTE_MAX)
    return _event(session, tip, actor, now, EventKind.NOTE, note=note)


def refer(
    session: Session,
    *,
    tip: Tip,
    actor: User,
    now: datetime,
    to: str,
    reference: str | None = None,
    reason: str | None = None,
) -> TipEvent:
    """Hand the tip to another agency (police, the national hotline), with their reference."""
    whom = _required(to, "Say whom the tip is referred to.", 200)
    ref = _optional(reference, "reference", 100)
    event = _move(
        session,
        tip,
        TipStatus.REFERRED,
        actor,
        now,
        EventKind.REFERRED,
        referred_to=whom,
        referral_ref=ref,
        reason=_optional(reason, "reason", REASON_MAX),
        audit_detail={"referred_to": whom},
    )
    tip.referred_to, tip.referral_ref = whom, ref
    return event


def record_handoff(
    session: Session, *, tip: Tip, actor: User, now: datetime, partner: str
) -> TipEvent:
    """Put a hand-off packet for `partner` on the timeline and in the audit log."""
    _check_actor(actor, tip)
    whom = _required(partner, "Name the partner the packet is for.", 200)
    return _event(
        session,
        tip,
        actor,
        now,
        EventKind.HANDOFF,
        referred_to=whom,
        audit_detail={"partner": whom, "words": tip.consent_forward},
    )


def close(
    session: Session,
    *,
    tip: Tip,
    actor: User,
    now: datetime,
    resolution: Resolution,
    duplicate_of: int | None = None,
    reason: str | None = None,
) -> TipEvent:
    """Close with a resolution; a duplicate names another tip the actor can see."""
    _check_actor(actor, tip)
    original: Tip | None = None
    if resolution == Resolution.DUPLICATE:
        if duplicate_of is None:
            raise TriageError("Give the number of the tip this one duplicates.")
        if duplicate_of == tip.id:
            raise TriageError("A tip cannot duplicate itself.")
        # Raises TipNotFound for another jurisdiction's tip, exactly as for a missing one.
        original = get_tip_for(session, actor, duplicate_of)
    elif duplicate_of is not None:
        raise TriageError("A tip number is only for the “duplicate” resolution.")
    event = _move(
        session,
        tip,
        TipStatus.CLOSED,
        actor,
        now,
        EventKind.CLOSED,
        resolution=resolution.value,
        duplicate_of_id=original.id if original else None,
        reason=_optional(reason, "reason", REASON_MAX),
        audit_detail={
            "resolution": resolution.value,
            "duplicate_of": original.id if original else None,
        },
    )
    tip.closed_at = now
    tip.resolution = resolution.value
    tip.duplicate_of_id = original.id if original else None
    return event


def reopen(
    session: Session, *, tip: Tip, actor: User, now: datetime, reason: str | None = None
) -> TipEvent:
    """Take a closed tip back into investigation."""
    event = _move(
        session,
        tip,
        TipStatus.INVESTIGATING,
        actor,
        now,
        EventKind.REOPENED,
        reason=_optional(reason, "reason", REASON_MAX),
        only_from=frozenset({TipStatus.CLOSED}),
    )
    tip.closed_at = None
    tip.resolution = None
    tip.duplicate_of_id = None
    return event


# --- retention -------------------------------------------------------------------------------


# --- internals -------------------------------------------------------------------------------


def _target(tip: Tip) -> str:
    return f"tip:{tip.id}"


def _opened(session: Session, tip: Tip, now: datetime) -> None:
    """Mark the tip opened. Its alerts go on: only acting on it (`_move`) silences them."""
    if tip.opened_at is None:
        # Conditional, so of two staff opening it at once the first time is the one kept.
        opened = session.execute(
            update(Tip)
            .where(Tip.id == tip.id, Tip.opened_at.is_(None))
            .values(opened_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(opened, "rowcount", 0):
            set_committed_value(tip, "opened_at", now)
        else:
            session.refresh(tip, ["opened_at"])


def _check_actor(actor: User, tip: Tip) -> None:
    """Services refuse on their own too: the views' checks are not the only line."""
    if actor.role not in ACTING_ROLES:
        raise NotAllowed("Viewers can read tips but not change them.")
    if not can_see(actor, tip.jurisdiction_codes()):
        raise NotAllowed("This tip is outside your jurisdictions.")


def _move(
    session: Session,
    tip: Tip,
    to: TipStatus,
    actor: User,
    now: datetime,
    kind: EventKind,
    *,
    only_from: frozenset[TipStatus] | None = None,
    audit_detail: dict[str, Any] | None = None,
    **fields: Any,
) -> TipEvent:
    """Change the status if the workflow allows it, and put it on the timeline."""
    _check_actor(actor, tip)
    current = TipStatus(tip.status)
    if to not in TRANSITIONS[current] or (only_from is not None and current not in only_from):
        raise InvalidTransition(_why_not(kind, current))
    tip.status = to
    tip.is_closed = to == TipStatus.CLOSED
    # A state change is someone with the tip in hand: its alarm stops (_check_actor ran).
    silence(session, tip_id=tip.id, reason=f"tip {to.value} by {actor.email}")
    return _event(
        session,
        tip,
        actor,
        now,
        kind,
        from_status=current.value,
        to_status=to.value,
        audit_detail={"from": current.value, "to": to.value, **(audit_detail or {})},
        **fields,
    )


def _why_not(kind: EventKind, current: TipStatus) -> str:
    """The refusal in words: what the tip is, and what would have to happen first."""
    if kind == EventKind.REOPENED:
        return f"Only a closed tip can be reopened; this one is {current.value}."
    if current == TipStatus.CLOSED:
        return f"This tip is closed; reopen it before it can be {_VERB[kind]}."
    if current == TipStatus.NEW:
        return f"This tip is new; acknowledge it before it can be {_VERB[kind]}."
    return f"A tip that is {current.value} cannot be {_VERB[kind]}."


_VERB = {
    EventKind.ACKNOWLEDGED: "acknowledged",
    EventKind.INVESTIGATING: "marked as investigating",
    EventKind.REFERRED: "referred",
    EventKind.CLOSED: "closed",
    EventKind.REOPENED: "reopened",
}


def _event(
    session: Session,
    tip: Tip,
    actor: User,
    now: datetime,
    kind: EventKind,
    *,
    audit_detail: dict[str, Any] | None = None,
    **fields: Any,
) -> TipEvent:
    """Add a timeline entry and its audit record (which never holds note or reason text)."""
    event = TipEvent(tip_id=tip.id, kind=kind, actor_id=actor.id, at=now, **fields)
    session.add(event)
    # Acting on a tip (even by a direct POST) means someone has it in hand.
    _opened(session, tip, now)
    audit.record(
        session,
        action=f"tip.{kind.value}",
        actor=actor,
        now=now,
        target=_target(tip),
        detail=audit_detail,
    )
    session.flush()
    return event


def _required(text: str | None, message: str, limit: int) -> str:
    value = (text or "").strip()
    if not value:
        raise TriageError(message)
    if len(value) > limit:
        raise TriageError(f"Keep it under {limit} characters.")
    return value


def _optional(text: str | None, what: str, limit: int) -> str | None:
    value = (text or "").strip()
    if len(value) > limit:
        raise TriageError(f"The {what} is too long (at most {limit} characters).")
    return value or None
