"""Headers on every page, and which proxy may say who the client is."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import make_test_app, wipe
from tests.intake.conftest import form_token
from tipline.db import Database
from tipline.security import HSTS


@pytest.fixture
def make_app(_migrated: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def make(**settings: object) -> Flask:
        app = make_test_app(_migrated, tmp_path / f"instance-{len(apps)}", **settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        wipe(app)
        Database.engine(app).dispose()


PAGES = ["/", "/report", "/help", "/staff/signin", "/no-such-page"]


@pytest.mark.parametrize("path", PAGES)
def test_https_deployments_send_hsts_and_every_page_a_permissions_policy(
    make_app: Callable[..., Flask], path: str
) -> None:
    response = make_app(PUBLIC_URL="https://tips.example.org").test_client().get(path)
    assert response.headers["Strict-Transport-Security"] == HSTS == "max-age=63072000"
    policy = response.headers["Permissions-Policy"]
    for feature in ("camera=()", "geolocation=()", "microphone=()", "payment=()"):
        assert feature in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_plain_http_sends_no_hsts(make_app: Callable[..., Flask]) -> None:
    response = make_app(PUBLIC_URL="http://127.0.0.1:5000").test_client().get("/")
    assert "Strict-Transport-Security" not in response.headers
    assert "Permissions-Policy" in response.headers


def tip_from(app: Flask, headers: dict[str, str], remote: str = "10.0.0.1") -> int:
    client = app.test_client()
    token = form_token(client.get("/report").get_data(as_text=True))
    response = client.post(
        "/report",
        data={"token": token, "details": "x"},
        headers=headers,
        environ_base={"REMOTE_ADDR": remote},
    )
    return response.status_code


def test_without_proxy_hops_forwarded_headers_are_ignored(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(TIP_LIMIT_PER_CLIENT="1/600")
    with caplog.at_level(logging.WARNING, logger="tipline.security"):
        assert tip_from(app, {"X-Forwarded-For": "198.51.100.1"}) == 200
        # A client cannot pose as someone else: the forged header is not believed.
        assert tip_from(app, {"X-Forwarded-For": "198.51.100.2"}) == 429
    assert caplog.text.count("TIPLINE_PROXY_HOPS is 0") == 1
    assert "198.51.100" not in caplog.text


def test_proxy_hops_believe_only_the_trusted_proxy(make_app: Callable[..., Flask]) -> None:
    app = make_app(TIP_LIMIT_PER_CLIENT="1/600", PROXY_HOPS=1)
    # The proxy (10.0.0.1) appends the address it saw; the client's own header is ignored.
    assert tip_from(app, {"X-Forwarded-For": "198.51.100.1"}) == 200
    assert tip_from(app, {"X-Forwarded-For": "198.51.100.2"}) == 200
    assert tip_from(app, {"X-Forwarded-For": "203.0.113.9, 198.51.100.1"}) == 429
    assert tip_from(app, {"X-Forwarded-For": "203.0.113.9, 198.51.100.3"}) == 200


def test_proxy_hops_two_takes_the_second_address_from_the_right(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(TIP_LIMIT_PER_CLIENT="1/600", PROXY_HOPS=2)
    assert tip_from(app, {"X-Forwarded-For": "198.51.100.1, 10.0.0.2"}) == 200
    assert tip_from(app, {"X-Forwarded-For": "203.0.113.9, 198.51.100.1, 10.0.0.3"}) == 429
    assert tip_from(app, {"X-Forwarded-For": "198.51.100.4, 10.0.0.2"}) == 200


def test_proxy_hops_trust_the_forwarded_scheme(make_app: Callable[..., Flask]) -> None:
    app = make_app(PROXY_HOPS=1)

    @app.get("/_scheme")
    def scheme() -> str:
        from flask import request

        return request.scheme

    client = app.test_client()
    assert client.get("/_scheme", headers={"X-Forwarded-Proto": "https"}).text == "https"
    plain = make_app().test_client()
    plain.application.add_url_rule("/_scheme", view_func=scheme)
    assert plain.get("/_scheme", headers={"X-Forwarded-Proto": "https"}).text == "http"


@pytest.mark.parametrize("value", ["-1", "two"])
def test_bad_proxy_hops_stop_the_start(tmp_path: Path, value: str) -> None:
    from tipline.config import SettingsError

    with pytest.raises(SettingsError, match="TIPLINE_PROXY_HOPS"):
        make_test_app("sqlite://", tmp_path, PROXY_HOPS=value)
