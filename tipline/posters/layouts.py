"""Poster layouts as data: posters/program.toml, posters/wording/*.toml, posters/layouts/*.toml."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tipline.config import Settings
from tipline.locations import help as help_numbers
from tipline.resources import resource_dir

CMYK = tuple[float, float, float, float]
Align = Literal["left", "center"]
Arrangement = Literal["side", "stack"]

#: Every text a poster prints, by the name its style has in a layout file's [text] table.
TEXT_ROLES = (
    "agency",
    "headline",
    "action",
    "headline2",
    "action2",
    "here",
    "place",
    "spot",
    "code",
    "url",
    "emergency",
    "hotline",
)
WORDING_KEYS = ("headline", "action", "here", "poster", "emergency", "hotline")
#: Printed instead of `hotline` where the country's hotline takes no text messages (Canada).
CALL_ONLY_KEY = "hotline_call_only"
NUMBER_KEYS = ("emergency", "hotline_call", "hotline_text")
BAND_COLOURS = ("brand", "alert")  # the header band and the footer band with the help numbers

_POINTS_PER = {"pt": 1.0, "in": 72.0, "mm": 72 / 25.4, "cm": 72 / 2.54}
_LENGTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(pt|in|mm|cm)?\s*$")


class LayoutError(ValueError):
    """A layout, wording or program file is missing, malformed or cannot hold its texts."""


class UnknownLayout(LayoutError):
    """No layout file has this name."""


@dataclass(frozen=True)
class TextStyle:
    """How one text is set: its largest size, the smallest it may shrink to, its box in lines."""

    size: float
    min_size: float
    lines: int
    leading: float = 1.2
    bold: bool = False
    colour: str = "ink"
    align: Align = "left"


@dataclass(frozen=True)
class Wording:
    """The words of one language, with the hotline numbers already filled in."""

    headline: str
    action: str
    here: str
    poster: str
    emergency: str
    hotline: str


@dataclass(frozen=True)
class PosterLayout:
    """One printed size with the program's wording, numbers and colours: all a renderer needs."""

    name: str
    label: str
    width: float  # points, trimmed page
    height: float
    margin: float
    min_type: float
    arrangement: Arrangement
    qr_width: float  # the symbol, quiet zone excluded
    header_height: float
    gap: float
    column_gap: float
    footer_padding: float
    text: Mapping[str, TextStyle]
    colours: Mapping[str, CMYK]
    agency: str
    wording: Mapping[str, Mapping[str, str]]  # by language, with {placeholders} for numbers
    second_language: Mapping[str, str]
    numbers: Mapping[str, str]  # the home country's (help.toml), for an item that names none
    help_book: help_numbers.HelpBook  # every country's numbers, from the same folder

    def languages(
        self, lang: str, numbers: Mapping[str, str] | None = None
    ) -> tuple[Wording, Wording]:
        """The wording printed first (the placement's language) and second, with `numbers`
        (a country's, from help.toml) filled in."""
        if lang not in self.wording or lang not in self.second_language:
            known = ", ".join(sorted(self.second_language))
            raise LayoutError(f"no poster wording for language {lang!r} (have: {known})")
        filled = numbers or self.numbers
        return (
            _filled(self.wording[lang], filled, lang),
            _filled(self.wording[self.second_language[lang]], filled, self.second_language[lang]),
        )


def posters_dir() -> Path:
    """The folder holding program.toml, wording/ and layouts/."""
    return resource_dir("posters")


def configured_dir(settings: Settings) -> Path:
    """The posters folder a deployment chose (TIPLINE_POSTERS_DIR), else the shipped one."""
    return Path(settings.posters_dir) if settings.posters_dir else posters_dir()


def layout_names(folder: Path | None = None) -> list[str]:
    """The sizes one can print, e.g. ["a4", "letter", "sticker", "tabloid"]."""
    return sorted(path.stem for path in _data_files((folder or posters_dir()) / "layouts"))


def get_layout(name: str, folder: Path | None = None) -> PosterLayout:
    """Load the layout `name` with the program and wording; LayoutError if absent or invalid."""
    root = folder or posters_dir()
    files = {path.stem: path for path in _data_files(root / "layouts")}
    if name not in files:
        known = ", ".join(sorted(files)) or "none"
        raise UnknownLayout(f"no poster layout {name!r} (have: {known})")
    program = _Reader(_read(_data_file(root, "program")), "program")
    try:
        book = help_numbers.read(root)
    except help_numbers.HelpDataError as exc:
        raise LayoutError(str(exc)) from exc
    second = {k: str(v) for k, v in program.sub("languages").raw.items()}
    wording = {lang: _wording(root, lang) for lang in sorted({*second, *second.values()})}
    for lang, raw in wording.items():
        for country in book.all():  # every country's numbers fill every language's wording
            _filled(raw, country.numbers, lang)
    colours = {k: _cmyk(v, f"program: colours.{k}") for k, v in program.sub("colours").raw.items()}
    for band in BAND_COLOURS:
        if band not in colours:
            raise LayoutError(f"program: colours.{band} is missing (the colour of a band)")
    layout = _layout(name, _Reader(_read(files[name]), f"layouts/{name}"))
    for role, style in layout["text"].items():
        if style.colour not in colours:
            raise LayoutError(f"layouts/{name}: text.{role} uses unknown colour {style.colour!r}")
    return PosterLayout(
        **layout,
        colours=colours,
        agency=program.text("agency"),
        wording=wording,
        second_language=second,
        numbers=book.for_country(help_numbers.HOME).numbers,
        help_book=book,
    )


def _wording(root: Path, lang: str) -> dict[str, str]:
    reader = _Reader(_read(_data_file(root / "wording", lang)), f"wording/{lang}")
    values = {key: reader.text(key) for key in WORDING_KEYS}
    if CALL_ONLY_KEY in reader.raw:
        values[CALL_ONLY_KEY] = reader.text(CALL_ONLY_KEY)
    return values


def _filled(raw: Mapping[str, str], numbers: Mapping[str, str], lang: str) -> Wording:
    values = {}
    for key in WORDING_KEYS:
        template = raw[key]
        if key == "hotline" and not numbers.get("hotline_text"):
            if CALL_ONLY_KEY not in raw:
                raise LayoutError(
                    f"wording/{lang}: {CALL_ONLY_KEY} is missing (a hotline without text messages)"
                )
            template = raw[CALL_ONLY_KEY]
        try:
            values[key] = template.format_map(numbers)
        except (KeyError, ValueError, IndexError) as exc:
            raise LayoutError(f"wording/{lang}: {key} has a bad placeholder ({exc})") from exc
    return Wording(**values)


def _layout(name: str, reader: _Reader) -> dict[str, Any]:
    arrangement = reader.text("arrangement")
    if arrangement not in ("side", "stack"):
        raise LayoutError(f"layouts/{name}: arrangement must be 'side' or 'stack'")
    min_type = reader.length("min_type")
    text_table = reader.sub("text")
    styles = {role: _style(text_table.sub(role), min_type) for role in TEXT_ROLES}
    margin = reader.length("margin")
    # Print shops trim up to 3 mm off and want nothing that matters within 5 mm of the edge.
    if margin < 5 * _POINTS_PER["mm"]:
        raise LayoutError(f"layouts/{name}: margin must be at least 5mm (the safe margin)")
    return {
        "name": name,
        "label": reader.text("label"),
        "width": reader.length("width"),
        "height": reader.length("height"),
        "margin": margin,
        "min_type": min_type,
        "arrangement": arrangement,
        "qr_width": reader.length("qr_width"),
        "header_height": reader.length("header_height"),
        "gap": reader.length("gap"),
        "column_gap": reader.length("column_gap"),
        "footer_padding": reader.length("footer_padding"),
        "text": styles,
    }


def _style(reader: _Reader, min_type: float) -> TextStyle:
    size = reader.length("size")
    min_size = reader.length("min", size)
    if not min_type <= min_size <= size:
        raise LayoutError(f"{reader.where}: need min_type ({min_type}) <= min <= size")
    lines = reader.raw.get("lines", 1)
    align = reader.raw.get("align", "left")
    leading = reader.raw.get("leading", 1.2)
    if not isinstance(lines, int) or lines < 0:
        raise LayoutError(f"{reader.where}: lines must be a whole number >= 0")
    if align not in ("left", "center"):
        raise LayoutError(f"{reader.where}: align must be 'left' or 'center'")
    if not isinstance(leading, int | float) or not 0.8 <= leading <= 3:
        raise LayoutError(f"{reader.where}: leading must be a number between 0.8 and 3")
    return TextStyle(
        size=size,
        min_size=min_size,
        lines=lines,
        leading=float(leading),
        bold=bool(reader.raw.get("bold", False)),
        colour=str(reader.raw.get("colour", "ink")),
        align=align,
    )


class _Reader:
    """Typed access to one table of a data file, naming the file and key in every error."""

    def __init__(self, raw: Any, where: str) -> None:
        if not isinstance(raw, dict):
            raise LayoutError(f"{where}: expected a table")
        self.raw: dict[str, Any] = raw
        self.where = where

    def _get(self, key: str) -> Any:
        if key not in self.raw:
            raise LayoutError(f"{self.where}: missing {key!r}")
        return self.raw[key]

    def sub(self, key: str) -> _Reader:
        return _Reader(self._get(key), f"{self.where}: {key}")

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value.strip():
            raise LayoutError(f"{self.where}: {key} must be a non-empty string")
        return value

    def length(self, key: str, default: float | None = None) -> float:
        if key not in self.raw and default is not None:
            return default
        value = self._get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
        match = _LENGTH.match(value) if isinstance(value, str) else None
        if not match:
            raise LayoutError(f"{self.where}: {key} must be a length like 16, '7cm' or '8.5in'")
        return float(match.group(1)) * _POINTS_PER[match.group(2) or "pt"]


def _cmyk(value: Any, where: str) -> CMYK:
    if (
        not isinstance(value, list)
        or len(value) != 4
        or not all(isinstance(v, int | float) and 0 <= v <= 100 for v in value)
    ):
        raise LayoutError(f"{where}: a colour is four CMYK percentages, e.g. [0, 0, 0, 100]")
    c, m, y, k = (v / 100 for v in value)
    return (c, m, y, k)


def _data_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise LayoutError(f"poster data folder {folder} not found")
    return [p for p in folder.iterdir() if p.suffix in (".toml", ".json") and p.is_file()]


def _data_file(folder: Path, stem: str) -> Path:
    for suffix in (".toml", ".json"):
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            return path
    raise LayoutError(f"{folder / stem}.toml not found")


def _read(path: Path) -> Any:
    try:
        if path.suffix == ".json":
            return json.loads(path.read_text(encoding="utf-8"))
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LayoutError(f"{path}: {exc}") from exc
