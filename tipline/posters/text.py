"""The poster font and text fitting: wrap, then shrink, never overflow a box."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import arabic_reshaper
import reportlab
from bidi import get_display
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from tipline.posters.layouts import TextStyle

REGULAR = "TiplineSans"
BOLD = "TiplineSans-Bold"
# Bitstream Vera ships inside reportlab (already a dependency), under a licence that allows
# embedding and redistribution. It covers Latin-1, Latin Extended-A's Œ/œ, typographic quotes
# and dashes: every glyph English, Spanish and French need, and every name in the Amtrak,
# Caltrain and VIA Rail feeds. DejaVu Sans is the same design extended, but only Debian ships it.
_FONT_FILES = {REGULAR: "Vera.ttf", BOLD: "VeraBd.ttf"}
ARABIC = "TiplineArabic"
ARABIC_BOLD = "TiplineArabic-Bold"
# Vera has no Arabic: Arabic letters are set in Noto Naskh Arabic (SIL OFL, shipped beside this
# module with its licence, embedded as a subset like Vera), everything else (digits, Latin names,
# punctuation) stays in Vera, run by run.
_ARABIC_FILES = {ARABIC: "NotoNaskhArabic-Regular.ttf", ARABIC_BOLD: "NotoNaskhArabic-Bold.ttf"}
_ARABIC_OF = {REGULAR: ARABIC, BOLD: ARABIC_BOLD}
_NUMBER = re.compile(r"[0-9][0-9\-./]*[0-9]")
_BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ARABIC_CHARS = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_STEP = 0.5  # points between the sizes tried when shrinking
_EPSILON = 1e-6
_ELLIPSIS = "…"
_SPACES = re.compile(r"[ \t\r\n]+")  # not U+00A0: a no-break space must not break


class FontMissing(RuntimeError):
    """The poster font files are not where reportlab installs them."""


@dataclass(frozen=True)
class Fitted:
    """A text set in a box: its lines, each line's width, the size and line spacing used."""

    lines: tuple[str, ...]
    widths: tuple[float, ...]
    size: float
    leading: float
    truncated: bool
    rtl: bool = False  # lines are in visual order (shaped, reordered): set flush right


@dataclass(frozen=True)
class _Metrics:
    ascent: float  # per point of type size, the highest accent included
    descent: float
    covered: frozenset[str]


@lru_cache(maxsize=1)
def font_metrics() -> _Metrics:
    """Register the poster fonts with reportlab (once) and return their vertical metrics."""
    folder = Path(reportlab.__file__).resolve().parent / "fonts"
    faces = []
    for name, filename in _FONT_FILES.items():
        path = folder / filename
        if not path.is_file():
            raise FontMissing(f"poster font {path} not found: reinstall reportlab")
        font = TTFont(name, str(path))
        pdfmetrics.registerFont(font)
        faces.append(font.face)
    arabic = []
    for name, filename in _ARABIC_FILES.items():
        path = Path(__file__).resolve().parent / "fonts" / filename
        if not path.is_file():
            raise FontMissing(f"poster font {path} not found: reinstall tipline")
        font = TTFont(name, str(path))
        pdfmetrics.registerFont(font)
        arabic.append(font.face)
    latin = {chr(c) for c in faces[0].charToGlyph if c in faces[1].charToGlyph}
    both = {chr(c) for c in arabic[0].charToGlyph if c in arabic[1].charToGlyph}
    covered = frozenset(latin | {ch for ch in both if _ARABIC_CHARS.match(ch)})
    return _Metrics(
        ascent=max(face.bbox[3] for face in faces) / 1000,
        descent=-min(face.bbox[1] for face in faces) / 1000,
        covered=covered,
    )


def font_name(style: TextStyle) -> str:
    """The registered font a style sets its text in."""
    return BOLD if style.bold else REGULAR


def box_height(style: TextStyle) -> float:
    """The height a style's box reserves: `lines` lines at its largest size, accents included."""
    if style.lines == 0:
        return 0.0
    metrics = font_metrics()
    extent = metrics.ascent + metrics.descent
    return ((style.lines - 1) * style.leading + extent) * style.size


def printable(text: str) -> str:
    """`text` with spaces tidied and any glyph the font lacks replaced by its unaccented base."""
    text = _SPACES.sub(" ", text).strip()
    covered = font_metrics().covered
    if all(ch in covered for ch in text):
        return text
    out = []
    for ch in text:
        if ch in covered:
            out.append(ch)
            continue
        # A name in another script would otherwise print as empty boxes; a base letter or a
        # question mark at least shows that something is there.
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if c in covered)
        out.append(base or "?")
    return "".join(out)


@lru_cache(maxsize=8192)
def fit(text: str, style: TextStyle, width: float, *, may_truncate: bool = True) -> Fitted | None:
    """Set `text` in a box `width` wide and box_height(style) high at the largest size that fits.

    Wraps at spaces (and always at a newline), then shrinks in half-point steps down to the
    style's minimum; lines are balanced, so a last line is not left with one word. At the minimum
    a word wider than the box breaks between letters, and text still too long ends in an ellipsis;
    with may_truncate False, None is returned instead so the caller can refuse.
    """
    rtl = bool(_ARABIC_CHARS.search(text))
    # Arabic is shaped (each letter in its joined form) before wrapping, so widths are those
    # printed; lines are wrapped in reading order and reordered for display only at the end.
    paragraphs = [
        (arabic_reshaper.reshape(printable(p)) if rtl else printable(p)).split(" ")
        for p in text.split("\n")
        if p.strip()
    ]
    if not style.lines:
        paragraphs = []
    metrics = font_metrics()
    extent = metrics.ascent + metrics.descent
    height = box_height(style)
    font = font_name(style)
    size = style.size
    while True:
        at_minimum = size <= style.min_size + _EPSILON
        lines = _set(paragraphs, font, width / size, break_words=at_minimum, balance=False)
        if lines is not None and (
            not lines or ((len(lines) - 1) * style.leading + extent) * size <= height + _EPSILON
        ):
            lines = _set(paragraphs, font, width / size, break_words=at_minimum, balance=True)
            assert lines is not None  # balancing only narrows lines that already fit
            return _fitted(lines, size, style, truncated=False, rtl=rtl)
        if at_minimum:
            break
        size = max(style.min_size, size - _STEP)
    if not may_truncate or lines is None:
        return None
    room = max(1, math.floor((height / size - extent) / style.leading + _EPSILON) + 1)
    kept = lines[:room]
    last, _ = kept[-1]
    while last and _width(last + _ELLIPSIS, font) > width / size + _EPSILON:
        last = last[:-1].rstrip()
    kept[-1] = (last + _ELLIPSIS, _width(last + _ELLIPSIS, font))
    return _fitted(kept, size, style, truncated=True, rtl=rtl)


def _set(
    paragraphs: list[list[str]], font: str, room: float, *, break_words: bool, balance: bool
) -> list[tuple[str, float]] | None:
    """Each paragraph's lines, one after the other; None if a word is wider than `room`."""
    lines: list[tuple[str, float]] = []
    for words in paragraphs:
        wrapped = _wrap(words, font, room, break_words=break_words)
        if wrapped is None:
            return None
        if balance:
            wrapped = _balanced(words, font, room, wrapped, break_words=break_words)
        lines += wrapped
    return lines


def _fitted(
    lines: list[tuple[str, float]], size: float, style: TextStyle, *, truncated: bool, rtl: bool
) -> Fitted:
    return Fitted(
        # Right to left: each line in the order it is printed (the bidi algorithm; a number or
        # a Latin name inside Arabic keeps reading left to right).
        lines=tuple(_visual(line) if rtl else line for line, _ in lines),
        widths=tuple(w * size for _, w in lines),
        size=size,
        leading=style.leading * size,
        truncated=truncated,
        rtl=rtl,
    )


def _visual(line: str) -> str:
    """A right-to-left line in printing order. A phone number is isolated first: inside Arabic
    its digits become Arabic numbers, which the bidi algorithm would reorder around each hyphen
    (1-833-900-1010 printed as 1010-900-833-1)."""
    isolated = _NUMBER.sub(lambda m: f"\u2066{m[0]}\u2069", line)
    return _BIDI_CONTROLS.sub("", get_display(isolated, base_dir="R"))


def runs(text: str, font: str) -> list[tuple[str, str]]:
    """`text` cut where the font changes: Arabic letters in the Arabic face, the rest in `font`."""
    if not _ARABIC_CHARS.search(text):
        return [(text, font)]
    found: list[tuple[str, str]] = []
    for ch in text:
        face = _ARABIC_OF.get(font, ARABIC) if _ARABIC_CHARS.match(ch) else font
        if found and found[-1][1] == face:
            found[-1] = (found[-1][0] + ch, face)
        else:
            found.append((ch, face))
    return found


def _wrap(
    words: list[str], font: str, room: float, *, break_words: bool
) -> list[tuple[str, float]] | None:
    """Greedy lines of `words` (widths per point of size) within `room`; None if a word is wider."""
    space = _width(" ", font)
    lines: list[tuple[str, float]] = []
    current: list[str] = []
    current_width = 0.0
    for word in words:
        word_width = _width(word, font)
        pieces = [(word, word_width)]
        if word_width > room + _EPSILON:
            if not break_words:
                return None
            pieces = _break_word(word, font, room)
        for piece, piece_width in pieces:
            if current and current_width + space + piece_width <= room + _EPSILON:
                current.append(piece)
                current_width += space + piece_width
            else:
                if current:
                    lines.append((" ".join(current), current_width))
                current, current_width = [piece], piece_width
    if current:
        lines.append((" ".join(current), current_width))
    return lines


def _balanced(
    words: list[str],
    font: str,
    room: float,
    lines: list[tuple[str, float]],
    *,
    break_words: bool,
) -> list[tuple[str, float]]:
    """The same number of lines, as even as they go: no lone last word under a long line."""
    if len(lines) < 2:
        return lines
    narrow, wide = max(width for _, width in lines) / 2, room
    for _ in range(12):  # the width found is within 1/4096 of the box of the narrowest
        middle = (narrow + wide) / 2
        trial = _wrap(words, font, middle, break_words=break_words)
        if trial is not None and len(trial) <= len(lines):
            wide, lines = middle, trial
        else:
            narrow = middle
    return lines


def _break_word(word: str, font: str, room: float) -> list[tuple[str, float]]:
    pieces: list[tuple[str, float]] = []
    piece = ""
    for ch in word:
        if piece and _width(piece + ch, font) > room + _EPSILON:
            pieces.append((piece, _width(piece, font)))
            piece = ""
        piece += ch
    pieces.append((piece, _width(piece, font)))
    return pieces


@lru_cache(maxsize=65536)
def _width(text: str, font: str) -> float:
    return sum(float(pdfmetrics.stringWidth(run, face, 1.0)) for run, face in runs(text, font))
