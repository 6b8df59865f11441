"""Render a hand-off packet: plain data in, PDF bytes out (reportlab, no Flask).

What goes in is a `Shareable` (no notes, no staff names by construction) and the partner's
name; the traveler's words appear only when they consented, else a clear redaction.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from tipline.handoff.shareable import WITHHELD, Shareable, Stop
from tipline.posters.text import BOLD, REGULAR, font_metrics
from tipline.triage.display import stamp_utc as local

MM = 72 / 25.4
_BODY = ParagraphStyle("body", fontName=REGULAR, fontSize=10.5, leading=14)
_TITLE = ParagraphStyle("title", fontName=BOLD, fontSize=17, leading=22, spaceAfter=4)
_HEAD = ParagraphStyle("head", parent=_BODY, fontName=BOLD, fontSize=12, spaceBefore=10)
_REDACTED = ParagraphStyle(
    "redacted",
    parent=_BODY,
    backColor=HexColor("#222222"),
    textColor=HexColor("#ffffff"),
    borderPadding=6,
    spaceBefore=4,
    spaceAfter=4,
)


@dataclass(frozen=True)
class Packet:
    """One packet to print: the tip as it may leave, for whom, when, in which local zone."""

    tip: Shareable
    partner: str
    made_at: datetime
    timezone: str | None  # the tip's place's zone (a station's or its agency's)


def render_packet(packet: Packet) -> bytes:
    """The packet as a PDF, US Letter, one or more pages."""
    font_metrics()  # registers the embedded font
    out = io.BytesIO()
    tip = packet.tip
    document = SimpleDocTemplate(
        out,
        pagesize=LETTER,
        leftMargin=18 * MM,
        rightMargin=18 * MM,
        topMargin=16 * MM,
        bottomMargin=16 * MM,
        title=f"Tip {tip.reference} for {packet.partner}",
        author="Tipline",
        subject="Hand-off packet",
    )
    story = [
        Paragraph(f"Tip {tip.reference}", _TITLE),
        _p(f"Handed to {packet.partner} on {local(packet.made_at, packet.timezone)}."),
        Paragraph("Facts", _HEAD),
        _facts(packet),
        Paragraph("What the traveler saw", _HEAD),
        _p(", ".join(tip.indicator_labels) or "No indicator ticked."),
        Paragraph("In the traveler's words", _HEAD),
        *_words(tip),
        Spacer(1, 8 * MM),
        _p("Confidential: an anonymous report. Quote the reference above in any reply."),
    ]
    document.build(story)
    return out.getvalue()


def _p(text: str) -> Paragraph:
    return Paragraph(escape(text), _BODY)


def _stop(label: str, stop: Stop | None, tz_name: str | None) -> list[str]:
    if stop is None:
        return []
    when = f" at {local(stop.at, tz_name)}" if stop.at else ""
    return [label, f"{stop.name or stop.code}{when}"]


def _facts(packet: Packet) -> Table:
    tip, place = packet.tip, packet.tip.place
    rows = [
        ["Reference", tip.reference],
        ["Received", local(tip.received_at, packet.timezone)],
        ["Priority", tip.priority + (" — happening now" if tip.happening_now else "")],
        ["Jurisdictions", ", ".join(tip.jurisdictions)],
    ]
    if place.station_name or place.station_code:
        rows.append(["Station", f"{place.station_name} ({place.station_code}), {place.state}"])
    if place.train_number:
        moving = ", moving" if place.moving else ""
        rows.append(["Train", f"{place.train_number} {place.route_name or ''}{moving}".strip()])
    rows += [r for r in (_stop("Last stop", place.last_stop, packet.timezone),) if r]
    rows += [r for r in (_stop("Next stop", place.next_stop, packet.timezone),) if r]
    if place.poster_code:
        rows.append(["Poster", f"{place.poster_code} — {place.poster_spot or ''}".rstrip(" —")])
    table = Table([[_p(a), _p(b)] for a, b in rows], colWidths=[34 * MM, None], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _words(tip: Shareable) -> list[Paragraph]:
    if tip.words is None:
        return [Paragraph(escape(WITHHELD), _REDACTED)]
    words = tip.words
    parts = [
        ("Details", words.details),
        ("People", words.descriptions),
        ("How many", str(words.people_count) if words.people_count is not None else None),
        ("When", words.when_text),
        ("Where", words.where_text),
        ("Car", words.car),
        ("Direction", words.direction),
    ]
    return [_p(f"{label}: {text}") for label, text in parts if text]
