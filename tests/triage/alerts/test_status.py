"""Alert state on the desk: each alert on the tip page, failures as a banner in the queue of
everyone who can see the tip, the admin's page of what waits and what failed."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories
from tests.triage.alerts.conftest import channels
from tests.triage.conftest import NOW
from tipline.accounts.models import Role
from tipline.intake.models import Tip
from tipline.triage import alerts
from tipline.triage.models import Alert, AlertStatus, OnCallChannel


def alert(
    session: Session,
    tip: Tip,
    target: str,
    status: AlertStatus,
    *,
    step: int = 0,
    attempts: int = 1,
    created: timedelta = timedelta(0),
    **fields: object,
) -> Alert:
    """An alert row in a given state (the outbox's own tests drive the states for real)."""
    channel = session.query(OnCallChannel).filter_by(target=target).one()
    row = Alert(
        tip_id=tip.id,
        channel_id=channel.id,
        step=step,
        status=status,
        attempts=attempts,
        created_at=NOW + created,
        next_attempt_at=NOW + timedelta(minutes=2),
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def words(html: str) -> str:
    """The text of some HTML, tags and runs of spaces folded to single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_the_tip_page_shows_each_alert_and_its_state_in_words(
    session: Session, login: Callable[[str], FlaskClient]
) -> None:
    channels(session, "NY", emails=("desk@ny.gov", "night@ny.gov"))
    channels(session, "NY", webhooks=("https://hooks.example.org/secret-path",))
    channels(session, "national", emails=("hq@example.gov",), secondary=True)
    tip = factories.tip(session, priority=1, received_at=NOW)
    alert(session, tip, "desk@ny.gov", AlertStatus.SENT, sent_at=NOW + timedelta(seconds=1))
    alert(
        session,
        tip,
        "night@ny.gov",
        AlertStatus.PENDING,
        attempts=2,
        last_error="could not reach the mail server mail.ny.gov:25: connection refused",
    )
    alert(
        session,
        tip,
        "https://hooks.example.org/secret-path",
        AlertStatus.FAILED,
        attempts=10,
        last_error="the webhook at hooks.example.org answered HTTP 503",
    )
    alert(
        session,
        tip,
        "hq@example.gov",
        AlertStatus.CANCELLED,
        step=2,
        cancelled_reason="tip acknowledged by ny.triager@example.gov",
    )
    session.commit()

    page = login("ny_viewer").get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    section = page.split('id="alerts"', 1)[1].split("</section>", 1)[0]
    rows = [words("<tr" + row) for row in section.split("<tr")[2:]]
    assert rows == [
        "email to desk@ny.gov NY first alert sent 1 sent 2026-06-15 10:00:06 EDT",
        "email to night@ny.gov NY first alert pending 2 next try 10:02:05 EDT · last error: "
        "could not reach the mail server mail.ny.gov:25: connection refused",
        "webhook to hooks.example.org NY first alert failed 10 last error: the webhook at "
        "hooks.example.org answered HTTP 503",
        "email to hq@example.gov national (secondary) escalation 2 cancelled 1 tip acknowledged "
        "by ny.triager@example.gov",
    ]
    assert "secret-path" not in page


def test_an_urgent_tip_nobody_was_alerted_about_says_so(
    session: Session, login: Callable[[str], FlaskClient]
) -> None:
    tip = factories.tip(session, priority=1, received_at=NOW)
    session.commit()
    page = login("ny_viewer").get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    assert "No alert has gone out for this urgent tip: none of its jurisdictions, nor" in page


def test_a_failed_alert_is_a_banner_for_everyone_who_can_see_its_tip(
    session: Session, login: Callable[[str], FlaskClient]
) -> None:
    channels(session, "NY", emails=("desk@ny.gov",))
    channels(session, "NJ", emails=("desk@nj.gov",))
    ny = factories.tip(session, priority=1, received_at=NOW)
    nj = factories.tip(session, priority=1, received_at=NOW, jurisdictions=["NJ"])
    old = factories.tip(session, priority=1, received_at=NOW - timedelta(days=3))
    error = "could not reach the mail server mail:25: connection refused"
    alert(session, ny, "desk@ny.gov", AlertStatus.FAILED, attempts=10, last_error=error)
    alert(session, nj, "desk@nj.gov", AlertStatus.FAILED, attempts=10, last_error=error)
    alert(session, old, "desk@ny.gov", AlertStatus.FAILED, created=-timedelta(days=3))
    session.commit()

    def banner(who: str) -> list[str]:
        page = login(who).get("/staff/").get_data(as_text=True)
        if "could not be delivered" not in page:
            return []
        block = page.split("could not be delivered", 1)[1].split("</div>", 1)[0]
        return re.findall(r"Tip #(\d+)</a>", block)

    assert banner("ny_viewer") == [str(ny.id)]
    assert banner("nj_triager") == [str(nj.id)]
    assert sorted(banner("national_viewer")) == sorted([str(ny.id), str(nj.id)])
    page = login("ny_triager").get("/staff/").get_data(as_text=True)
    assert f"Tip #{ny.id}</a> <strong>(still not acknowledged)</strong>" in page
    assert "email to desk@ny.gov (NY, first alert) — " + error in page


def test_the_admin_sees_what_waits_and_what_failed_in_their_jurisdictions(
    app: Flask, session: Session, login: Callable[[str], FlaskClient]
) -> None:
    channels(session, "NJ", emails=("desk@nj.gov",))
    channels(session, "national", emails=("hq@example.gov",))
    ny = factories.tip(session, priority=1, received_at=NOW)
    nj = factories.tip(session, priority=1, received_at=NOW, jurisdictions=["NJ"])
    alert(session, ny, "hq@example.gov", AlertStatus.PENDING, last_error="slow")
    alert(session, nj, "desk@nj.gov", AlertStatus.FAILED, attempts=10, last_error="refused")
    session.commit()

    ny_page = login("ny_admin").get("/staff/alerts").get_data(as_text=True)
    assert f"#{ny.id}</a>" in ny_page and f"#{nj.id}</a>" not in ny_page
    assert "Failed (0)" in ny_page and "Waiting (1)" in ny_page
    assert "NY has no primary channel: its urgent tips go straight to national" in ny_page
    assert "desk@nj.gov" not in ny_page

    user, secret = factories.staff_user(
        session, email="hq-admin@example.gov", role=Role.ADMIN, jurisdictions=["national"]
    )
    client = app.test_client()
    factories.sign_in(client, user.email, factories.STAFF_PASSWORD, secret)
    page = client.get("/staff/alerts").get_data(as_text=True)
    assert "Failed (1)" in page and "Waiting (1)" in page
    assert "has no primary channel" not in page
    alerts.remove_channels(
        session, jurisdiction="national", emails=["hq@example.gov"], webhooks=[], now=NOW
    )
    session.commit()
    bare = client.get("/staff/alerts").get_data(as_text=True)
    assert "national has no primary channel: tips routed to national" in bare
    assert "last error: refused" in page and "desk@nj.gov" in page
    assert login("ny_triager").get("/staff/alerts").status_code == 403


def test_the_queue_watches_for_urgent_tips_with_one_hashed_script(
    session: Session, login: Callable[[str], FlaskClient]
) -> None:
    mine = factories.tip(session, priority=1, received_at=NOW)
    factories.tip(session, priority=1, received_at=NOW, status="acknowledged")
    factories.tip(session, priority=2, received_at=NOW)
    factories.tip(session, priority=1, received_at=NOW, jurisdictions=["NJ"])
    session.commit()
    response = login("ny_viewer").get("/staff/")
    page = response.get_data(as_text=True)
    assert f'data-ids="{mine.id}"' in page
    assert "<title>(1 urgent) Queue · Tipline staff</title>" in page
    (script,) = re.findall(r"<script>(.*?)</script>", page, re.S)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = response.headers["Content-Security-Policy"]
    assert policy.endswith(f"script-src 'sha256-{digest}'")
    assert "default-src 'none'" in policy
    # The tip page runs no script at all.
    other = login("ny_viewer").get(f"/staff/tips/{mine.id}")
    assert "script-src" not in other.headers["Content-Security-Policy"]
    assert "<script" not in other.get_data(as_text=True)
