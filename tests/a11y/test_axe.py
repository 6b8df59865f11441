"""axe-core finds no WCAG 2.1 A/AA violation on any traveler page in any language, nor on any
staff page; each traveler page is also saved as a 360×740 screenshot (test-output/)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests import factories
from tests.a11y.conftest import LANGS, PHONE, SHOTS, Axe, staff_paths
from tests.intake.conftest import Posters

pytestmark = pytest.mark.browser


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", LANGS)
def test_every_traveler_page_has_no_wcag_violation(
    browser: Any,
    live_server: str,
    posters: Posters,
    traveler_pages: list[tuple[str, str]],
    axe: Axe,
    lang: str,
) -> None:
    # The pages' CSP admits one hashed script; axe is injected past it, as a test tool.
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    found: dict[str, list[str]] = {}
    for name, path in traveler_pages:
        page.goto(f"{live_server}{path}{'&' if '?' in path else '?'}lang={lang}")
        shoot(page, f"{name}-{lang}")
        found[name] = axe(page)
    # With errors: a people count that is not one, then a report that says nothing.
    for code, name in ((posters.station, "station"), (posters.train, "train")):
        page.goto(f"{live_server}/T/{code}?lang={lang}")
        page.fill("#people", "lots")
        page.locator("button[type=submit]").click()
        # The form is sent in the background (send.js); its answer replaces the page.
        page.wait_for_selector("[aria-invalid=true]")
        assert page.locator("[aria-invalid=true]").count() == 1
        shoot(page, f"form-{name}-errors-{lang}")
        found[f"form-{name}-errors"] = axe(page)
    page.goto(f"{live_server}/T/K7Q2M9XQ?lang={lang}")
    page.locator("button[type=submit]").click()
    page.wait_for_selector("[role=alert]")
    assert page.locator("[role=alert]").count() == 1
    shoot(page, f"form-unknown-errors-{lang}")
    found["form-unknown-errors"] = axe(page)
    # The thank-you page, after a real report.
    page.goto(f"{live_server}/T/{posters.station}?lang={lang}")
    page.fill("#details", "A man holds a young woman's passport and ticket.")
    page.locator("button[type=submit]").click()
    page.wait_for_selector(".code")
    assert page.locator(".code").count() == 1
    shoot(page, f"thanks-{lang}")
    found["thanks"] = axe(page)
    # The follow-up: a wrong code (an error tied to its field), then the report itself.
    receipt = page.locator(".code").inner_text()
    for name, code in (("followup-wrong", "AAAA-BBBB-CCCC-DDDD"), ("followup-tip", receipt)):
        page.goto(f"{live_server}/followup?lang={lang}")
        page.fill("#code", code)
        page.locator("button[type=submit]").click()
        page.wait_for_selector("#code-e" if name == "followup-wrong" else "#state")
        shoot(page, f"{name}-{lang}")
        found[name] = axe(page)
    context.close()
    assert {name: v for name, v in found.items() if v} == {}
    assert len(found) == len(traveler_pages) + 6


def test_every_staff_page_has_no_wcag_violation(
    browser: Any, live_server: str, staff_page: tuple[Any, Session], posters: Posters, axe: Axe
) -> None:
    page, session = staff_page
    tip = factories.tip(session, details="Seen near gate 4.", priority=1)
    other, _ = factories.staff_user(session, email="other@example.gov", jurisdictions=["NY"])
    session.commit()
    paths = staff_paths(tip.id, posters.station, other.id)
    found: dict[str, list[str]] = {}
    for path in paths:
        response = page.goto(f"{live_server}{path}")
        assert response.status == 200, path
        found[path] = axe(page)
    signed_out = page.context.browser.new_context(bypass_csp=True).new_page()
    for path in ("/staff/signin",):
        signed_out.goto(f"{live_server}{path}")
        found[path] = axe(signed_out)
    signed_out.fill("#email", "nobody@example.gov")
    signed_out.fill("#password", "wrong password")
    with signed_out.expect_navigation():
        signed_out.locator("button[type=submit]").click()
    found["/staff/signin (wrong password)"] = axe(signed_out)
    signed_out.context.close()
    assert {path: v for path, v in found.items() if v} == {}


def test_axe_does_report_a_violation(browser: Any, axe: Axe) -> None:
    # The checks above could not fail if axe ran no rule: here it must find two.
    page = browser.new_page()
    page.set_content('<html><body><img src="x.png"><a href="/x"></a></body></html>')
    assert {line.split(":")[0] for line in axe(page)} >= {"image-alt", "link-name", "html-has-lang"}
    page.close()
