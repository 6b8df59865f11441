"""The gettext catalogs: every language says everything, and no page falls back to English."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from tests.intake.conftest import Posters, text_of
from tipline.intake.i18n import CATALOGS, LANGUAGES, TRANSLATIONS, catalog, choose
from tipline.intake.messages import MESSAGES
from tipline.intake.models import INDICATOR_GROUPS, Indicator
from tipline.resources import resource_dir

PUBLIC = ("/", "/help", "/report", "/T/{station}", "/T/{train}", "/T/{retired}", "/T/K7Q2M9XQ")


def _po(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=path.parent.parent.name if path.suffix == ".po" else None)


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"{(\w+)}", text))


POT = TRANSLATIONS / "messages.pot"
PO_FILES = sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))


def test_seven_languages_one_right_to_left() -> None:
    assert set(LANGUAGES) == {"en", "es", "fr", "zh", "vi", "ht", "ar"}
    assert {lang for lang in LANGUAGES if catalog(lang).dir == "rtl"} == {"ar"}
    assert len(PO_FILES) == len(LANGUAGES) - 1  # English is the source, not a catalog


@pytest.mark.parametrize("path", PO_FILES, ids=lambda p: p.parent.parent.name)
def test_every_message_is_translated(path: Path) -> None:
    """A message added to messages.py and not translated (or left fuzzy) fails here."""
    template, po = _po(POT), _po(path)
    assert po.num_plurals >= 1
    for source in template:
        if not source.id:
            continue
        message = po.get(source.id, context=source.context)
        assert message is not None, (path, source.context)
        assert "fuzzy" not in message.flags, (path, source.context)
        if source.pluralizable:
            singular, plural = source.id
            _, count = next(m for m in MESSAGES if m[0] == source.context)[1:]
            assert isinstance(message.string, tuple) and len(message.string) == po.num_plurals
            for form in message.string:
                assert form, (path, source.context)
                # A form may spell its number out ("one character"), never invent a placeholder.
                assert (
                    _placeholders(plural) - {count} <= _placeholders(form) <= _placeholders(plural)
                )
        else:
            assert message.string, (path, source.context)
            assert _placeholders(message.string) == _placeholders(source.id), (path, source.context)
    obsolete = {m.context for m in po if m.id} - {m.context for m in template if m.id}
    assert not obsolete, (path, obsolete)


def test_the_template_matches_the_english_source(tmp_path: Path) -> None:
    """`pybabel extract` run now gives the committed messages.pot: nobody forgot to extract."""
    pybabel = Path(sys.executable).with_name("pybabel")
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [str(pybabel), "extract", "--no-location", "-o", str(fresh), "tipline/intake/messages.py"],
        cwd=Path(__file__).resolve().parents[2],
        check=True,
        capture_output=True,
    )

    def entries(catalog_: Catalog) -> set[tuple[str | None, object]]:
        return {(m.context, m.id) for m in catalog_ if m.id}

    assert entries(_po(fresh)) == entries(_po(POT))
    assert {key for key, _texts, _count in MESSAGES} == {c for c, _ in entries(_po(POT))}


def test_review_status_is_in_each_catalog_and_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for path in PO_FILES:
        lang = path.parent.parent.name
        header = path.read_text(encoding="utf-8").split("msgid", 1)[0]
        reviewed = "# Review: reviewed by a fluent speaker." in header
        assert reviewed or "# Review: NOT yet reviewed by a native speaker" in header, lang
        row = re.search(rf"^\| `{lang}` \|.*$", readme, re.M)
        assert row, f"README's Languages table has no row for {lang}"
        assert ("not yet reviewed" in row.group(0)) != reviewed, lang


def test_plural_forms_follow_each_language() -> None:
    assert "4000 characters" in catalog("en")("err_too_long", max=4000, count=4100)
    assert "1 character " in catalog("en")("err_too_long", max=1, count=3)
    # Arabic has six forms: 1 is spelled out, 3-10 take the plural, 11-99 the accusative.
    assert "حرف واحد" in catalog("ar")("err_too_long", max=1, count=3)
    assert "5 أحرف" in catalog("ar")("err_too_long", max=5, count=9)
    assert "20 حرفًا" in catalog("ar")("err_too_long", max=20, count=29)
    assert "4000 حرف " in catalog("ar")("err_too_long", max=4000, count=4100)


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
    used -= {"dir"}  # the catalog's attribute (text direction), not a message
    assert not {"dir", "lang", "plurals"} & set(CATALOGS["en"]), "a key would hide an attribute"
    assert used <= set(CATALOGS["en"]), used - set(CATALOGS["en"])


def test_no_english_left_on_spanish_and_french_pages(client: FlaskClient, posters: Posters) -> None:
    english = {
        key: text.split("{")[0].strip()
        for key, text in CATALOGS["en"].items()
        if len(text.split("{")[0].strip()) > 6
    }
    for lang in LANGUAGES[1:]:
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
    assert choose(None, accepted=["zh-Hans-CN", "en"]) == "zh"
    assert choose(None, accepted=["ar-EG"]) == "ar"
    assert choose(None, accepted=["pt-BR", "ht"]) == "ht"


def test_phone_numbers_keep_their_order_in_arabic() -> None:
    # Unisolated, the bidi algorithm shows 1-888-373-7888 as 7888-373-888-1 in Arabic text.
    assert "\u2066911\u2069" not in catalog("ar")["danger"]  # three digits read the same
    assert "\u20661-888-373-7888\u2069" in catalog("ar")("call_hotline", number="1-888-373-7888")
    assert "\u2066" not in catalog("en")("call_hotline", number="1-888-373-7888")
