"""Placement codes."""

from __future__ import annotations

from tipline.locations.codes import ALPHABET, check_symbol, is_valid, new_code, normalize


def test_new_codes_are_valid_unique_and_alphanumeric_mode_safe() -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert len(code) == 8 and is_valid(code)
        assert set(code) <= set(ALPHABET) and not set(code) & set("ILOU")


def test_every_single_substitution_is_caught() -> None:
    code = new_code()
    for i in range(8):
        for ch in ALPHABET:
            if ch != code[i]:
                assert not is_valid(code[:i] + ch + code[i + 1 :])


def test_most_adjacent_swaps_are_caught() -> None:
    caught = total = 0
    for _ in range(300):
        code = new_code()
        for i in range(7):
            if code[i] != code[i + 1]:
                total += 1
                caught += not is_valid(code[:i] + code[i + 1] + code[i] + code[i + 2 :])
    assert caught / total > 0.95


def test_normalize_reads_lookalikes_and_lower_case() -> None:
    body = "K7Q2M9X"
    code = body + check_symbol(body)
    assert normalize(code.lower()) == code
    assert normalize(f" {code[:4]}-{code[4:]} ".lower()) == code
    assert normalize("o1l0") == "0110"
