"""Render posters: plain data in, print-ready PDF bytes out (reportlab, no Flask)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

from reportlab import rl_config
from reportlab.pdfgen.canvas import Canvas

from tipline.locations.codes import display
from tipline.posters.layouts import CMYK, TEXT_ROLES, LayoutError, PosterLayout, TextStyle
from tipline.posters.qr import QUIET_ZONE, path_operators, qr_rows
from tipline.posters.text import (
    REGULAR,
    Fitted,
    box_height,
    fit,
    font_metrics,
    font_name,
    runs,
)

MM = 72 / 25.4
BLEED = 3 * MM
# Crop marks start outside the bleed, so a trim that wanders by up to 3 mm never shows them.
MARK_LENGTH = 6 * MM
SLUG = BLEED + MARK_LENGTH + 1 * MM
MARK_WIDTH = 0.25
# The QR box is sized for the smallest symbol a URL with a code makes (version 2, 25 modules):
# a larger version only shrinks the modules, and its quiet zone with them.
_SMALLEST_SYMBOL = 25
# Only where the poster is may be cut short (with an ellipsis); wording must fit or fail loudly.
_MAY_TRUNCATE = frozenset({"place", "spot"})
# The QR is never a layout choice: pure process black (not rich black, which misregisters into
# blurry module edges) on white, the contrast every scanner is built for.
_QR_BLACK = "0 0 0 1 k"
_PAPER = "0 0 0 0 k"
_SIDE_ROLES = ("here", "place", "spot", "code")
_EPSILON = 1e-6
RTL_LANGUAGES = frozenset({"ar"})
_LATIN = re.compile("[A-Za-z]")


@dataclass(frozen=True)
class PosterItem:
    """One poster to print: plain data, so the CLI, the staff desk and tests all build it alike."""

    code: str  # the placement code, "K7Q2M9XD"
    url: str  # what the QR encodes: "HTTPS://TIPS.EXAMPLE.ORG/T/K7Q2M9XD"
    short_url: str  # what is printed in words: "tips.example.org/t/K7Q2M9XD"
    lang: str  # printed first; the layout names the second language
    place: str  # "New York Penn Station (NYP)" or "Train 66 · Northeast Regional"
    spot: str  # "Women's restroom, concourse A"
    group_key: str  # posters of one station or train share it; the PDF outline groups by it
    group_title: str  # the outline entry of the group: the station or the train
    # The country's help numbers (help.toml: emergency, hotline_call, hotline_text); None for
    # the layout's home country.
    numbers: Mapping[str, str] | None = None


@dataclass(frozen=True)
class _Box:
    x: float
    top: float
    width: float


@dataclass(frozen=True)
class _Geometry:
    """What is fixed for one size: bands, footer columns, the QR's room, each text's width."""

    header_bottom: float
    footer_top: float
    qr_side: float  # symbol and quiet zone
    widths: dict[str, float]
    agency: _Box
    columns: tuple[dict[str, _Box], dict[str, _Box]]  # the footer, first and second language


def render_posters(
    layout: PosterLayout, items: Sequence[PosterItem], *, bleed: bool = False
) -> bytes:
    """One page per item, in order, with an outline by group; LayoutError if a text cannot fit."""
    if not items:
        raise ValueError("no posters to render")
    font_metrics()  # registers the font, so the page preamble names it rather than Helvetica
    with _binary_streams():
        return _render(layout, items, bleed=bleed)


@contextmanager
def _binary_streams() -> Iterator[None]:
    """Skip reportlab's ASCII85 layer on page streams: it adds a quarter to every page's bytes.

    reportlab reads this setting from a module global while writing; a concurrent render that
    sees either value still writes a valid PDF, since each stream records its own filters.
    """
    saved = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = saved


def _render(layout: PosterLayout, items: Sequence[PosterItem], *, bleed: bool) -> bytes:
    geometry = _geometry(layout)
    offset = SLUG if bleed else 0.0
    buffer = io.BytesIO()
    canvas = Canvas(
        buffer,
        pagesize=(layout.width + 2 * offset, layout.height + 2 * offset),
        pageCompression=1,
        # Print shops separate into CMYK; an RGB colour anywhere is refused, not converted.
        enforceColorSpace="cmyk",
        initialFontName=REGULAR,
    )
    canvas.setTitle(f"{layout.agency}: posters ({layout.label})")
    canvas.setSubject(f"{len(items)} tip-line posters, one page per placement")
    canvas.setAuthor(layout.agency)
    canvas.setCreator("Tipline")
    if bleed:
        canvas.setTrimBox((offset, offset, offset + layout.width, offset + layout.height))
        canvas.setBleedBox(
            (
                offset - BLEED,
                offset - BLEED,
                offset + layout.width + BLEED,
                offset + layout.height + BLEED,
            )
        )
    group = None
    for number, item in enumerate(items):
        if item.group_key != group:
            group = item.group_key
            canvas.bookmarkPage(f"g{number}")
            canvas.addOutlineEntry(item.group_title, f"g{number}", level=0)
        canvas.bookmarkPage(f"p{number}")
        canvas.addOutlineEntry(f"{item.spot} · {display(item.code)}", f"p{number}", level=1)
        if bleed:
            _crop_marks(canvas, layout, offset)
            canvas.translate(offset, offset)
        _page(canvas, layout, geometry, item, bleed=BLEED if bleed else 0.0)
        canvas.showPage()
    canvas.showOutline()
    canvas.save()
    return buffer.getvalue()


def _page(
    canvas: Canvas, layout: PosterLayout, geometry: _Geometry, item: PosterItem, *, bleed: float
) -> None:
    first, second = layout.languages(item.lang, item.numbers)
    texts = {
        "headline": first.headline,
        "action": first.action,
        "headline2": second.headline,
        "action2": second.action,
        "here": _pair(first.here, second.here),
        "place": item.place,
        "spot": item.spot,
        "code": f"{_pair(first.poster, second.poster)} {display(item.code)}",
        "url": item.short_url,
    }
    fitted = {role: _fit(layout, role, text, geometry.widths[role]) for role, text in texts.items()}
    boxes, qr = _place(layout, geometry, {role: _used(f) for role, f in fitted.items()})

    width, height = layout.width, layout.height
    _fill(canvas, layout.colours["brand"])
    top_band = height + bleed - geometry.header_bottom
    canvas.rect(-bleed, geometry.header_bottom, width + 2 * bleed, top_band, stroke=0, fill=1)
    _fill(canvas, layout.colours["alert"])
    canvas.rect(-bleed, -bleed, width + 2 * bleed, geometry.footer_top + bleed, stroke=0, fill=1)

    agency = _fit(layout, "agency", layout.agency, geometry.widths["agency"])
    # Centred in the band, below the top safe margin.
    agency_top = min(
        height - layout.margin, geometry.header_bottom + (layout.header_height + _used(agency)) / 2
    )
    _draw(canvas, layout, "agency", agency, replace(geometry.agency, top=agency_top))
    for role, box in boxes.items():
        _draw(canvas, layout, role, fitted[role], box)
    # A right-to-left first language reads from the right: its footer column goes there.
    columns = geometry.columns[::-1] if item.lang in RTL_LANGUAGES else geometry.columns
    for wording, column in zip((first, second), columns, strict=True):
        for role in ("emergency", "hotline"):
            text = getattr(wording, role)
            _draw(canvas, layout, role, _fit(layout, role, text, column[role].width), column[role])
    _qr(canvas, item.url, qr, layout.qr_width)


def _pair(first: str, second: str) -> str:
    return first if first == second else f"{first} · {second}"


def _fit(layout: PosterLayout, role: str, text: str, width: float) -> Fitted:
    style = layout.text[role]
    fitted = fit(text, style, width, may_truncate=role in _MAY_TRUNCATE)
    if fitted is None:
        raise LayoutError(
            f"{layout.name}: the {role} text {text!r} does not fit its box even at "
            f"{style.min_size:g} pt; shorten the wording or give text.{role} more lines"
        )
    return fitted


def _used(fitted: Fitted) -> float:
    """The height a fitted text takes, from its highest accent to its lowest descender."""
    if not fitted.lines:
        return 0.0
    metrics = font_metrics()
    return (len(fitted.lines) - 1) * fitted.leading + (
        metrics.ascent + metrics.descent
    ) * fitted.size


def _draw(canvas: Canvas, layout: PosterLayout, role: str, fitted: Fitted, box: _Box) -> None:
    style = layout.text[role]
    if not fitted.lines or style.lines == 0:
        return
    baseline = box.top - font_metrics().ascent * fitted.size
    centred = style.align == "center"
    font = font_name(style)
    if fitted.rtl or any(len(runs(line, font)) > 1 for line in fitted.lines):
        _draw_runs(canvas, layout, style, fitted, box, baseline)
        return
    lefts = [box.x + ((box.width - w) / 2 if centred else 0.0) for w in fitted.widths]
    # One text object per box: font, leading and colour are set once for all its lines.
    text = canvas.beginText(lefts[0], baseline)
    text.setFont(font, fitted.size, fitted.leading)
    text.setFillColorCMYK(*layout.colours[style.colour])
    for index, (line, left) in enumerate(zip(fitted.lines, lefts, strict=True)):
        if centred and index:
            text.setTextOrigin(left, baseline - index * fitted.leading)
        text.textOut(line) if centred else text.textLine(line)
    canvas.drawText(text)


def _draw_runs(
    canvas: Canvas,
    layout: PosterLayout,
    style: TextStyle,
    fitted: Fitted,
    box: _Box,
    baseline: float,
) -> None:
    """Lines that mix Arabic with other text, run by run in each run's face; Arabic text is set
    flush right (a left-aligned box is mirrored), centred text stays centred."""
    text = canvas.beginText(box.x, baseline)
    text.setFillColorCMYK(*layout.colours[style.colour])
    # Arabic alone sits flush right; a pair with English ("Poster · ملصق") keeps its column's
    # left edge, in line with the place name under it.
    flush_right = fitted.rtl and not any(_LATIN.search(line) for line in fitted.lines)
    for index, (line, width) in enumerate(zip(fitted.lines, fitted.widths, strict=True)):
        slack = box.width - width
        left = box.x + (slack / 2 if style.align == "center" else slack if flush_right else 0.0)
        text.setTextOrigin(left, baseline - index * fitted.leading)
        for run, face in runs(line, font_name(style)):
            text.setFont(face, fitted.size, fitted.leading)
            text.textOut(run)
    canvas.drawText(text)


def _qr(canvas: Canvas, data: str, box: _Box, symbol_width: float) -> None:
    rows = qr_rows(data)
    module = symbol_width / len(rows)
    quiet = QUIET_ZONE * module
    side = symbol_width + 2 * quiet
    # Centred in the room kept for the smallest symbol; a larger version has a smaller quiet zone.
    left = box.x + (box.width - side) / 2
    bottom = box.top - box.width + (box.width - side) / 2
    canvas.addLiteral(
        f"q {_PAPER} {left:.3f} {bottom:.3f} {side:.3f} {side:.3f} re f {_QR_BLACK} "
        f"{module:.5f} 0 0 {module:.5f} {left + quiet:.3f} {bottom + quiet:.3f} cm "
        f"{path_operators(rows)} f Q"
    )


def _crop_marks(canvas: Canvas, layout: PosterLayout, offset: float) -> None:
    canvas.setStrokeColorCMYK(0, 0, 0, 1)
    canvas.setLineWidth(MARK_WIDTH)
    near, far = BLEED, BLEED + MARK_LENGTH
    lines = []
    for cx in (offset, offset + layout.width):
        for cy in (offset, offset + layout.height):
            out_x = -1 if cx == offset else 1
            out_y = -1 if cy == offset else 1
            lines.append((cx, cy + out_y * near, cx, cy + out_y * far))
            lines.append((cx + out_x * near, cy, cx + out_x * far, cy))
    canvas.lines(lines)


def _fill(canvas: Canvas, colour: CMYK) -> None:
    canvas.setFillColorCMYK(*colour)


def _geometry(layout: PosterLayout) -> _Geometry:
    """Fix bands, columns and widths for this size; LayoutError if its boxes cannot all fit."""
    style = layout.text
    m = layout.margin
    inner = layout.width - 2 * m
    qr_side = layout.qr_width * (_SMALLEST_SYMBOL + 2 * QUIET_ZONE) / _SMALLEST_SYMBOL
    if qr_side > inner:
        raise LayoutError(f"{layout.name}: the QR and its quiet zone are wider than the page")
    if layout.header_height - m < box_height(style["agency"]) - _EPSILON:
        raise LayoutError(f"{layout.name}: header_height cannot hold the agency name")

    column_width = (inner - layout.column_gap) / 2
    small_gap = layout.gap / 3
    emergency, hotline = box_height(style["emergency"]), box_height(style["hotline"])
    column_top = m + emergency + small_gap + hotline
    columns = tuple(
        {
            "emergency": _Box(x, column_top, column_width),
            "hotline": _Box(x, column_top - emergency - small_gap, column_width),
        }
        for x in (m, m + column_width + layout.column_gap)
    )
    widths = {role: inner for role in TEXT_ROLES}
    if layout.arrangement == "side":
        if inner - qr_side < 4 * layout.min_type:
            raise LayoutError(f"{layout.name}: no room for the texts beside the QR")
        widths.update({role: inner - qr_side for role in _SIDE_ROLES})
    geometry = _Geometry(
        header_bottom=layout.height - layout.header_height,
        footer_top=column_top + layout.footer_padding,
        qr_side=qr_side,
        widths=widths,
        agency=_Box(m, layout.height - m, inner),
        columns=(columns[0], columns[1]),
    )
    _place(layout, geometry, {role: box_height(style[role]) for role in TEXT_ROLES})
    return geometry


def _place(
    layout: PosterLayout, geometry: _Geometry, heights: Mapping[str, float]
) -> tuple[dict[str, _Box], _Box]:
    """Stack the texts and the QR between header and footer, spreading the spare height."""
    gap, small_gap = layout.gap, layout.gap / 3
    texts = [
        ("headline", heights["headline"], 0.0),
        ("", small_gap, 0.0),
        ("action", heights["action"], 0.0),
        ("", gap, 0.0),
        ("headline2", heights["headline2"], 0.0),
        ("", small_gap, 0.0),
        ("action2", heights["action2"], 0.0),
    ]
    if layout.arrangement == "side":
        after_qr = [("url", heights["url"], 0.0)]
    else:
        after_qr = [(role, heights[role], 0.0) for role in ("url", "code")] + [("", small_gap, 0.0)]
        after_qr += [(role, heights[role], 0.0) for role in ("here", "place", "spot")]
    flow = [("", gap, 1.0), *texts, ("", gap, 1.0), ("qr", geometry.qr_side, 0.0)]
    flow += [*after_qr, ("", gap, 1.0)]

    available = geometry.header_bottom - geometry.footer_top
    needed = sum(height for _, height, _ in flow)
    if needed > available + _EPSILON:
        raise LayoutError(
            f"{layout.name}: the texts need {needed:.0f} pt of height but there are "
            f"{available:.0f} pt between header and footer; use fewer lines or smaller sizes"
        )
    spare = (available - needed) / sum(weight for _, _, weight in flow)
    m, inner = layout.margin, layout.width - 2 * layout.margin
    boxes: dict[str, _Box] = {}
    qr = _Box(0, 0, 0)
    top = geometry.header_bottom
    for role, height, weight in flow:
        if role == "qr":
            left = m if layout.arrangement == "side" else (layout.width - height) / 2
            qr = _Box(left, top, height)
        elif role:
            boxes[role] = _Box(m, top, inner)
        top -= height + spare * weight
    if layout.arrangement == "side":
        column = sum(heights[role] for role in _SIDE_ROLES) + (gap / 2) * (len(_SIDE_ROLES) - 1)
        if column > geometry.qr_side + _EPSILON:
            raise LayoutError(f"{layout.name}: the texts beside the QR are taller than it")
        top = qr.top - (geometry.qr_side - column) / 2
        for role in _SIDE_ROLES:
            boxes[role] = _Box(m + geometry.qr_side, top, inner - geometry.qr_side)
            top -= heights[role] + gap / 2
    return boxes, qr
