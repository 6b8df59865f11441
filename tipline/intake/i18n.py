"""The traveler's pages in several languages, from gettext catalogs (`.po`) loaded once.

English lives in `messages.py` (what `pybabel extract` reads); each other language is a `.po`
file under `translations/<lang>/LC_MESSAGES/`, where the gettext context (msgctxt) is the key the
templates use. We read the `.po` files with Babel at start-up rather than compiling `.mo` files,
so a translator's edit needs no build step, and a missing or fuzzy translation falls back to
English (the completeness test keeps that from shipping).
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

from tipline.intake.messages import MESSAGES

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DEFAULT = "en"
# Scripts written right to left: their pages get dir="rtl" and a mirrored layout.
RIGHT_TO_LEFT = frozenset({"ar", "fa", "he", "ur"})
# A phone number inside right-to-left text is reordered by the bidi algorithm ("1-888-373-7888"
# shows as "7888-373-888-1"); isolating it (LRI ... PDI) keeps it as dialled.
PHONE = re.compile(r"\+?\d[\d-]{3,}\d")


def _isolate_numbers(text: str) -> str:
    return PHONE.sub(lambda match: f"\u2066{match.group(0)}\u2069", text)


class Catalog(dict[str, str]):
    """One language's strings; `t.key` in a template, `t("key", n=1)` to fill placeholders."""

    def __init__(
        self,
        lang: str,
        strings: dict[str, str],
        plurals: dict[str, tuple[str, tuple[str, ...]]] | None = None,
        plural_index: Callable[[int], int] | None = None,
    ) -> None:
        super().__init__(strings)
        self.lang = lang
        self.dir = "rtl" if lang in RIGHT_TO_LEFT else "ltr"
        self.plurals = plurals or {}  # key -> (count placeholder, forms)
        self._plural_index = plural_index or (lambda n: int(n != 1))

    def __call__(self, key: str, **values: Any) -> str:
        if self.dir == "rtl":
            # A number filled in (a country's hotline) keeps its order inside right-to-left text.
            values = {
                k: _isolate_numbers(v) if isinstance(v, str) else v for k, v in values.items()
            }
        if key in self.plurals:
            count, forms = self.plurals[key]
            index = self._plural_index(int(values[count]))
            return forms[min(index, len(forms) - 1)].format(**values)
        return self[key].format(**values)


def _english() -> Catalog:
    strings, plurals = {}, {}
    for key, texts, count in MESSAGES:
        strings[key] = texts[-1]
        if count:
            plurals[key] = (count, texts)
    return Catalog(DEFAULT, strings, plurals)


def _from_po(lang: str, path: Path, english: Catalog) -> Catalog:
    with path.open("rb") as handle:
        po = read_po(handle, locale=lang)
    strings, plurals = dict(english), dict(english.plurals)
    for message in po:
        if not message.context or "fuzzy" in message.flags:
            continue
        if isinstance(message.string, tuple | list):
            if all(message.string) and message.context in english.plurals:
                forms = tuple(message.string)
                plurals[message.context] = (english.plurals[message.context][0], forms)
                strings[message.context] = forms[-1]
        elif message.string:
            strings[message.context] = message.string
    if lang in RIGHT_TO_LEFT:
        strings = {key: _isolate_numbers(text) for key, text in strings.items()}
        plurals = {
            key: (count, tuple(_isolate_numbers(form) for form in forms))
            for key, (count, forms) in plurals.items()
        }
    expression = po.plural_expr if po.plural_expr else "(n != 1)"
    return Catalog(lang, strings, plurals, gettext.c2py(expression))


def _load() -> dict[str, Catalog]:
    english = _english()
    catalogs = {DEFAULT: english}
    for path in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        lang = path.parent.parent.name
        catalogs[lang] = _from_po(lang, path, english)
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
