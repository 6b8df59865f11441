"""Layouts as data: the shipped sizes meet the print spec, and edits to the files show on paper."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from tests.posters.conftest import MM, PAGE_SIZES, SIZES, page_texts
from tests.posters.test_render import item
from tipline.posters.layouts import LayoutError, get_layout, layout_names, posters_dir
from tipline.posters.render import render_posters

QR_MINIMUM_CM = {"letter": 7, "a4": 7, "tabloid": 10, "sticker": 4}


@pytest.fixture
def posters_copy(tmp_path: Path) -> Path:
    """An editable copy of the shipped posters/ folder."""
    return Path(shutil.copytree(posters_dir(), tmp_path / "posters"))


def test_the_four_sizes_ship() -> None:
    assert layout_names() == sorted(SIZES)


@pytest.mark.parametrize("size", SIZES)
def test_each_size_meets_the_print_spec(size: str) -> None:
    layout = get_layout(size)
    assert (layout.width, layout.height) == pytest.approx(PAGE_SIZES[size], abs=0.01)
    assert layout.qr_width >= QR_MINIMUM_CM[size] * 10 * MM
    assert layout.margin >= 5 * MM
    if size != "sticker":
        assert layout.min_type >= 16
        assert all(style.min_size >= 16 for style in layout.text.values())
    assert set(layout.wording) == {"en", "es", "fr", "ar"}
    assert {layout.second_language["en"], layout.second_language["es"]} == {"es", "en"}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", ["en", "es", "fr", "ar"])
def test_every_language_fits_every_size(size: str, lang: str) -> None:
    # A wording too long for its box raises LayoutError rather than being cut.
    (text,) = page_texts(render_posters(get_layout(size), [item(lang=lang)]))
    assert "…" not in text


def test_wording_agency_and_numbers_come_from_the_files(posters_copy: Path) -> None:
    program = posters_copy / "program.toml"
    program.write_text(
        program.read_text().replace(
            'agency = "Transit Safety Task Force"', 'agency = "Empire State Task Force"'
        )
    )
    numbers = posters_copy / "help.toml"
    numbers.write_text(numbers.read_text().replace('emergency = "911"', 'emergency = "112"', 1))
    english = posters_copy / "wording" / "en.toml"
    english.write_text(english.read_text().replace("Report human trafficking", "Tell us"))
    layout = get_layout("letter", posters_copy)
    (text,) = page_texts(render_posters(layout, [item()]))
    assert "Empire State Task Force" in text
    assert "Tell us" in text and "Report human trafficking" not in text
    assert "Call 112" in text and "911" not in text


def test_a_new_size_is_a_new_file_in_toml_or_json(posters_copy: Path) -> None:
    letter = tomllib.loads((posters_copy / "layouts" / "letter.toml").read_text())
    letter.update(label="Legal, 8.5 × 14 in", height="14in")
    (posters_copy / "layouts" / "legal.json").write_text(json.dumps(letter))
    assert "legal" in layout_names(posters_copy)
    layout = get_layout("legal", posters_copy)
    assert (layout.width, layout.height) == (612, 1008)
    assert render_posters(layout, [item()]).startswith(b"%PDF")


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("wording/es.toml", 'poster = "Cartel"\n', "", "wording/es: missing 'poster'"),
        ("wording/en.toml", "Call {emergency}", "Call {police}", "bad placeholder"),
        ("layouts/letter.toml", 'width = "8.5in"', 'width = "wide"', "width must be a length"),
        ("layouts/letter.toml", 'margin = "0.4in"', 'margin = "3mm"', "at least 5mm"),
        ("layouts/letter.toml", 'colour = "accent"', 'colour = "gold"', "unknown colour 'gold'"),
        ("layouts/letter.toml", "min = 16, lines = 4", "min = 12, lines = 4", "min_type"),
        ("program.toml", "ink = [0, 0, 0, 100]", "ink = [0, 0, 0, 101]", "CMYK percentages"),
        ("program.toml", "[languages]", "[languages]\nbroken = ", "program.toml"),
        ("help.toml", 'hotline_call = "1-833-900-1010"', "", "country.CA.hotline_call"),
        ("wording/fr.toml", "hotline_call_only", "x", "hotline_call_only is missing"),
    ],
)
def test_bad_data_names_the_file_and_key(
    posters_copy: Path, file: str, old: str, new: str, message: str
) -> None:
    path = posters_copy / file
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(LayoutError, match=message):
        get_layout("letter", posters_copy)


def test_boxes_that_cannot_fit_the_page_are_refused_before_printing(posters_copy: Path) -> None:
    path = posters_copy / "layouts" / "letter.toml"
    path.write_text(path.read_text().replace('header_height = "0.9in"', 'header_height = "3in"'))
    with pytest.raises(LayoutError, match="letter: the texts need"):
        render_posters(get_layout("letter", posters_copy), [item()])


def test_wording_too_long_for_its_box_is_refused_not_cut(posters_copy: Path) -> None:
    path = posters_copy / "wording" / "en.toml"
    path.write_text(
        path.read_text().replace("Report human trafficking", "Report human trafficking " * 6)
    )
    with pytest.raises(LayoutError, match="the headline text .* does not fit"):
        render_posters(get_layout("letter", posters_copy), [item()])


def test_an_unknown_size_lists_the_sizes() -> None:
    with pytest.raises(LayoutError, match="no poster layout 'a3' \\(have: a4, letter, sticker"):
        get_layout("a3")
