"""/metrics: only to the token's bearer (or on the loopback port), counts without content, and
the age of the oldest unacknowledged urgent tip rising while it waits."""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from tests import factories
from tests.conftest import make_test_app
from tests.loadgen import FORM_TOKEN
from tests.processes import free_port
from tipline import background
from tipline.accounts.models import Role, User
from tipline.db import Database, session_scope, utcnow
from tipline.intake.models import Tip
from tipline.ops import metrics
from tipline.triage import services

TOKEN = "metrics-token-8f2c"
SECRET_DETAILS = "Blue backpack man pulled her by the wrist near gate 7"


def _app(_migrated: str, tmp_path: Path, **settings: object) -> Flask:
    return make_test_app(_migrated, tmp_path / "inst", METRICS_TOKEN=TOKEN, **settings)


def _scrape(
    client: FlaskClient,
) -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return text, samples


def _send_urgent_tip(client: FlaskClient, code: str) -> None:
    page = client.get(f"/T/{code}").get_data(as_text=True)
    token = FORM_TOKEN.search(page)
    assert token
    response = client.post(
        f"/T/{code}",
        data={
            "token": token.group(1),
            "indicator": ["minor"],
            "now": "yes",
            "lang": "en",
            "details": SECRET_DETAILS,
            "where_text": "Gate 7 restroom",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]


def test_metrics_need_the_token_and_hold_no_tip_text(app: Flask, tmp_path: Path) -> None:
    served = _app(app.extensions["tipline.settings"].database_url, tmp_path)
    client = served.test_client()
    try:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = client.get("/metrics", headers=headers)
            assert response.status_code == 404
            assert "tipline_" not in response.get_data(as_text=True)
        with session_scope(served, write=True) as s:
            code = factories.placement(s, station=factories.station(s)).code
        _send_urgent_tip(client, code)
        text, samples = _scrape(client)
    finally:
        Database.engine(served).dispose()
    assert samples[("tipline_tips_stored", (("priority", "urgent"),))] == 1
    assert samples[("tipline_queue_open_tips", (("jurisdiction", "NY"), ("priority", "urgent")))]
    assert ("tipline_alerts", (("state", "failed"),)) in samples
    for private in (SECRET_DETAILS, "Gate 7", "backpack", code, "NYP", "Penn"):
        assert private not in text


def test_metrics_is_a_404_when_no_token_is_set(client: FlaskClient) -> None:
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    assert client.get("/metrics").status_code == 404


def test_urgent_age_rises_while_the_tip_waits_and_falls_when_acknowledged(
    app: Flask, tmp_path: Path
) -> None:
    served = _app(app.extensions["tipline.settings"].database_url, tmp_path)
    client = served.test_client()
    key = ("tipline_urgent_unacknowledged_oldest_seconds", (("jurisdiction", "NY"),))
    try:
        with session_scope(served, write=True) as s:
            code = factories.placement(s, station=factories.station(s)).code
            admin, _secret = factories.staff_user(s, role=Role.ADMIN, jurisdictions=["NY"])
            admin_id = admin.id
        _send_urgent_tip(client, code)
        _, first = _scrape(client)
        time.sleep(1.5)
        _, second = _scrape(client)
        assert second[key] >= first[key] + 1.0, (first[key], second[key])
        with session_scope(served, write=True) as s:
            tip = s.query(Tip).one()
            services.acknowledge(s, tip=tip, actor=s.get(User, admin_id), now=utcnow())
        _, third = _scrape(client)
    finally:
        Database.engine(served).dispose()
    assert third[key] == 0
    print(f"\nurgent age: {first[key]:.2f} s, then {second[key]:.2f} s, acknowledged: 0")


def test_limiter_refusals_are_counted_by_route(app: Flask, tmp_path: Path) -> None:
    served = _app(
        app.extensions["tipline.settings"].database_url, tmp_path, TIP_LIMIT_PER_CLIENT="1/600"
    )
    client = served.test_client()
    route = (("route", "/T/<code>"),)
    try:
        with session_scope(served, write=True) as s:
            code = factories.placement(s, station=factories.station(s)).code
        _, before = _scrape(client)
        _send_urgent_tip(client, code)
        page = client.get(f"/T/{code}").get_data(as_text=True)
        token = FORM_TOKEN.search(page)
        assert token
        refused = client.post(f"/T/{code}", data={"token": token.group(1), "details": "x"})
        assert refused.status_code == 429
        _, after = _scrape(client)
    finally:
        Database.engine(served).dispose()
    name = "tipline_limiter_refusals_total"
    assert after[(name, route)] == before.get((name, route), 0) + 1


def test_metrics_port_serves_on_loopback_without_a_token(app: Flask, tmp_path: Path) -> None:
    port = free_port()
    served = _app(app.extensions["tipline.settings"].database_url, tmp_path, METRICS_PORT=port)
    try:
        assert any(j.name == "metrics port" for j in background.jobs(served))
        metrics.serve_port(served)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
        assert re.search(r"^tipline_tips_stored\{priority=\"urgent\"\} 0", text, re.M)
        # A second process of the deployment finds the port taken and leaves it be.
        other = _app(app.extensions["tipline.settings"].database_url, tmp_path / "b")
        other.extensions["tipline.settings"] = other.extensions["tipline.settings"].replace(
            metrics_port=port
        )
        metrics.serve_port(other)
        assert other.extensions.get(metrics.PORT_SERVER) is None
        Database.engine(other).dispose()
    finally:
        metrics.stop_port(served)
        Database.engine(served).dispose()
