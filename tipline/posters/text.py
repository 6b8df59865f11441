"""The poster font and text fitting: wrap, then shrink, never overflow a box."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import reportlab
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


@dataclass(frozen=True)
class _Metrics:
    ascent: float  # per point of type size, the highest accent included
    descent: float
    covered: frozenset[str]


@lru_cache(maxsize=1)
def font_metrics() -> _Metrics:
    """Register the poster font with reportlab (once) and return its vertical metrics."""
    folder = Path(reportlab.__file__).resolve().parent / "fonts"
    faces = []
    for name, filename in _FONT_FILES.items():
        path = folder / filename
        if not path.is_file():
            raise FontMissing(f"poster font {path} not found: reinstall reportlab")
        font = TTFont(name, str(path))
        pdfmetrics.registerFont(font)
        faces.append(font.face)
    covered = frozenset(chr(c) for c in faces[0].charToGlyph if c in faces[1].charToGlyph)
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
    paragraphs = [printable(p).split(" ") for p in text.split("\n") if p.strip()]
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
            return _fitted(lines, size, style, truncated=False)
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
    return _fitted(kept, size, style, truncated=True)


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
    lines: list[tuple[str, float]], size: float, style: TextStyle, *, truncated: bool
) -> Fitted:
    return Fitted(
        lines=tuple(line for line, _ in lines),
        widths=tuple(w * size for _, w in lines),
        size=size,
        leading=style.leading * size,
        truncated=truncated,
    )


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
    return float(pdfmetrics.stringWidth(text, font, 1.0))
