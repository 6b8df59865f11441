"""Property tests of the placement-code parser: whatever is typed or scanned, it never fails,
and every way a person may copy a real code reads back as that code."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from tipline.locations.codes import ALPHABET, LENGTH, check_symbol, display, is_valid, normalize

bounded = settings(max_examples=300, deadline=None)
codes = st.text(alphabet=ALPHABET, min_size=LENGTH - 1, max_size=LENGTH - 1).map(
    lambda body: body + check_symbol(body)
)
# What sits between or around symbols when a code is copied from a PDF, typed on a phone
# (autocorrect turns - into an en dash) or read aloud in groups.
separators = st.sampled_from(["", " ", "-", "\u2013", "\u2014", "\u00a0", "\u2009", "\t", "\u3000"])
# What a person may type for each symbol: either case, Crockford's look-alikes, full-width forms.
LOOK_ALIKES = {"0": "0oO", "1": "1iIlL"}


def spellings(symbol: str) -> st.SearchStrategy[str]:
    plain = LOOK_ALIKES.get(symbol, symbol + symbol.lower())
    return st.sampled_from([*plain, *(chr(ord(c) + 0xFEE0) for c in plain)])  # ＡＢ１...


@st.composite
def typed_forms(draw: st.DrawFn, code: str) -> str:
    parts = [draw(separators) + draw(spellings(symbol)) for symbol in code]
    return draw(separators) + "".join(parts) + draw(separators)


@bounded
@given(st.text())
def test_any_text_is_read_without_failing(raw: str) -> None:
    code = normalize(raw)
    assert isinstance(code, str)
    assert is_valid(code) in (True, False)
    assert not any(ch.isspace() or ch in "-\u2013\u2014" for ch in code)


@bounded
@given(st.text(alphabet=string.printable))
def test_reading_is_idempotent_on_what_a_keyboard_types(raw: str) -> None:
    assert normalize(normalize(raw)) == normalize(raw)


@bounded
@given(st.text())
def test_only_eight_symbols_of_the_alphabet_can_be_valid(raw: str) -> None:
    code = normalize(raw)
    if is_valid(code):
        assert len(code) == LENGTH and set(code) <= set(ALPHABET)


@bounded
@given(codes.flatmap(lambda code: st.tuples(st.just(code), typed_forms(code))))
def test_every_way_of_typing_a_real_code_reads_as_that_code(pair: tuple[str, str]) -> None:
    code, typed = pair
    assert is_valid(code)
    assert normalize(typed) == code
    assert normalize(display(code)) == code


@bounded
@given(codes, st.integers(0, LENGTH - 1), st.sampled_from(ALPHABET))
def test_any_single_wrong_symbol_is_caught(code: str, where: int, symbol: str) -> None:
    changed = code[:where] + symbol + code[where + 1 :]
    assert is_valid(changed) == (changed == code)
