"""Structured logs: `tipline run` with LOG_FORMAT=json, driven through a traveler's tip and a
staff member's set-up, sign-in and tip view from a client address of its own; every line is a
JSON object, every request an event, and no line holds the address, the user agent, a token, a
cookie, the receipt code, the password, the TOTP code or the tip's text."""

from __future__ import annotations

import http.client
import json
import logging
import re
from pathlib import Path
from urllib.parse import urlencode

import pyotp
from flask import Flask
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import CSRF_RE
from tests.loadgen import FORM_TOKEN
from tests.processes import TIPLINE, environment, free_port, running, wait_for_port
from tipline.accounts.models import Role
from tipline.accounts.users import create_user
from tipline.db import utcnow
from tipline.ops.logs import JsonFormatter, scrub

CLIENT = "127.0.0.9"
AGENT = "Mozilla/5.0 (OpsTest; rv:9.9) Gecko/20100101 Firefox/999.0"
TIP_TEXT = "Grey hoodie man took her passport at the vending machines"
RECEIPT = re.compile(r'class="code">([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})<')
SEARCH = "needle-in-the-query-7731"


class Client:
    """A browser from CLIENT: its own cookies, redirects not followed."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def go(self, method: str, path: str, form: dict[str, object] | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=10, source_address=(CLIENT, 0)
        )
        headers = {"User-Agent": AGENT}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        text = response.read().decode()
        conn.close()
        return response.status, text


def _csrf(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, page[:300]
    return match.group(1)


def test_json_logs_of_a_real_flow_hold_nothing_personal(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    code = factories.placement(session, station=factories.station(session)).code
    user, secret = factories.staff_user(session, role=Role.ADMIN, jurisdictions=["NY"])
    _new, setup_token = create_user(
        session,
        email="new@example.gov",
        role=Role.TRIAGER,
        jurisdiction_codes=["NY"],
        actor=None,
        now=utcnow(),
    )
    session.commit()
    port = free_port()
    env = environment(
        str(app.extensions["tipline.settings"].database_url),
        tmp_path / "instance",
        LOG_FORMAT="json",
        TIP_LIMIT_PER_CLIENT="1/600",
        PUBLIC_URL="http://127.0.0.1",
    )
    log = tmp_path / "run.log"
    secrets_seen: list[str] = [CLIENT, AGENT, "OpsTest", TIP_TEXT, "passport", setup_token]
    with running([TIPLINE, "run", "--port", str(port)], env, log) as process:
        wait_for_port(port, timeout=60, process=process)
        traveler = Client(port)
        status, page = traveler.go("GET", f"/T/{code}?utm={SEARCH}")
        token = FORM_TOKEN.search(page)
        assert status == 200 and token
        form = {"token": token.group(1), "details": TIP_TEXT, "now": "yes", "lang": "en"}
        status, page = traveler.go("POST", f"/T/{code}", form)
        receipt = RECEIPT.search(page)
        assert status == 200 and receipt, page[:500]
        status, page = traveler.go("GET", f"/T/{code}")
        token2 = FORM_TOKEN.search(page)
        assert token2
        refused = traveler.go("POST", f"/T/{code}", {**form, "token": token2.group(1)})
        assert refused[0] == 429
        secrets_seen += [token.group(1), token2.group(1), receipt.group(1)]

        newcomer = Client(port)
        assert newcomer.go("GET", f"/staff/setup/{setup_token}")[0] == 200

        staff = Client(port)
        status, page = staff.go("GET", "/staff/signin")
        password = factories.STAFF_PASSWORD
        staff.go(
            "POST",
            "/staff/signin",
            {"csrf_token": _csrf(page), "email": user.email, "password": password},
        )
        status, page = staff.go("GET", "/staff/signin/code")
        totp = pyotp.TOTP(secret).now()
        status, _ = staff.go(
            "POST", "/staff/signin/code", {"csrf_token": _csrf(page), "code": totp}
        )
        assert status == 302
        status, page = staff.go("GET", f"/staff/?q={SEARCH}")
        assert status == 200
        tip_id = re.search(r'href="/staff/tips/(\d+)"', page)
        assert tip_id
        assert staff.go("GET", f"/staff/tips/{tip_id.group(1)}")[0] == 200
        assert staff.go("GET", f"/no/such/page/{SEARCH}")[0] == 404
        assert staff.go("GET", "/healthz")[0] == 200
        secrets_seen += [password, totp, SEARCH, *staff.cookies.values()]
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    requests = [e for e in events if e["event"] == "request"]
    assert {"time", "level", "event", "logger"} <= set(events[0])
    routes = {(e["method"], e["route"], e["status"]) for e in requests}
    assert ("POST", "/T/<code>", 429) in routes
    assert ("GET", "/staff/setup/<token>", 200) in routes
    assert ("GET", "/staff/tips/<int:tip_id>", 200) in routes or any(
        r[1].startswith("/staff/tips/<") for r in routes
    )
    assert all(e["request_id"] and e["duration_ms"] >= 0 for e in requests)
    assert not [e for e in requests if e["route"] == "/healthz"]
    text = log.read_text()
    for secret_text in secrets_seen:
        assert secret_text not in text, secret_text
    print(f"\n{len(lines)} JSON lines, {len(requests)} request events, none personal")


def test_database_errors_lose_their_parameters_and_addresses() -> None:
    message = (
        "(sqlite3.IntegrityError) UNIQUE constraint failed: tip.receipt_hash\n"
        "[SQL: INSERT INTO tip (details) VALUES (?)]\n"
        "[parameters: ('She was crying near 10.0.0.7',)]\n"
        "(Background on this error at: https://sqlalche.me/e/20/gkpj)"
    )
    assert scrub(message) == (
        "(sqlite3.IntegrityError) UNIQUE constraint failed: tip.receipt_hash\n"
        "[SQL: INSERT INTO tip (details) VALUES (?)]\n"
        "[parameters hidden]\n"
        "(Background on this error at: https://sqlalche.me/e/20/gkpj)"
    )
    record = logging.LogRecord("tipline", logging.ERROR, __file__, 1, "from %s", ("::1",), None)
    assert json.loads(JsonFormatter().format(record))["event"] == "from [address]"
