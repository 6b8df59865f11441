"""What a traveler typed, made safe to store and show without changing what it says."""

from __future__ import annotations

import re
import unicodedata

# Line breaks in every spelling a browser, a phone keyboard or a script may send.
_LINE_BREAKS = re.compile("\r\n|[\r\x85\u2028\u2029]")
# Removed: control characters (NUL breaks PostgreSQL text and ends C strings in tools staff
# paste into; the rest are invisible), lone surrogates (cannot be encoded as UTF-8), and the
# bidirectional overrides and isolates, which can make a place or a name read differently on
# the staff desk from what is stored ("Trojan Source"). Ordinary right-to-left text needs none
# of them: browsers lay it out from the letters themselves.
_REMOVED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
MAX_PEOPLE_DIGITS = 6  # far above any real count: longer is refused before int() reads it


def clean(value: str, *, multiline: bool = False) -> str:
    """NFC, one kind of line break (none in a single-line field), tabs as spaces, and no
    control, surrogate or bidi-override characters. Length is the caller's to check."""
    value = _LINE_BREAKS.sub("\n", value).replace("\t", " ")
    value = _REMOVED.sub("", value)
    if not multiline:
        value = value.replace("\n", " ")
    if not unicodedata.is_normalized("NFC", value):
        value = unicodedata.normalize("NFC", value)
    return value


def parse_count(typed: str) -> int | None:
    """A whole number typed in any script's digits (`3`, `３`, `٣`), else None.

    Superscripts and circled digits (`²`, `①`) count as digits for str.isdigit() but int()
    refuses them; a 4,301-digit number makes int() raise. Both are refused here instead.
    """
    text = typed.strip()
    if not text or len(text) > MAX_PEOPLE_DIGITS or not text.isdecimal():
        return None
    return int(text)
