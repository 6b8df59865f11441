"""Fitting text: wrap first, then shrink, then (only for place names) cut with an ellipsis."""

from __future__ import annotations

from reportlab.pdfbase.pdfmetrics import stringWidth

from tipline.posters.layouts import TextStyle
from tipline.posters.text import REGULAR, box_height, fit, font_metrics, printable

STYLE = TextStyle(size=24, min_size=16, lines=2, leading=1.2)


def _used(fitted_lines: int, size: float) -> float:
    metrics = font_metrics()
    return ((fitted_lines - 1) * 1.2 + metrics.ascent + metrics.descent) * size


def test_short_text_keeps_its_largest_size_on_one_line() -> None:
    fitted = fit("Car 3 vestibule", STYLE, 300)
    assert fitted is not None
    assert (fitted.lines, fitted.size, fitted.truncated) == (("Car 3 vestibule",), 24, False)


def test_longer_text_wraps_before_it_shrinks() -> None:
    fitted = fit("Women's restroom near the lower concourse", STYLE, 300)
    assert fitted is not None
    assert fitted.size == 24 and len(fitted.lines) == 2
    assert all(w <= 300 for w in fitted.widths)


def test_text_too_long_for_its_lines_shrinks_until_it_fits() -> None:
    text = "Ny Moynihan Train Hall At Penn Station, Eighth Avenue"
    fitted = fit(text, STYLE, 300)
    assert fitted is not None and not fitted.truncated
    assert 16 <= fitted.size < 24 and len(fitted.lines) == 2
    assert " ".join(fitted.lines) == text
    for line, width in zip(fitted.lines, fitted.widths, strict=True):
        assert stringWidth(line, REGULAR, fitted.size) == width <= 300


def test_smaller_type_may_take_more_lines_within_the_same_box() -> None:
    style = TextStyle(size=30, min_size=12, lines=2, leading=1.2)
    text = (
        "Accessible restroom beside the ticket windows, west end of the lower concourse, "
        "by the stairs"
    )
    fitted = fit(text, style, 300)
    assert fitted is not None and not fitted.truncated
    assert len(fitted.lines) > 2 and fitted.size < 30
    assert _used(len(fitted.lines), fitted.size) <= box_height(style) + 1e-6


def test_a_word_wider_than_the_box_breaks_between_letters_at_the_minimum_size() -> None:
    fitted = fit("Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch", STYLE, 200)
    assert fitted is not None and fitted.size == 16
    assert all(w <= 200 for w in fitted.widths)
    assert "".join(fitted.lines).startswith("Llanfairpwll")


def test_text_that_cannot_fit_ends_in_an_ellipsis_or_is_refused() -> None:
    text = "restroom " * 40
    cut = fit(text, STYLE, 200)
    assert cut is not None and cut.truncated and cut.lines[-1].endswith("…")
    assert _used(len(cut.lines), cut.size) <= box_height(STYLE) + 1e-6
    assert all(w <= 200 for w in cut.widths)
    assert fit(text, STYLE, 200, may_truncate=False) is None


def test_a_no_break_space_holds_a_number_to_its_word() -> None:
    style = TextStyle(size=16, min_size=16, lines=4)

    def split_apart(text: str, width: float) -> bool:
        fitted = fit(text, style, width)
        assert fitted is not None
        return any(line.endswith("text") for line in fitted.lines)

    widths = range(150, 320, 5)
    assert any(split_apart("Call 1-888-373-7888 or text 233733 today", w) for w in widths)
    assert not any(split_apart("Call 1-888-373-7888 or text\u00a0233733 today", w) for w in widths)


def test_a_newline_in_the_wording_always_breaks_the_line() -> None:
    fitted = fit("In danger right now?\nCall 911", STYLE, 600)
    assert fitted is not None and fitted.lines == ("In danger right now?", "Call 911")


def test_accents_print_and_other_scripts_fall_back_to_their_base_letters() -> None:
    assert printable("Montréal  Gare\nCentrale") == "Montréal Gare Centrale"
    assert printable("Œuvre № 5") == "Œuvre No 5"  # № is not in the font; NFKD gives "No"
    assert printable("Ōtautahi") == "Otautahi"
    assert printable("Москва") == "??????"
