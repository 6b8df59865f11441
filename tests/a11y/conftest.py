"""Accessibility fixtures: axe-core from npm (tests/a11y/node_modules), a signed-in staff page,
and the pages every check walks through."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests import factories
from tests.intake import conftest as intake
from tests.intake.conftest import Posters
from tipline.accounts.models import Role
from tipline.intake.i18n import LANGUAGES

# The intake tests' posters (a station, a train, a retired one), shared as a fixture here.
posters = intake.posters
HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: Every language the traveler pages speak, Arabic (right to left) included.
LANGS = tuple(LANGUAGES)
PHONE = {"width": 360, "height": 740}
#: Screenshots land here (gitignored), one PNG per traveler page and language.
SHOTS = HERE.parent.parent / "test-output" / "screenshots"


def npm_hint() -> str:
    npm = "npm ci --prefix tests/a11y" if shutil.which("npm") else "install npm, then npm ci"
    return f"axe-core not installed at {AXE}: {npm} (make install-test does it)"


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, or skip saying how to install it."""
    if not AXE.is_file():
        pytest.skip(npm_hint())
    return AXE.read_text(encoding="utf-8")


Axe = Callable[[Any], list[str]]


@pytest.fixture
def axe(axe_source: str) -> Axe:
    """axe(page) -> the WCAG 2.1 A/AA violations on the page, one line each (rule: nodes)."""

    def run(page: Any) -> list[str]:
        page.add_script_tag(content=axe_source)
        found = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
            ".then(r => r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.html).join(' | ')))",
            WCAG,
        )
        return list(found)

    return run


@pytest.fixture
def traveler_pages(posters: Posters) -> list[tuple[str, str]]:
    """(name, path) of every traveler page reached with GET."""
    return [
        ("landing", "/"),
        ("form-station", f"/T/{posters.station}"),
        ("form-train", f"/T/{posters.train}"),
        ("form-unknown", "/T/K7Q2M9XQ"),
        ("form-retired", f"/T/{posters.retired}"),
        ("form-no-code", "/report"),
        ("help", "/help"),
        ("help-station", f"/help?at={posters.station}"),
        ("not-found", "/nowhere"),
        ("too-large", "/too-large"),
        ("followup", "/followup"),
    ]


@pytest.fixture
def staff_page(
    browser: Any, live_server: str, app: Flask, session: Session
) -> Iterator[tuple[Any, Session]]:
    """A page signed in (password, then TOTP) as a national admin."""
    user, secret = factories.staff_user(
        session, email="a11y@example.gov", role=Role.ADMIN, jurisdictions=["national"]
    )
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"{live_server}/staff/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(factories.STAFF_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("6-digit code").fill(
        factories.totp_code(app.test_client(), user.email, secret)
    )
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/staff/")
    yield page, session
    context.close()


def staff_paths(tip_id: int, station: str, user_id: int) -> list[str]:
    """Every staff page reached with GET, for the axe and HTML checks alike."""
    return [
        "/staff/",
        "/staff/?status=all",
        f"/staff/tips/{tip_id}",
        "/staff/account",
        "/staff/users",
        "/staff/users/new",
        f"/staff/users/{user_id}",
        "/staff/audit",
        "/staff/alerts",
        "/staff/posters?show=all",
        "/staff/posters/new",
        f"/staff/posters/{station}",
        f"/staff/posters/{station}/retire",
    ]
