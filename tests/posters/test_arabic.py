"""An Arabic placement prints a shaped, right-to-left Arabic poster that still scans."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.posters.conftest import SIZES, decode, page_texts, qr_url, rasterize
from tipline.cli import main
from tipline.locations.models import Placement
from tipline.posters import text
from tipline.posters.layouts import get_layout
from tipline.posters.text import fit

HEADLINE = "أبلغ عن الاتجار بالبشر"
# Letters in their joined (initial, medial, final) forms: what shaping produces.
PRESENTATION_FORMS = re.compile("[\ufb50-\ufdff\ufe70-\ufeff]")


@pytest.fixture
def arabic_pdf(
    session: Session, runner: FlaskCliRunner, tmp_path: Path
) -> Callable[[str], tuple[str, bytes]]:
    station = factories.station(session)
    session.commit()
    added = runner.invoke(
        main, ["placements", "add", "--station", station.code, "--spot", "Gate 4", "--lang", "ar"]
    )
    assert added.exit_code == 0, added.output
    code = session.scalars(select(Placement.code).where(Placement.lang == "ar")).one()

    def render(size: str) -> tuple[str, bytes]:
        out = tmp_path / f"{size}.pdf"
        result = runner.invoke(
            main, ["posters", "--placement", code, "--size", size, "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
        return code, out.read_bytes()

    return render


@pytest.mark.parametrize("size", SIZES)
def test_an_arabic_placement_prints_shaped_arabic_first_that_scans(
    arabic_pdf: Callable[[str], tuple[str, bytes]], size: str
) -> None:
    code, pdf = arabic_pdf(size)
    (printed,) = page_texts(pdf)
    # Shaped: the text layer holds joined letter forms, which read back as the headline.
    assert PRESENTATION_FORMS.search(printed)
    plain = unicodedata.normalize("NFKC", printed)
    assert HEADLINE in plain
    assert plain.index(HEADLINE) < plain.index("Report human trafficking")  # Arabic first
    assert "1-888-373-7888" in printed and "911" in printed
    # The Arabic face is embedded as a subset, beside Vera.
    assert re.search(rb"/BaseFont /[A-Z]{6}\+NotoNaskhArabic-Bold", pdf)
    (image,) = rasterize(pdf, 100 if size != "sticker" else 200)
    assert [b.text for b in decode(image)] == [qr_url(code)]


def test_arabic_is_set_right_to_left() -> None:
    style = get_layout("letter").text["headline"]
    fitted = fit(HEADLINE, style, 500)
    assert fitted is not None and fitted.rtl
    (line,) = fitted.lines
    # Visual order, left to right: the first word read (أبلغ) comes last, its letters reversed.
    assert unicodedata.normalize("NFKC", line).split(" ")[-1] == "أبلغ"[::-1]
    mixed = fit("اتصل بالرقم 1-833-900-1010", style, 500)
    assert mixed is not None and "1-833-900-1010" in mixed.lines[0]  # numbers stay LTR


def test_the_arabic_font_ships_with_its_licence() -> None:
    fonts = Path(text.__file__).parent / "fonts"
    assert (fonts / "NotoNaskhArabic-Regular.ttf").is_file()
    assert "SIL Open Font License" in (fonts / "OFL.txt").read_text()
