"""Tip handling without HTTP: the workflow, each action, its timeline and audit trail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.triage.conftest import NOW, Staff, audit_events
from tipline.accounts.models import AuditEvent
from tipline.intake.models import Priority, Tip, TipStatus
from tipline.triage import services
from tipline.triage.models import EventKind, QueueEntry, Resolution, TipEvent


def kinds(session: Session, tip: Tip) -> list[str]:
    return [e.kind for e in services.timeline(session, tip)]


def test_get_tip_for_is_the_same_refusal_for_missing_and_foreign(
    session: Session, staff: Callable[[str], Staff]
) -> None:
    ny = staff("ny_triager").user
    nj_tip = factories.tip(session, jurisdictions=["NJ"], station_code="NWK")
    ny_tip = factories.tip(session, jurisdictions=["NY"])
    assert services.get_tip_for(session, ny, ny_tip.id) is ny_tip
    with pytest.raises(services.TipNotFound) as foreign:
        services.get_tip_for(session, ny, nj_tip.id)
    with pytest.raises(services.TipNotFound) as missing:
        services.get_tip_for(session, ny, 999_999)
    assert str(foreign.value) == f"no tip #{nj_tip.id} in your jurisdictions"
    assert str(missing.value) == "no tip #999999 in your jurisdictions"
    assert (foreign.value.hidden, missing.value.hidden) == (True, False)
    national = staff("national_triager").user
    assert services.get_tip_for(session, national, nj_tip.id) is nj_tip


def test_a_train_tip_in_two_states_is_seen_from_both(
    session: Session, staff: Callable[[str], Staff]
) -> None:
    shared = factories.tip(
        session,
        jurisdictions=["NY", "NJ"],
        station_code=None,
        train_number="66",
        location_kind="train",
    )
    for name in ("ny_triager", "nj_triager"):
        assert services.get_tip_for(session, staff(name).user, shared.id) is shared


def test_the_whole_workflow_leaves_a_timeline_and_an_audit_trail(
    session: Session, staff: Callable[[str], Staff]
) -> None:
    actor = staff("ny_triager").user
    colleague = staff("ny_admin").user
    tip = factories.tip(session)
    t = NOW
    services.acknowledge(session, tip=tip, actor=actor, now=t)
    assert (tip.status, tip.acknowledged_at) == (TipStatus.ACKNOWLEDGED, t)
    services.assign(session, tip=tip, actor=actor, now=t, assignee=colleague)
    assert tip.assignee_id == colleague.id
    services.investigate(session, tip=tip, actor=actor, now=t, reason="calling the station")
    services.change_priority(
        session,
        tip=tip,
        actor=actor,
        now=t,
        priority=Priority.HIGH,
        reason="second report of the same group",
    )
    assert (tip.priority, tip.priority_overridden) == (Priority.HIGH, True)
    services.add_note(session, tip=tip, actor=actor, now=t, text="Station police informed.")
    services.refer(session, tip=tip, actor=actor, now=t, to="NYPD Vice", reference="NY-2026-7")
    assert (tip.status, tip.referred_to, tip.referral_ref) == (
        TipStatus.REFERRED,
        "NYPD Vice",
        "NY-2026-7",
    )
    services.close(
        session, tip=tip, actor=actor, now=t + timedelta(hours=1), resolution=Resolution.ACTIONED
    )
    assert (tip.status, tip.is_closed, tip.resolution) == (TipStatus.CLOSED, True, "actioned")
    assert tip.closed_at == t + timedelta(hours=1)
    services.reopen(session, tip=tip, actor=actor, now=t + timedelta(hours=2), reason="new")
    assert (tip.status, tip.is_closed, tip.closed_at, tip.resolution) == (
        TipStatus.INVESTIGATING,
        False,
        None,
        None,
    )

    assert kinds(session, tip) == [
        "acknowledged",
        "assigned",
        "investigating",
        "priority_changed",
        "note",
        "referred",
        "closed",
        "reopened",
    ]
    events = services.timeline(session, tip)
    assert all(e.actor_id == actor.id for e in events)
    assert (events[3].from_priority, events[3].to_priority) == (3, 2)
    assert events[3].reason == "second report of the same group"
    assert events[4].note == "Station police informed."
    assert (events[5].from_status, events[5].to_status) == ("investigating", "referred")
    # The audit log has every change, but never the note or reason text.
    assert [e.action for e in audit_events(session, "tip.note")] == ["tip.note"]
    recorded = list(session.scalars(select(AuditEvent).where(AuditEvent.target == f"tip:{tip.id}")))
    assert [a.action for a in recorded] == [f"tip.{k}" for k in kinds(session, tip)]
    assert "Station police" not in repr([a.detail for a in recorded])
    assert "second report" not in repr([a.detail for a in recorded])


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        ("new", "investigate", "This tip is new; acknowledge it before"),
        ("new", "refer", "This tip is new; acknowledge it before"),
        ("new", "close", "This tip is new; acknowledge it before"),
        ("new", "reopen", "Only a closed tip can be reopened; this one is new"),
        ("acknowledged", "acknowledge", "A tip that is acknowledged cannot be acknowledged"),
        ("investigating", "investigate", "cannot be marked as investigating"),
        ("closed", "acknowledge", "This tip is closed; reopen it before"),
        ("closed", "refer", "This tip is closed; reopen it before"),
        ("closed", "close", "This tip is closed; reopen it before"),
        ("closed", "investigate", "This tip is closed; reopen it before"),
    ],
)
def test_invalid_transitions_are_refused_in_words(
    session: Session, staff: Callable[[str], Staff], status: str, action: str, message: str
) -> None:
    actor = staff("ny_triager").user
    tip = factories.tip(
        session, status=status, resolution="actioned" if status == "closed" else None
    )
    calls = {
        "acknowledge": lambda: services.acknowledge(session, tip=tip, actor=actor, now=NOW),
        "investigate": lambda: services.investigate(session, tip=tip, actor=actor, now=NOW),
        "refer": lambda: services.refer(session, tip=tip, actor=actor, now=NOW, to="Police"),
        "close": lambda: services.close(
            session, tip=tip, actor=actor, now=NOW, resolution=Resolution.NO_ACTION
        ),
        "reopen": lambda: services.reopen(session, tip=tip, actor=actor, now=NOW),
    }
    with pytest.raises(services.InvalidTransition, match=message):
        calls[action]()
    assert tip.status == status
    assert session.scalar(select(TipEvent.id).where(TipEvent.tip_id == tip.id)) is None


def test_a_referred_tip_can_be_referred_again_or_taken_back(
    session: Session, staff: Callable[[str], Staff]
) -> None:
    actor = staff("ny_triager").user
    tip = factories.tip(session, status="referred", referred_to="Amtrak Police")
    services.refer(session, tip=tip, actor=actor, now=NOW, to="FBI", reference="X-1")
    assert (tip.referred_to, tip.referral_ref) == ("FBI", "X-1")
    services.investigate(session, tip=tip, actor=actor, now=NOW, reason="FBI declined")
    assert tip.status == TipStatus.INVESTIGATING


def test_viewers_and_outsiders_cannot_change_a_tip(
    session: Session, staff: Callable[[str], Staff]
) -> None:
    tip = factories.tip(session)
    with pytest.raises(services.NotAllowed, match="Viewers can read"):
        services.acknowledge(session, tip=tip, actor=staff("ny_viewer").user, now=NOW)
    with pytest.raises(services.NotAllowed, match="outside your jurisdictions"):
        services.add_note(session, tip=tip, actor=staff("nj_triager").user, now=NOW, text="x")
    assert tip.status == TipStatus.NEW


def test_assign_only_to_active_triagers_and_admins_who_can_see_the_tip(
    session: Session, staff: Callable[[str], Staff]
) -> None:
    actor = staff("ny_triager").user
    staff("ny_admin")
    tip = factories.tip(session)
    for name in ("ny_viewer", "nj_triager"):
        with pytest.raises(services.InvalidAssignee, match="cannot take this tip"):
            services.assign(session, tip=tip, actor=actor, now=NOW, assignee=staff(name).user)
    services.assign(session, tip=tip, actor=actor, now=NOW, assignee=staff("national_triager").user)
    with pytest.raises(services.TriageError, match="already assigned"):
        services.assign(
            session, tip=tip, actor=actor, now=NOW, assignee=staff("national_triager").user
        )
    services.assign(session, tip=tip, actor=actor, now=NOW, assignee=None)
    assert tip.assignee_id is None
    emails = [u.email for u in services.assignable_users(session, tip)]
    assert emails == sorted(staff(n).email for n in ("ny_triager", "ny_admin", "national_triager"))


def test_priority_change_needs_a_reason_and_a_change(
    session: Session, staff: Callable[[str], Staff]
) -> None:
    actor = staff("ny_triager").user
    tip = factories.tip(session, priority=3)
    with pytest.raises(services.TriageError, match="reason is required"):
        services.change_priority(
            session, tip=tip, actor=actor, now=NOW, priority=Priority.URGENT, reason="  "
        )
    with pytest.raises(services.TriageError, match="already normal"):
        services.change_priority(
            session, tip=tip, actor=actor, now=NOW, priority=Priority.NORMAL, reason="same"
        )
    assert (tip.priority, tip.priority_overridden) == (3, False)


def test_notes_are_required_and_bounded(session: Session, staff: Callable[[str], Staff]) -> None:
    actor = staff("ny_triager").user
    tip = factories.tip(session)
    with pytest.raises(services.TriageError, match="empty"):
        services.add_note(session, tip=tip, actor=actor, now=NOW, text="\n ")
    with pytest.raises(services.TriageError, match="under 4000"):
        services.add_note(session, tip=tip, actor=actor, now=NOW, text="x" * 4001)


def test_close_as_duplicate_needs_a_visible_other_tip(
    session: Session, staff: Callable[[str], Staff]
) -> None:
    actor = staff("ny_triager").user
    tip = factories.tip(session, status="acknowledged")
    original = factories.tip(session)
    nj_tip = factories.tip(session, jurisdictions=["NJ"])

    def close(**kwargs: object) -> object:
        return services.close(session, tip=tip, actor=actor, now=NOW, **kwargs)  # type: ignore[arg-type]

    with pytest.raises(services.TriageError, match="Give the number"):
        close(resolution=Resolution.DUPLICATE)
    with pytest.raises(services.TriageError, match="cannot duplicate itself"):
        close(resolution=Resolution.DUPLICATE, duplicate_of=tip.id)
    with pytest.raises(services.TriageError, match="only for the “duplicate”"):
        close(resolution=Resolution.ACTIONED, duplicate_of=original.id)
    with pytest.raises(services.TipNotFound) as refused:
        close(resolution=Resolution.DUPLICATE, duplicate_of=nj_tip.id)
    assert refused.value.hidden is True
    assert tip.status == TipStatus.ACKNOWLEDGED
    close(resolution=Resolution.DUPLICATE, duplicate_of=original.id)
    assert (tip.resolution, tip.duplicate_of_id) == ("duplicate", original.id)
    services.reopen(session, tip=tip, actor=actor, now=NOW)
    assert tip.duplicate_of_id is None


def test_opening_or_acting_marks_the_tip_opened(
    session: Session, staff: Callable[[str], Staff]
) -> None:
    viewer = staff("ny_viewer").user
    tip = factories.tip(session, priority=1)
    services.record_view(session, tip=tip, actor=viewer, now=NOW)
    assert tip.opened_at == NOW
    services.record_view(session, tip=tip, actor=viewer, now=NOW + timedelta(minutes=5))
    assert tip.opened_at == NOW  # the first opening counts
    assert [e.target for e in audit_events(session, "tip.view")] == [f"tip:{tip.id}"] * 2
    other = factories.tip(session, priority=1)
    services.acknowledge(session, tip=other, actor=staff("ny_triager").user, now=NOW)
    assert other.opened_at == NOW


def test_queue_entries_follow_the_tip_through_database_triggers(
    session: Session, staff: Callable[[str], Staff]
) -> None:
    actor = staff("national_triager").user
    tip = factories.tip(session, jurisdictions=["NY", "NJ"], priority=2)

    def entries() -> list[tuple[str, bool, int, str]]:
        session.expire_all()
        rows = session.scalars(
            select(QueueEntry).where(QueueEntry.tip_id == tip.id).order_by(QueueEntry.code)
        )
        return [(e.code, e.is_closed, e.priority, e.status) for e in rows]

    assert entries() == [("NJ", False, 2, "new"), ("NY", False, 2, "new")]
    services.acknowledge(session, tip=tip, actor=actor, now=NOW)
    services.change_priority(
        session, tip=tip, actor=actor, now=NOW, priority=Priority.URGENT, reason="minor involved"
    )
    services.close(session, tip=tip, actor=actor, now=NOW, resolution=Resolution.ACTIONED)
    session.flush()
    assert entries() == [("NJ", True, 1, "closed"), ("NY", True, 1, "closed")]
    session.delete(next(j for j in tip.jurisdictions if j.code == "NJ"))
    session.flush()
    assert [e[0] for e in entries()] == ["NY"]
    session.delete(tip)
    session.flush()
    assert entries() == []


def test_purge_deletes_closed_tips_past_retention_with_their_timeline(
    session: Session, staff: Callable[[str], Staff]
) -> None:
    actor = staff("ny_triager").user
    old = factories.tip(session, status="acknowledged")
    services.add_note(session, tip=old, actor=actor, now=NOW, text="note")
    services.close(
        session, tip=old, actor=actor, now=NOW - timedelta(days=91), resolution=Resolution.NO_ACTION
    )
    recent = factories.tip(session, status="acknowledged")
    services.close(
        session,
        tip=recent,
        actor=actor,
        now=NOW - timedelta(days=89),
        resolution=Resolution.DUPLICATE,
        duplicate_of=old.id,
    )
    still_open = factories.tip(session, received_at=NOW - timedelta(days=400))
    session.commit()
    old_id = old.id

    dry = services.purge_closed(session, older_than=timedelta(days=90), now=NOW, dry_run=True)
    assert (dry.tips, dry.events, dry.notes, dry.dry_run) == (1, 2, 1, True)
    assert session.get(Tip, old_id) is not None
    assert audit_events(session, "tips.purge") == []

    done = services.purge_closed(session, older_than=timedelta(days=90), now=NOW)
    session.commit()
    assert (done.tips, done.events, done.notes) == (1, 2, 1)
    session.expire_all()
    assert session.get(Tip, old_id) is None
    assert session.scalar(select(TipEvent.id).where(TipEvent.tip_id == old_id)) is None
    assert session.get(Tip, recent.id) is not None
    assert session.get(Tip, recent.id).duplicate_of_id is None  # type: ignore[union-attr]
    assert session.get(Tip, still_open.id) is not None
    (record,) = audit_events(session, "tips.purge")
    assert record.detail["tips"] == 1 and record.detail["older_than_days"] == 90
    assert record.actor_email == "cli"


def test_every_action_records_who_and_when(session: Session, staff: Callable[[str], Staff]) -> None:
    actor = staff("ny_triager").user
    tip = factories.tip(session)
    event = services.acknowledge(session, tip=tip, actor=actor, now=NOW)
    assert (event.kind, event.actor_id, event.at) == (EventKind.ACKNOWLEDGED, actor.id, NOW)
