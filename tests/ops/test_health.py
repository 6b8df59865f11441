"""/healthz and /readyz: one word, milliseconds, and /readyz follows the database."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from tests.conftest import make_test_app
from tests.ops.proxy import TcpProxy
from tipline.db import Database
from tipline.migrate import downgrade, upgrade
from tipline.ops.health import readiness


def _until(client: FlaskClient, status: int, *, within: float) -> float:
    """Poll /readyz until it answers `status`; the seconds that took."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        if client.get("/readyz").status_code == status:
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"/readyz did not answer {status} within {within} s")


def test_healthz_says_ok_and_nothing_else(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_readyz_ready_on_a_migrated_database_in_milliseconds(client: FlaskClient) -> None:
    client.get("/readyz")  # the first reads the migration head
    start = time.perf_counter()
    for _ in range(20):
        response = client.get("/readyz")
        assert response.status_code == 200
    took = (time.perf_counter() - start) / 20
    assert response.get_data(as_text=True) == "ready\n"
    assert took < 0.05, f"/readyz took {took * 1000:.1f} ms"
    print(f"/readyz: {took * 1000:.1f} ms each")


def test_readyz_unavailable_when_the_schema_is_behind(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    app = make_test_app(new_database(), tmp_path / "inst")
    try:
        client = app.test_client()
        response = client.get("/readyz")
        assert (response.status_code, response.get_data(as_text=True)) == (503, "unavailable\n")
        upgrade(app)
        assert client.get("/readyz").status_code == 200
        downgrade(app, "-1")
        assert client.get("/readyz").status_code == 503
    finally:
        readiness(app).dispose()
        Database.engine(app).dispose()


def test_readyz_follows_the_database_going_away_and_coming_back(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    url = new_database()
    migrated = make_test_app(url, tmp_path / "setup")
    upgrade(migrated)
    Database.engine(migrated).dispose()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(str(parsed.database))
        app = make_test_app(url, tmp_path / "inst")

        def away() -> None:
            path.rename(path.with_suffix(".away"))

        def back() -> None:
            path.with_suffix(".away").rename(path)
    else:
        proxy = TcpProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
        proxy.start()
        app = make_test_app(
            parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
            tmp_path / "inst",
        )
        away, back = proxy.stop, proxy.start
    try:
        _flip(app, away, back)
    finally:
        if parsed.get_backend_name() != "sqlite":
            proxy.stop()
        readiness(app).dispose()
        Database.engine(app).dispose()


def _flip(app: Flask, away: Callable[[], None], back: Callable[[], None]) -> None:
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    for round_ in range(3):
        away()
        down = _until(client, 503, within=1.0)
        assert client.get("/healthz").status_code == 200  # the process is still up
        back()
        up = _until(client, 200, within=1.0)
        print(f"round {round_}: 503 after {down * 1000:.0f} ms, 200 after {up * 1000:.0f} ms")


def test_readyz_needs_redis_when_it_is_configured(
    _migrated: str, tmp_path: Path, redis_url: str
) -> None:
    from tests.processes import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    for url, status in ((redis_url, 200), (dead, 503)):
        app = make_test_app(_migrated, tmp_path / f"i{status}", REDIS_URL=url)
        try:
            started = time.monotonic()
            assert app.test_client().get("/readyz").status_code == status
            assert time.monotonic() - started < 1.0
        finally:
            readiness(app).dispose()
            Database.engine(app).dispose()
