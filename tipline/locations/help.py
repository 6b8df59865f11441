"""Help numbers as data: each country's emergency number and trafficking hotline (help.toml).

The numbers live beside the poster wording (posters/help.toml, or a deployment's own posters
folder), so pages and printed posters read one file: a station in Québec shows and prints the
Canadian hotline, never the US one.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tipline.config import Settings
from tipline.locations import regions
from tipline.resources import resource_dir

FILE = "help.toml"
#: The country of a place we cannot locate (a report without a poster offers every country).
HOME = "US"
_KEYS = ("emergency", "hotline_call", "hotline_text")


class HelpDataError(ValueError):
    """help.toml is missing, malformed, or lacks a number a country needs."""


@dataclass(frozen=True)
class HelpNumbers:
    """One country's (or region's) numbers, and its hotline's name in each language."""

    country: str
    emergency: str
    hotline_call: str
    hotline_text: str  # "" when the hotline takes no text messages
    names: Mapping[str, str]
    country_names: Mapping[str, str]

    def name(self, lang: str) -> str:
        """The hotline's name and hours in `lang`, else in English."""
        return self.names.get(lang) or self.names["en"]

    def country_name(self, lang: str) -> str:
        """The country's name in `lang`, else in English, else its code."""
        return self.country_names.get(lang) or self.country_names.get("en") or self.country

    @property
    def call_uri(self) -> str:
        """`tel:+18333001010`: the digits a phone dials, with the country code of NANP."""
        digits = re.sub(r"\D", "", self.hotline_call)
        return f"tel:+{digits}" if len(digits) == 11 else f"tel:{digits}"

    @property
    def numbers(self) -> dict[str, str]:
        """The placeholders poster wording fills: {emergency}, {hotline_call}, {hotline_text}."""
        return {key: getattr(self, key) for key in _KEYS}


@dataclass(frozen=True)
class HelpBook:
    """Every country's numbers, with the overrides of single regions."""

    countries: Mapping[str, HelpNumbers]
    regions: Mapping[str, HelpNumbers]

    def for_place(self, region: str | None, country: str | None) -> HelpNumbers:
        """The numbers for a station's region (its override, else its country's)."""
        if region and region.upper() in self.regions:
            return self.regions[region.upper()]
        return self.for_country(country)

    def for_places(self, places: Sequence[tuple[str | None, str]]) -> list[HelpNumbers]:
        """Each distinct set of numbers of these places; every country's when none is known."""
        found: list[HelpNumbers] = []
        for region, country in places:
            numbers = self.for_place(region, country)
            if numbers not in found:
                found.append(numbers)
        return sorted(found, key=lambda h: (h.country != HOME, h.country)) or self.all()

    def for_country(self, country: str | None) -> HelpNumbers:
        """A country's numbers; the home country's for an unknown or missing one."""
        return self.countries.get((country or "").upper()) or self.countries[HOME]

    def all(self) -> list[HelpNumbers]:
        """Every country, the home country first: for a page that does not know where it is."""
        return sorted(self.countries.values(), key=lambda h: (h.country != HOME, h.country))


def load(folder: Path) -> HelpBook:
    """`folder`/help.toml, read once per process (the pages: every request reads it)."""
    return _cached(folder.resolve())


@functools.cache
def _cached(folder: Path) -> HelpBook:
    return read(folder)


def read(folder: Path) -> HelpBook:
    """Read `folder`/help.toml now (posters read it each time they print, like their wording);
    HelpDataError names the bad key."""
    path = folder / FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise HelpDataError(f"{path}: {exc}") from exc
    countries = {
        code.upper(): _numbers(code.upper(), table, None, f"country.{code}")
        for code, table in _table(raw, "country", path).items()
    }
    if HOME not in countries:
        raise HelpDataError(f"{path}: country.{HOME} is missing (the home country's numbers)")
    overrides = {}
    for code, table in _table(raw, "region", path, required=False).items():
        region = regions.find(code)
        if region is None or region.country is None:
            raise HelpDataError(f"{path}: region.{code} is not a state, province or territory")
        base = countries.get(str(region.country)) or countries[HOME]
        overrides[region.code] = _numbers(base.country, table, base, f"region.{code}")
    return HelpBook(countries, overrides)


def _table(raw: Any, key: str, path: Path, *, required: bool = True) -> dict[str, Any]:
    value = raw.get(key, {} if not required else None)
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise HelpDataError(f"{path}: [{key}.XX] tables expected")
    return value


def _numbers(
    country: str, table: Mapping[str, Any], base: HelpNumbers | None, where: str
) -> HelpNumbers:
    values: dict[str, str] = {}
    for key in _KEYS:
        value = table.get(key, getattr(base, key) if base else None)
        if not isinstance(value, str) or (key != "hotline_text" and not value.strip()):
            raise HelpDataError(f"{FILE}: {where}.{key} must be a non-empty string")
        values[key] = value.strip()
    names = table.get("name", base.names if base else None)
    if not isinstance(names, Mapping) or not isinstance(names.get("en"), str):
        raise HelpDataError(f"{FILE}: {where}.name needs at least an English name (en = ...)")
    country_names = table.get("country_name", base.country_names if base else {})
    if not isinstance(country_names, Mapping):
        raise HelpDataError(f"{FILE}: {where}.country_name must be a table of names by language")
    return HelpNumbers(
        country=country, names=dict(names), country_names=dict(country_names), **values
    )


def book(settings: Settings) -> HelpBook:
    """The numbers of this deployment: its own posters folder's help.toml, else the shipped one."""
    return load(Path(settings.posters_dir) if settings.posters_dir else resource_dir("posters"))
