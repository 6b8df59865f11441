"""The outbox: who hears an urgent tip and when, escalation, what silences it, claims and leases.

Each pass runs with a fixed `now`, against a real SMTP server and a real webhook receiver.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import PUBLIC_URL
from tests.triage.alerts.conftest import SECRET, Hook, Mailbox, alert_rows, channels, free_port
from tests.triage.conftest import NOW, Staff, audit_events, post_form, reread
from tipline.config import update_settings
from tipline.intake.models import Priority, Tip
from tipline.triage import alerts, services
from tipline.triage.models import Alert, AlertStatus, EventKind, TipEvent

# What the traveler wrote: none of it may leave in an alert.
CONTENT = dict(
    details="He has her passport",
    descriptions="red jacket, blond",
    contact="555-0199",
    indicators=["holds_documents", "minor_commercial_sex"],
    where_text="by the lockers",
    car="7",
    typed_place=None,
)


def ladder(session: Session, hook: Hook) -> None:
    """NY: a desk email and a webhook, a secondary backup; national: HQ and a secondary duty
    officer; PA: its own desk."""
    channels(session, "NY", emails=("ny-desk@example.gov",), webhooks=(hook.url,))
    channels(session, "NY", emails=("ny-backup@example.gov",), secondary=True)
    channels(session, "national", emails=("hq@example.gov",))
    channels(session, "national", emails=("hq-duty@example.gov",), secondary=True)
    channels(session, "PA", emails=("pa@example.gov",))


def timeline_of(session: Session, tip_id: int, kind: EventKind) -> list[TipEvent]:
    query = select(TipEvent).where(TipEvent.tip_id == tip_id, TipEvent.kind == kind)
    return list(reread(session).scalars(query.order_by(TipEvent.id)))


def test_the_first_alert_goes_to_the_jurisdictions_primary_channels_without_tip_content(
    app: Flask, session: Session, mailbox: Mailbox, hook: Hook
) -> None:
    ladder(session, hook)
    urgent = factories.tip(session, priority=1, received_at=NOW - timedelta(minutes=1), **CONTENT)
    # New Jersey has no channel: its urgent tip must still reach someone, national's primary.
    nj = factories.tip(
        session,
        priority=1,
        jurisdictions=["NJ"],
        station_code="NWK",
        station_name="Newark Penn Station",
        received_at=NOW,
    )
    factories.tip(session, priority=2, received_at=NOW, details="not urgent")
    factories.tip(session, priority=1, received_at=NOW - timedelta(days=2))  # too old
    session.commit()

    report = alerts.dispatch_once(app, now=NOW)
    assert (report.planned, report.sent, report.failed) == (3, 3, 0), report.errors
    received = sorted((to[0], m["Subject"]) for to, m in mailbox.messages())
    assert received == [
        ("hq@example.gov", f"[Tipline] URGENT tip #{nj.id} · Newark Penn Station (NWK)"),
        (
            "ny-desk@example.gov",
            f"[Tipline] URGENT tip #{urgent.id} · New York Penn Station (NYP)",
        ),
    ]
    body = mailbox.to("ny-desk@example.gov")[0].get_content()
    assert f"{PUBLIC_URL}/staff/tips/{urgent.id}" in body
    assert "Jurisdictions: NY" in body and "Priority:      urgent" in body

    ((headers, raw),) = hook.requests
    payload = json.loads(raw)
    assert payload == {
        "event": "tip.urgent",
        "delivery": payload["delivery"],
        "step": 0,
        "tip": urgent.id,
        "priority": "urgent",
        "place": "New York Penn Station (NYP)",
        "jurisdictions": ["NY"],
        "channel_jurisdiction": "NY",
        "received_at": (NOW - timedelta(minutes=1)).isoformat(),
        "url": f"{PUBLIC_URL}/staff/tips/{urgent.id}",
        "sent_at": int(NOW.timestamp()),
    }
    assert alerts.verify(
        SECRET, raw, headers["X-Tipline-Signature"], headers["X-Tipline-Timestamp"], now=NOW
    )
    everything = repr([m.as_string() for _, m in mailbox.messages()]) + repr(hook.requests)
    for value in ("passport", "red jacket", "555-0199", "holds_documents", "minor", "lockers"):
        assert value not in everything, value

    again = alerts.dispatch_once(app, now=NOW + timedelta(minutes=5))
    assert (again.planned, again.sent) == (0, 0)
    assert len(mailbox.envelopes) == 2 and len(hook.requests) == 1
    assert {a.status for a in alert_rows(session)} == {AlertStatus.SENT}


def test_nobody_acknowledges_it_climbs_one_step_per_interval_and_stops(
    app: Flask, session: Session, mailbox: Mailbox, hook: Hook
) -> None:
    ladder(session, hook)
    tip = factories.tip(session, priority=1, received_at=NOW)
    session.commit()

    def heard(minutes: float) -> list[str]:
        before = len(mailbox.envelopes)
        report = alerts.dispatch_once(app, now=NOW + timedelta(minutes=minutes))
        assert report.failed == 0, report.errors
        return sorted(e.rcpt_tos[0] for e in mailbox.envelopes[before:])

    assert heard(0) == ["ny-desk@example.gov"]
    assert heard(9.9) == []
    # Not acknowledged within OVERDUE_URGENT_MINUTES (10): again to NY, NY's secondary, national.
    assert heard(10) == ["hq@example.gov", "ny-backup@example.gov", "ny-desk@example.gov"]
    assert heard(15) == []
    assert heard(20) == [
        "hq-duty@example.gov",
        "hq@example.gov",
        "ny-backup@example.gov",
        "ny-desk@example.gov",
    ]
    assert len(heard(30)) == 4
    assert heard(40) == [] and heard(120) == []  # bounded: TIPLINE_ALERT_ESCALATION_STEPS = 3
    assert [json.loads(b)["step"] for _, b in hook.requests] == [0, 1, 2, 3]

    subject = mailbox.to("hq@example.gov")[0]["Subject"]
    assert subject.startswith(f"[Tipline] NOT ACKNOWLEDGED after 10 min: URGENT tip #{tip.id}")
    steps = timeline_of(session, tip.id, EventKind.ESCALATED)
    assert [e.reason for e in steps] == [
        "Not acknowledged after 10 min: announced again to NY (3), national (1).",
        "Not acknowledged after 20 min: announced again to NY (3), national (2).",
        "Not acknowledged after 30 min: announced again to NY (3), national (2).",
    ]
    assert all(e.actor_id is None for e in steps)
    audited = audit_events(session, "tip.escalated")
    assert [(e.actor_email, e.target, e.detail["step"]) for e in audited] == [
        ("alert dispatcher", f"tip:{tip.id}", 1),
        ("alert dispatcher", f"tip:{tip.id}", 2),
        ("alert dispatcher", f"tip:{tip.id}", 3),
    ]
    assert audited[0].detail["channels"] == {"NY": 3, "national": 1}


def test_a_dispatcher_that_was_down_sends_the_current_step_only(
    app: Flask, session: Session, mailbox: Mailbox, hook: Hook
) -> None:
    ladder(session, hook)
    tip = factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    report = alerts.dispatch_once(app, now=NOW + timedelta(minutes=25))
    assert (report.planned, report.escalated, report.sent) == (5, 1, 5), report.errors
    assert {r.step for r in alert_rows(session)} == {2}
    assert len(timeline_of(session, tip.id, EventKind.ESCALATED)) == 1


def test_escalation_with_no_channel_anywhere_is_still_on_the_timeline(
    app: Flask, session: Session
) -> None:
    tip = factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    report = alerts.dispatch_once(app, now=NOW + timedelta(minutes=11))
    assert (report.planned, report.escalated) == (0, 1)
    (event,) = timeline_of(session, tip.id, EventKind.ESCALATED)
    assert event.reason == (
        "Not acknowledged after 10 min, and no on-call channel to announce it to."
    )


def test_escalation_timing_follows_fractional_minutes(
    app: Flask, session: Session, mailbox: Mailbox
) -> None:
    update_settings(app, OVERDUE_URGENT_MINUTES=0.05, ALERT_ESCALATION_STEPS=1)  # 3 s
    channels(session, "NY", emails=("ny-desk@example.gov",))
    channels(session, "national", emails=("hq@example.gov",))
    factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    assert alerts.dispatch_once(app, now=NOW + timedelta(seconds=2.9)).planned == 1
    assert alerts.dispatch_once(app, now=NOW + timedelta(seconds=3)).planned == 2
    assert len(mailbox.to("hq@example.gov")) == 1


def test_a_later_step_replaces_an_earlier_one_still_waiting(app: Flask, session: Session) -> None:
    down = free_port()
    update_settings(app, SMTP_HOST="127.0.0.1", SMTP_PORT=down)
    channels(session, "NY", emails=("ny-desk@example.gov",))
    factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    assert alerts.dispatch_once(app, now=NOW).failed == 1
    alerts.dispatch_once(app, now=NOW + timedelta(minutes=10))
    first, second = alert_rows(session)
    assert (first.step, first.status, first.cancelled_reason) == (
        0,
        AlertStatus.CANCELLED,
        "replaced by a later announcement",
    )
    refused = f"could not reach the mail server 127.0.0.1:{down}: connection refused"
    assert first.last_error == refused
    assert (second.step, second.status, second.attempts) == (1, AlertStatus.PENDING, 1)


def test_only_acting_on_the_tip_silences_it(
    app: Flask,
    session: Session,
    staff: Callable[[str], Staff],
    login: Callable[[str], FlaskClient],
) -> None:
    # The mail server is down: alerts wait, retrying, while staff look at the tip.
    box = Mailbox()
    update_settings(app, SMTP_HOST="127.0.0.1", SMTP_PORT=box.port)
    channels(session, "NY", emails=("ny-desk@example.gov",))
    tip = factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    assert alerts.dispatch_once(app, now=NOW).failed == 1

    url = f"/staff/tips/{tip.id}"
    for who in ("ny_viewer", "national_viewer", "national_triager", "ny_triager", "nj_triager"):
        assert login(who).get(url).status_code == (404 if who == "nj_triager" else 200), who
    triager = login("ny_triager")
    assert post_form(triager, url, f"{url}/note", {"note-text": "on my way"})[0] == 302
    viewer = login("ny_viewer")
    assert post_form(viewer, url, f"{url}/acknowledge", {})[0] == 403
    (row,) = alert_rows(session)
    assert row.status == AlertStatus.PENDING  # looked at, noted, refused: still alarming

    box.start()  # the mail server comes back: the email still arrives
    try:
        assert alerts.dispatch_once(app, now=NOW + timedelta(seconds=31)).sent == 1
        assert len(box.to("ny-desk@example.gov")) == 1
    finally:
        box.stop()

    status, _ = post_form(triager, url, f"{url}/acknowledge", {})
    assert status == 302
    assert alerts.dispatch_once(app, now=NOW + timedelta(minutes=30)).planned == 0


def test_acknowledging_cancels_what_waits_and_says_who(
    app: Flask, session: Session, staff: Callable[[str], Staff]
) -> None:
    update_settings(app, SMTP_HOST="127.0.0.1", SMTP_PORT=free_port())
    channels(session, "NY", emails=("ny-desk@example.gov",))
    acknowledged = factories.tip(session, priority=1, received_at=NOW)
    lowered = factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    alerts.dispatch_once(app, now=NOW)
    triager = staff("ny_triager").user
    services.acknowledge(session, tip=acknowledged, actor=triager, now=NOW)
    services.change_priority(
        session, tip=lowered, actor=triager, now=NOW, priority=Priority.HIGH, reason="x"
    )
    session.commit()
    reasons = {r.tip_id: (r.status, r.cancelled_reason) for r in alert_rows(session)}
    assert reasons == {
        acknowledged.id: (AlertStatus.CANCELLED, "tip acknowledged by ny.triager@example.gov"),
        lowered.id: (AlertStatus.CANCELLED, "priority lowered by ny.triager@example.gov"),
    }
    later = alerts.dispatch_once(app, now=NOW + timedelta(minutes=45))
    assert (later.planned, later.sent, later.failed) == (0, 0, 0)


def test_a_failing_webhook_is_retried_later_with_backoff(
    app: Flask, session: Session, hook: Hook
) -> None:
    channels(session, "NY", webhooks=(hook.url,))
    factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    hook.answers = [500, 503]

    first = alerts.dispatch_once(app, now=NOW)
    assert (first.sent, first.failed) == (0, 1)
    (row,) = alert_rows(session)
    assert (row.status, row.attempts, row.last_error) == (
        AlertStatus.PENDING,
        1,
        f"the webhook at 127.0.0.1:{hook.port} answered HTTP 500",
    )
    assert row.next_attempt_at == NOW + timedelta(seconds=30)

    assert alerts.dispatch_once(app, now=NOW + timedelta(seconds=20)).failed == 0  # not due
    assert len(hook.requests) == 1
    assert alerts.dispatch_once(app, now=NOW + timedelta(seconds=31)).failed == 1
    (row,) = alert_rows(session)
    assert row.next_attempt_at == NOW + timedelta(seconds=31 + 60)  # doubled
    assert alerts.dispatch_once(app, now=NOW + timedelta(seconds=92)).sent == 1
    (row,) = alert_rows(session)
    assert (row.status, row.attempts, row.last_error) == (AlertStatus.SENT, 3, None)
    deliveries = {json.loads(body)["delivery"] for _, body in hook.requests}
    assert len(hook.requests) == 3 and len(deliveries) == 1  # one alert, three tries


def test_it_gives_up_after_the_last_attempt_and_says_so_on_the_timeline(
    app: Flask, session: Session, hook: Hook
) -> None:
    update_settings(app, ALERT_MAX_ATTEMPTS=2, ALERT_ESCALATION_STEPS=0)
    channels(session, "NY", webhooks=(hook.url,))
    tip = factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    hook.answers = [500, 500, 500]
    alerts.dispatch_once(app, now=NOW)
    alerts.dispatch_once(app, now=NOW + timedelta(minutes=1))
    alerts.dispatch_once(app, now=NOW + timedelta(hours=1))
    (row,) = alert_rows(session)
    assert (row.status, row.attempts) == (AlertStatus.FAILED, 2)
    assert len(hook.requests) == 2
    (event,) = timeline_of(session, tip.id, EventKind.ALERT_FAILED)
    assert event.reason == (
        f"The alert by webhook to 127.0.0.1:{hook.port} (NY) failed after 2 attempts: the "
        f"webhook at 127.0.0.1:{hook.port} answered HTTP 500"
    )
    assert "receiver-secret-path" not in event.reason


def test_two_dispatchers_at_once_send_each_alert_once(
    app: Flask, session: Session, mailbox: Mailbox, hook: Hook
) -> None:
    channels(session, "NY", emails=("a@example.gov", "b@example.gov"), webhooks=(hook.url,))
    for minute in range(4):
        factories.tip(session, priority=1, received_at=NOW - timedelta(minutes=minute))
    session.commit()
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            alerts.dispatch_once(app, now=NOW)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(mailbox.envelopes) == 8 and len(hook.requests) == 4
    assert len({json.loads(b)["delivery"] for _, b in hook.requests}) == 4
    assert len(alert_rows(session)) == 12


def test_claims_are_exclusive_and_abandoned_ones_return(app: Flask, session: Session) -> None:
    channels(session, "NY", emails=("a@example.gov",))
    factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    settings = alerts.AlertSettings(public_url=PUBLIC_URL)
    lease = timedelta(minutes=2)
    alerts.plan(session, now=NOW, settings=settings)
    session.commit()
    first = alerts.claim(session, now=NOW, lease=lease)
    session.commit()
    assert [attempt for _, attempt in first] == [1]
    assert alerts.claim(session, now=NOW + timedelta(minutes=1), lease=lease) == []
    # The worker that claimed it died: after the lease, another takes it over.
    retaken = alerts.claim(session, now=NOW + timedelta(minutes=3), lease=lease)
    assert retaken == [(first[0][0], 2)]


def test_nothing_stays_sending_once_nobody_should_send_it(app: Flask, session: Session) -> None:
    channels(session, "NY", emails=("a@example.gov",))
    tip = factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    settings = alerts.AlertSettings(public_url=PUBLIC_URL)
    alerts.plan(session, now=NOW, settings=settings)
    alerts.claim(session, now=NOW, lease=timedelta(minutes=2))
    session.commit()
    # Its worker died mid-send, and the tip was closed by other means than the desk.
    session.execute(update(Tip).where(Tip.id == tip.id).values(status="acknowledged"))
    session.commit()
    alerts.dispatch_once(app, now=NOW + timedelta(minutes=1))
    assert alert_rows(session)[0].status == AlertStatus.SENDING  # its lease still runs
    alerts.dispatch_once(app, now=NOW + timedelta(minutes=3))
    (row,) = alert_rows(session)
    assert (row.status, row.cancelled_reason) == (AlertStatus.CANCELLED, "the tip was acted on")


def test_removing_a_channel_calls_off_its_alerts_and_adding_it_back_repeats_nothing(
    app: Flask, session: Session, mailbox: Mailbox
) -> None:
    update_settings(app, SMTP_PORT=free_port())  # down
    channels(session, "NY", emails=("ny-desk@example.gov", "other@example.gov"))
    factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    alerts.dispatch_once(app, now=NOW)
    alerts.remove_channels(
        session, jurisdiction="NY", emails=["ny-desk@example.gov"], webhooks=[], now=NOW
    )
    session.commit()
    rows = {r.channel.target: r for r in alert_rows(session)}
    assert rows["ny-desk@example.gov"].cancelled_reason == "the channel was removed"
    assert rows["other@example.gov"].status == AlertStatus.PENDING
    channels(session, "NY", emails=("ny-desk@example.gov",))
    update_settings(app, SMTP_PORT=mailbox.port)  # back up
    report = alerts.dispatch_once(app, now=NOW + timedelta(minutes=1))
    assert (report.planned, report.sent) == (0, 1)
    assert [m["To"] for _, m in mailbox.messages()] == ["other@example.gov"]
    assert len(reread(session).scalars(select(Alert)).all()) == 2


def test_a_burst_of_urgent_tips_goes_out_in_one_pass(
    app: Flask, session: Session, mailbox: Mailbox
) -> None:
    channels(session, "NY", emails=("ny-desk@example.gov",))
    for second in range(45):
        factories.tip(session, priority=1, received_at=NOW - timedelta(seconds=second))
    session.commit()
    report = alerts.dispatch_once(app, now=NOW)
    assert (report.planned, report.sent, report.failed) == (45, 45, 0)
    assert len(mailbox.envelopes) == 45


def test_several_dispatchers_escalating_at_once_record_each_step_once(
    app: Flask, session: Session, mailbox: Mailbox
) -> None:
    channels(session, "NY", emails=("ny-desk@example.gov",))
    channels(session, "national", emails=("hq@example.gov",))
    tips = [factories.tip(session, priority=1, received_at=NOW) for _ in range(3)]
    session.commit()
    alerts.dispatch_once(app, now=NOW)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            alerts.dispatch_once(app, now=NOW + timedelta(minutes=10))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    for tip in tips:
        assert len(timeline_of(session, tip.id, EventKind.ESCALATED)) == 1
    assert len(audit_events(session, "tip.escalated")) == 3
    assert len(mailbox.to("hq@example.gov")) == 3 and len(mailbox.to("ny-desk@example.gov")) == 6
