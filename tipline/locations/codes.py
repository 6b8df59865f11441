"""Placement codes: 7 random Crockford base32 symbols and a Luhn mod 32 check symbol."""

from __future__ import annotations

import re
import secrets
import unicodedata

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# Crockford's decoding rules: what a person may type for a symbol that is not in the alphabet.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
# Between the groups of a code: any space (a PDF's no-break or thin space) and any hyphen or
# dash (a phone's autocorrect turns "-" into "–").
_SEPARATORS = re.compile(r"[\s\-\u00ad\u2010-\u2015\u2212\ufe58\ufe63\uff0d]+")
LENGTH = 8


def check_symbol(body: str) -> str:
    """The Luhn mod 32 check symbol: catches any single wrong symbol and most swaps."""
    total = 0
    factor = 2
    for ch in reversed(body):
        addend = factor * _VALUE[ch]
        factor = 1 if factor == 2 else 2
        total += addend // 32 + addend % 32
    return ALPHABET[(32 - total % 32) % 32]


def new_code() -> str:
    """A fresh random code (35 bits of entropy before the check symbol)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH - 1))
    return body + check_symbol(body)


def normalize(raw: str) -> str:
    """Upper-case a typed or scanned code, drop spaces and dashes anywhere in it, read
    full-width forms as ASCII (NFKC) and apply Crockford's look-alike rules."""
    text = unicodedata.normalize("NFKC", raw).upper()
    return _SEPARATORS.sub("", text).translate(_READ_AS)


def is_valid(code: str) -> bool:
    """True when `code` (already normalized) has the right length, alphabet and check symbol."""
    if len(code) != LENGTH or any(ch not in _VALUE for ch in code):
        return False
    return check_symbol(code[:-1]) == code[-1]


def display(code: str) -> str:
    """Group a code for reading aloud: K7Q2-M9XD."""
    return f"{code[:4]}-{code[4:]}"
