"""The catalogs: every language says everything, and no page falls back to English."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.intake.conftest import Posters, text_of
from tipline.intake.i18n import CATALOGS, LANGUAGES, catalog, choose
from tipline.intake.models import INDICATOR_GROUPS, Indicator
from tipline.resources import resource_dir

PUBLIC = ("/", "/help", "/report", "/T/{station}", "/T/{train}", "/T/{retired}", "/T/K7Q2M9XQ")


def test_english_spanish_and_french_say_the_same_things() -> None:
    assert {"en", "es", "fr"} <= set(LANGUAGES)
    keys = set(CATALOGS["en"])
    for lang, strings in CATALOGS.items():
        assert set(strings) == keys, lang
        for key, text in strings.items():
            placeholders = set(re.findall(r"{(\w+)}", text))
            assert placeholders == set(re.findall(r"{(\w+)}", CATALOGS["en"][key])), (lang, key)


def test_every_indicator_and_group_has_words() -> None:
    grouped = [i for _group, items in INDICATOR_GROUPS for i in items]
    assert sorted(grouped) == sorted(Indicator)
    for lang in LANGUAGES:
        for group, items in INDICATOR_GROUPS:
            assert catalog(lang)[f"group_{group}"]
            for indicator in items:
                assert catalog(lang)[f"ind_{indicator}"]


def test_templates_use_only_keys_the_catalogs_have() -> None:
    templates = resource_dir("templates")
    used: set[str] = set()
    for path in [
        templates / "base.html",
        *(templates / "intake").glob("*.html"),
        *(templates / "errors").glob("*.html"),
    ]:
        source = path.read_text()
        used |= set(re.findall(r"\bt\.(\w+)", source))
        used |= set(re.findall(r"\bt\(\s*[\"'](\w+)", source))
    assert used, "no catalog keys found in templates"
    assert used <= set(CATALOGS["en"]), used - set(CATALOGS["en"])


def test_no_english_left_on_spanish_and_french_pages(client: FlaskClient, posters: Posters) -> None:
    english = {
        key: text.split("{")[0].strip()
        for key, text in CATALOGS["en"].items()
        if len(text.split("{")[0].strip()) > 6
    }
    for lang in ("es", "fr"):
        for template in PUBLIC:
            text = text_of(
                client.get(template.format(**vars(posters)) + f"?lang={lang}").get_data(
                    as_text=True
                )
            )
            for key, phrase in english.items():
                if phrase != CATALOGS[lang][key].split("{")[0].strip() and key != "lang_name":
                    assert phrase not in text, (lang, template, key)


def test_language_choice() -> None:
    assert choose("fr", "es") == "fr"
    assert choose(None, "es") == "es"
    assert choose("xx", None, accepted=["de-DE", "es-MX"]) == "es"
    assert choose(None, None) == "en"
    assert catalog("zz") is catalog("en")
