"""The traveler's pages in several languages: one JSON catalog per language, loaded once."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CATALOG_DIR = Path(__file__).resolve().parent / "catalogs"
DEFAULT = "en"


class Catalog(dict[str, str]):
    """One language's strings; `t.key` in a template, `t("key", n=1)` to fill placeholders."""

    def __init__(self, lang: str, strings: dict[str, str]) -> None:
        super().__init__(strings)
        self.lang = lang

    def __call__(self, key: str, **values: Any) -> str:
        return self[key].format(**values)


def _load() -> dict[str, Catalog]:
    catalogs = {}
    for path in sorted(CATALOG_DIR.glob("*.json")):
        catalogs[path.stem] = Catalog(path.stem, json.loads(path.read_text(encoding="utf-8")))
    return catalogs


CATALOGS = _load()
LANGUAGES = tuple(sorted(CATALOGS, key=lambda code: (code != DEFAULT, code)))


def choose(*preferred: str | None, accepted: Iterable[str] = ()) -> str:
    """The first supported language among `preferred`, then the browser's, then English."""
    for lang in (*preferred, *accepted):
        if lang:
            short = lang.strip().lower()[:2]
            if short in CATALOGS:
                return short
    return DEFAULT


def catalog(lang: str) -> Catalog:
    """The catalog for a supported language (English for anything else)."""
    return CATALOGS.get(lang, CATALOGS[DEFAULT])
