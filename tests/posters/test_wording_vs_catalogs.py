"""The posters' wording is checked against the traveler catalogs: a poster never points to a form
that cannot speak its language, and the words a traveler matches between paper and screen agree."""

from __future__ import annotations

import tomllib

from tipline.intake.i18n import LANGUAGES, catalog
from tipline.locations import help as help_numbers
from tipline.posters.layouts import posters_dir


def _wording() -> dict[str, dict[str, str]]:
    folder = posters_dir() / "wording"
    return {p.stem: tomllib.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.toml")}


def test_every_poster_language_has_a_traveler_catalog() -> None:
    program = tomllib.loads((posters_dir() / "program.toml").read_text(encoding="utf-8"))
    printed = set(_wording()) | set(program["languages"].values())
    assert printed - set(LANGUAGES) == set(), "a poster language the form cannot show"
    assert set(program["languages"]) == set(_wording()), "each wording file names its second"


def test_the_poster_word_is_the_one_the_form_shows() -> None:
    # The form's "where" line says "poster <code>" under the code printed beside "Poster".
    for lang, words in _wording().items():
        assert words["poster"].casefold() == catalog(lang)["poster"].casefold(), lang


def test_poster_and_pages_share_the_numbers_of_help_toml() -> None:
    # Neither side writes a number itself: both fill the country's numbers from help.toml.
    book = help_numbers.load(posters_dir())
    numbers = {h.hotline_call for h in book.all()} | {h.hotline_text for h in book.all()}
    for lang, words in _wording().items():
        for key in ("hotline", "hotline_call_only"):
            assert "{hotline_call}" in words[key], (lang, key)
            assert not any(n and n in words[key] for n in numbers), (lang, key)
        strings = catalog(lang)
        for key in ("call_hotline", "text_hotline"):
            assert "{number}" in strings[key], (lang, key)
