"""The renderer, from plain data: page sizes, bleed, text layer, colours, type sizes, safe area."""

from __future__ import annotations

import re

import pytest

from tests.posters.conftest import (
    LONG_NAME,
    LONG_SPOT,
    MM,
    PAGE_SIZES,
    SAFE,
    SIZES,
    content_streams,
    decode,
    outline,
    page_boxes,
    page_texts,
    page_words,
    qr_url,
    rasterize,
    short_url,
)
from tipline.posters.layouts import get_layout
from tipline.posters.qr import merged_rects, qr_rows
from tipline.posters.render import PosterItem, render_posters


def item(
    code: str = "K7Q2M9XD",
    *,
    lang: str = "en",
    place: str = "New York Penn Station (NYP)",
    spot: str = "Women's restroom, concourse A",
    group: str = "station:1",
) -> PosterItem:
    return PosterItem(
        code=code,
        url=qr_url(code),
        short_url=short_url(code),
        lang=lang,
        place=place,
        spot=spot,
        group_key=group,
        group_title=place,
    )


AWKWARD = [
    item("A1B2C3D4", place=f"{LONG_NAME} (NYM)", spot=LONG_SPOT),
    item(
        "M0N1P2Q3",
        lang="fr",
        place="Aéroport Montréal Pierre-Elliott Trudeau (YMX)",
        spot="Toilettes près de l’entrée, côté débarcadère",
        group="station:2",
    ),
    item(
        "ZZZZ9999",
        lang="es",
        place="Train 66 · Northeast Regional",
        spot="Café car",
        group="train:1",
    ),
]


@pytest.mark.parametrize("size", SIZES)
def test_one_page_per_item_at_the_trimmed_size(size: str) -> None:
    pdf = render_posters(get_layout(size), AWKWARD)
    boxes = page_boxes(pdf)
    assert len(boxes) == len(AWKWARD)
    width, height = PAGE_SIZES[size]
    for page in boxes:
        assert page["MediaBox"] == pytest.approx((0, 0, width, height), abs=0.01)


@pytest.mark.parametrize("size", SIZES)
def test_bleed_adds_3mm_and_crop_marks_outside_it(size: str) -> None:
    pdf = render_posters(get_layout(size), AWKWARD[:1], bleed=True)
    (page,) = page_boxes(pdf)
    width, height = PAGE_SIZES[size]
    x0, y0, x1, y1 = page["TrimBox"]
    assert (x1 - x0, y1 - y0) == pytest.approx((width, height), abs=0.01)
    assert page["BleedBox"] == pytest.approx(
        (x0 - 3 * MM, y0 - 3 * MM, x1 + 3 * MM, y1 + 3 * MM), abs=0.01
    )
    media = page["MediaBox"]
    assert media[0] < x0 - 3 * MM and media[2] > x1 + 3 * MM  # room for the marks
    (stream,) = content_streams(pdf)
    marks = re.findall(r"([\d.]+) ([\d.]+) m ([\d.]+) ([\d.]+) l", stream)
    assert len(marks) == 8  # two at each corner
    for mark in marks:
        xa, ya, xb, yb = (float(v) for v in mark)
        # Each mark lies along a trim line, entirely outside the bleed.
        outside = [max(x0 - x, x - x1, y0 - y, y - y1) for x, y in ((xa, ya), (xb, yb))]
        assert min(outside) >= 3 * MM - 0.01
    (image,) = rasterize(pdf, 100)
    assert [b.text for b in decode(image)] == [AWKWARD[0].url]


@pytest.mark.parametrize("size", SIZES)
def test_text_layer_holds_the_code_url_numbers_and_both_languages(size: str) -> None:
    pdf = render_posters(get_layout(size), AWKWARD)
    texts = page_texts(pdf)
    for poster, text in zip(AWKWARD, texts, strict=True):
        assert short_url(poster.code) in text
        assert f"{poster.code[:4]}-{poster.code[4:]}" in text
        for number in ("911", "1-888-373-7888", "233733"):
            assert number in text
    english, french, spanish = texts
    assert "text 233733" in english
    assert english.index("Report human trafficking") < english.index(
        "Denuncie la trata de personas"
    )
    assert spanish.index("Denuncie la trata de personas") < spanish.index(
        "Report human trafficking"
    )
    assert french.index("Signalez la traite des personnes") < french.index(
        "Report human trafficking"
    )
    assert "Train 66 · Northeast Regional" in spanish
    assert "Aéroport Montréal Pierre-Elliott Trudeau (YMX)" in french


@pytest.mark.parametrize("size", SIZES)
def test_the_qr_is_merged_vector_paths_in_process_black(size: str) -> None:
    pdf = render_posters(get_layout(size), AWKWARD)
    assert b"/XObject" not in pdf and b"/Subtype /Image" not in pdf  # no raster anywhere
    for poster, stream in zip(AWKWARD, content_streams(pdf), strict=True):
        assert not re.search(r"\b(rg|RG|g|G|sc|scn|cs)\b", stream)  # CMYK only
        assert not re.search(r"\bDo\b", stream)
        qr = re.search(r"q 0 0 0 0 k (.*?) re f 0 0 0 1 k (.*?) cm (.*?) f Q", stream)
        assert qr, "no QR block in pure black (0 0 0 1 k)"
        rects = qr[3].split(" re")
        assert len([r for r in rects if r.strip()]) == len(merged_rects(qr_rows(poster.url)))


@pytest.mark.parametrize("size", ["letter", "a4", "tabloid"])
def test_body_type_is_16_pt_or_larger(size: str) -> None:
    pdf = render_posters(get_layout(size), AWKWARD)
    for words in page_words(pdf):
        smallest = min(w.y_max - w.y_min for w in words)
        assert smallest >= 16 - 0.01, smallest


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("bleed", [False, True])
def test_long_and_accented_names_stay_inside_the_safe_area(size: str, bleed: bool) -> None:
    pdf = render_posters(get_layout(size), AWKWARD, bleed=bleed)
    (trim,) = {page["TrimBox"] for page in page_boxes(pdf)}
    x0, y0, x1, y1 = trim
    media_height = page_boxes(pdf)[0]["MediaBox"][3]
    for words, poster in zip(page_words(pdf), AWKWARD, strict=True):
        for word in words:
            assert word.x_min >= x0 + SAFE - 0.01, (word, size)
            assert word.x_max <= x1 - SAFE + 0.01, (word, size)
            assert word.y_min >= media_height - y1 + SAFE - 0.01, (word, size)
            assert word.y_max <= media_height - y0 - SAFE + 0.01, (word, size)
        text = " ".join(w.text for w in words)
        assert "…" not in text  # shrunk or wrapped, never cut
        for name_word in poster.place.split() + poster.spot.split():
            assert name_word in text


@pytest.mark.parametrize("size", SIZES)
def test_a_spot_too_long_for_its_box_ends_in_an_ellipsis_inside_it(size: str) -> None:
    spot = "WWWWWWW MMMMMMMM " * 12  # wider than any 200 characters a person would type
    pdf = render_posters(get_layout(size), [item(spot=spot[:200])])
    (text,) = page_texts(pdf)
    assert "…" in text
    assert "1-888-373-7888" in text  # nothing after the spot was pushed off
    width, height = PAGE_SIZES[size]
    (words,) = page_words(pdf)
    for word in words:
        assert word.x_min >= SAFE - 0.01 and word.x_max <= width - SAFE + 0.01
        assert word.y_min >= SAFE - 0.01 and word.y_max <= height - SAFE + 0.01


def test_outline_groups_pages_by_station_and_train() -> None:
    pdf = render_posters(get_layout("letter"), AWKWARD)
    assert outline(pdf) == [
        (0, f"{LONG_NAME} (NYM)"),
        (1, f"{LONG_SPOT} · A1B2-C3D4"),
        (0, "Aéroport Montréal Pierre-Elliott Trudeau (YMX)"),
        (1, "Toilettes près de l’entrée, côté débarcadère · M0N1-P2Q3"),
        (0, "Train 66 · Northeast Regional"),
        (1, "Café car · ZZZZ-9999"),
    ]


def test_the_font_is_embedded_and_shared_by_all_pages() -> None:
    one = render_posters(get_layout("letter"), AWKWARD[:1])
    three = render_posters(get_layout("letter"), AWKWARD)
    assert one.count(b"/FontFile2") == 2  # regular and bold, once per document
    assert three.count(b"/FontFile2") == 2


def test_an_unknown_language_is_refused_with_the_languages_known() -> None:
    from tipline.posters.layouts import LayoutError

    with pytest.raises(LayoutError, match="'de'.*en, es, fr"):
        render_posters(get_layout("letter"), [item(lang="de")])
