"""In Debian's chromium: a tip sent without signal arrives once when the signal returns; the
follow-up round trip; a phone photo with GPS comes back to staff with no metadata at all.

Set TIPLINE_TEST_SHOTS=/some/dir to keep a 360 px screenshot of each new page."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import csrf_token
from tests.followup.conftest import phone_jpeg
from tests.intake.conftest import Posters
from tipline.followup.models import TipMessage, TipPhoto
from tipline.intake.i18n import catalog
from tipline.intake.models import Tip

PHONE = {"width": 360, "height": 740}
pytestmark = pytest.mark.browser


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("TIPLINE_TEST_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def count_tips(session: Session) -> int:
    session.commit()
    return int(session.scalar(select(func.count()).select_from(Tip)) or 0)


def test_a_tip_sent_without_signal_arrives_once_when_it_returns(
    browser: Any, live_server: str, posters: Posters, session: Session
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(f"{live_server}/T/{posters.station}")
    page.get_by_label("Details").fill("Sent from the tunnel.")
    context.set_offline(True)
    page.get_by_role("button", name="Send report").click()
    status = page.locator("#net")
    status.wait_for(state="visible")
    page.wait_for_function("document.getElementById('net').textContent.includes('No signal')")
    assert "it will be sent when the signal returns" in status.inner_text()
    shot(page, "form-offline")
    page.wait_for_timeout(2500)  # at least one retry with backoff, still offline
    assert count_tips(session) == 0
    # Nothing is kept outside the open page.
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert page.evaluate("navigator.serviceWorker ? 1 : 0") in (0, 1)
    context.set_offline(False)
    page.wait_for_selector("p.code", timeout=15_000)
    assert "Thank you. We received your report." in page.inner_text("h1")
    receipt = page.locator(".code").inner_text()
    shot(page, "thanks")
    assert count_tips(session) == 1
    assert len(posts) >= 2, "it was retried"
    assert session.scalars(select(Tip)).one().details == "Sent from the tunnel."
    assert len(receipt) == 19 and context.cookies() == []
    context.close()


def test_follow_up_round_trip_with_a_photo(
    browser: Any,
    live_server: str,
    posters: Posters,
    session: Session,
    login: Callable[[str], FlaskClient],
    tmp_path: Path,
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/T/{posters.station}")
    page.get_by_label("Details").fill("A man holds her passport.")
    page.get_by_role("button", name="Send report").click()
    page.wait_for_selector("p.code")
    receipt = page.locator(".code").inner_text()
    tip = session.scalars(select(Tip)).one()
    # Staff reply from the tip page.
    desk = login("ny_triager")
    tip_page = desk.get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    desk.post(
        f"/staff/tips/{tip.id}/reply",
        data={"reply-csrf_token": csrf_token(tip_page), "reply-text": "What colour was his coat?"},
    )
    # The traveler comes back with the code from the thank-you page's link.
    page.get_by_role("link", name="Check on a report you sent").click()
    shot(page, "followup-code")
    page.get_by_label("Receipt code").fill(receipt.lower())
    with page.expect_navigation():
        page.get_by_role("button", name="Show my report").click()
    assert "Being looked at" in page.inner_text("#state")  # the reply acknowledged nothing,
    assert "What colour was his coat?" in page.inner_text("main")  # but staff opened it
    photo = tmp_path / "IMG_2041.jpg"
    photo.write_bytes(phone_jpeg())
    page.get_by_label("Add information").fill("Green, with a red scarf.")
    page.locator("#photo").set_input_files(str(photo))
    with page.expect_navigation():
        page.get_by_role("button", name="Send").click()
    assert "We added this to your report." in page.inner_text("main")
    shot(page, "followup-tip")
    assert context.cookies() == []
    context.close()
    # Staff see the addition and the photo.
    tip_page = desk.get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    assert "Green, with a red scarf." in tip_page and "What colour was his coat?" in tip_page
    session.commit()
    stored = session.scalars(select(TipPhoto)).one()
    assert (
        stored.message_id
        == session.scalars(select(TipMessage.id).where(TipMessage.author == "traveler")).one()
    )
    served = desk.get(f"/staff/tips/{tip.id}/photos/{stored.id}")
    assert served.status_code == 200 and Image.open(io.BytesIO(served.data)).getexif() == {}


def test_a_gps_photo_from_the_form_comes_back_without_metadata(
    browser: Any,
    live_server: str,
    posters: Posters,
    session: Session,
    login: Callable[[str], FlaskClient],
    tmp_path: Path,
) -> None:
    original = phone_jpeg((4032, 3024))
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    photo = tmp_path / "IMG_0007.jpg"
    photo.write_bytes(original)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/T/{posters.station}")
    page.get_by_label("Details").fill("Plate on the van in the photo.")
    page.locator("#photo").set_input_files(str(photo))
    shot(page, "form-photo")
    page.get_by_role("button", name="Send report").click()
    page.wait_for_selector("p.code", timeout=15_000)
    context.close()
    session.commit()
    tip = session.scalars(select(Tip)).one()
    stored = session.scalars(select(TipPhoto)).one()
    desk = login("ny_triager")
    page_html = desk.get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    assert f"/staff/tips/{tip.id}/photos/{stored.id}" in page_html
    served = desk.get(f"/staff/tips/{tip.id}/photos/{stored.id}").data
    image = Image.open(io.BytesIO(served))
    assert image.getexif() == {} and max(image.size) == 2048
    assert set(image.info) <= {"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi"}
    for secret in (b"Exif", b"PhoneMakerCo", b"Model-Secret-9", b"MyHomeStreet", b"http://ns"):
        assert secret not in served


@pytest.mark.parametrize("lang", ["en", "es", "ar"])
def test_follow_up_pages_fit_a_phone_in_each_direction(
    browser: Any,
    live_server: str,
    posters: Posters,
    session: Session,
    login: Callable[[str], FlaskClient],
    tmp_path: Path,
    lang: str,
) -> None:
    """The thank-you page with a refused photo and every follow-up page, at 360 px, in a
    left-to-right and a right-to-left language: the page's direction, nothing wider than the
    screen, and the traveler's words in their language."""
    t = catalog(lang)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()

    def check(name: str, *keys: str) -> None:
        assert page.get_attribute("html", "lang") == lang
        assert page.get_attribute("html", "dir") == t.dir
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name}: {width} px wide"
        text = page.inner_text("body")
        for key in keys:
            assert t[key] in text, f"{name}: {key}"
        shot(page, f"{name}-{lang}")

    not_a_photo = tmp_path / "IMG_0001.jpg"
    not_a_photo.write_text("not a photo at all")
    page.goto(f"{live_server}/T/{posters.station}?lang={lang}")
    page.locator("#details").fill("A man holds her passport.")
    page.locator("#photo").set_input_files(str(not_a_photo))
    page.locator("#tip [type=submit]").click()
    page.wait_for_selector("p.code", timeout=15_000)
    check("thanks-photo-refused", "thanks_title", "photo_refused", "followup_link")
    # The answer replaced the long form in place: it opens at its top, where the code is.
    assert page.evaluate("scrollY") == 0
    receipt = page.locator(".code").inner_text()
    assert page.get_attribute(".code", "dir") == "ltr"  # its groups never swap places
    tip = session.scalars(select(Tip)).one()
    desk = login("ny_triager")
    tip_page = desk.get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    desk.post(
        f"/staff/tips/{tip.id}/reply",
        data={"reply-csrf_token": csrf_token(tip_page), "reply-text": "What colour was his coat?"},
    )
    page.get_by_role("link", name=t["followup_link"]).click()
    page.wait_for_selector("#code")
    check("followup-code", "fu_title", "fu_intro", "fu_code", "fu_look", "fu_nothing_kept")
    page.locator("#code").fill("ABCD-EFGH-JKMN-PQRS")
    page.locator("form [type=submit]").click()
    page.wait_for_selector("[role=alert]")
    check("followup-wrong-code", "fu_not_found")
    # The wrong code stays in the box, to be corrected rather than typed again.
    assert page.input_value("#code") == "ABCD-EFGH-JKMN-PQRS"
    assert page.get_attribute("#code", "dir") == "ltr"
    page.locator("#code").fill(receipt)
    page.locator("form [type=submit]").click()
    page.wait_for_selector("#state")
    check("followup-reply", "fu_status", "fu_status_looking", "fu_from_staff", "fu_add")
    page.locator("#text").fill("Green, with a red scarf.")
    page.locator("form [type=submit]").click()
    page.wait_for_selector("[role=status]")
    check("followup-added", "fu_added", "fu_from_you")
    assert context.cookies() == []
    context.close()
