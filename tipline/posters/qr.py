"""QR symbols as vector paths: the module matrix from qrcode, dark runs merged into rectangles."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import qrcode
from qrcode import util
from qrcode.constants import ERROR_CORRECT_Q

#: White modules required around the symbol so a scanner can find its edges.
QUIET_ZONE = 4

Rect = tuple[int, int, int, int]  # x, y, width, height in modules; y counts rows from the top

_RUN = re.compile(r"0{5,}|1{5,}")
_DARK_RUN = re.compile(r"1+")


def qr_rows(data: str) -> list[str]:
    """The symbol's rows, quiet zone excluded, "1" for a dark module, at error correction Q.

    Q survives a quarter of the symbol scratched, dirty or covered; an upper-case URL keeps to
    QR's alphanumeric mode, so the symbol stays version 2-3 and its modules large. The symbol
    is the one qrcode makes, mask choice included; only the choice is computed faster.
    """
    code = _OneBuild(error_correction=ERROR_CORRECT_Q, border=0, mask_pattern=0)
    code.add_data(data, optimize=0)
    code.make(fit=True)
    size = code.modules_count
    data_cells, info_cells, formats = _cells(code.version, size, code.data_cells)
    # qrcode tries each mask by building the symbol again; flipping the data bits is the same.
    unmasked = [
        _bits(row) ^ (pattern & cells)
        for row, pattern, cells in zip(code.modules, _mask_rows(0, size), data_cells, strict=True)
    ]
    best, best_rows, best_points = 0, unmasked, -1
    for mask in range(8):
        masked = [
            (row ^ (pattern & cells)) & ~info
            for row, pattern, cells, info in zip(
                unmasked, _mask_rows(mask, size), data_cells, info_cells, strict=True
            )
        ]
        # Scored with the format and version modules light, as qrcode scores its trial builds.
        points = _penalty(masked, size)
        if best_points < 0 or points < best_points:
            best, best_rows, best_points = mask, masked, points
    return [_line(row | bits, size) for row, bits in zip(best_rows, formats[best], strict=True)]


def merged_rects(rows: Sequence[str]) -> list[Rect]:
    """Cover the dark modules exactly: each row's runs, stacked where rows repeat the same run."""
    done: list[Rect] = []
    open_runs: dict[tuple[int, int], Rect] = {}
    for y, line in enumerate(rows):
        runs = {match.span() for match in _DARK_RUN.finditer(line)}
        for run in [run for run in open_runs if run not in runs]:
            done.append(open_runs.pop(run))
        for start, end in runs:
            rect = open_runs.get((start, end))
            open_runs[(start, end)] = (
                (start, rect[1], end - start, rect[3] + 1) if rect else (start, y, end - start, 1)
            )
    done.extend(open_runs.values())
    return sorted(done, key=lambda r: (r[1], r[0]))


def path_operators(rows: Sequence[str]) -> str:
    """PDF `re` operators for the dark modules, one unit per module, y up from the bottom edge."""
    size = len(rows)
    return " ".join(f"{x} {size - y - h} {w} {h} re" for x, y, w, h in merged_rects(rows))


class _OneBuild(qrcode.QRCode):
    """A QRCode that notes which modules hold data, so masks can be tried without rebuilding.

    It leans on qrcode's build steps (map_data, setup_type_info); the tests compare its symbols
    with stock qrcode's, so a qrcode release that changes them fails loudly, not silently.
    """

    data_cells: list[tuple[int, int]]

    def map_data(self, data: Any, mask_pattern: Any) -> None:
        self.data_cells = [
            (r, c) for r, row in enumerate(self.modules) for c, v in enumerate(row) if v is None
        ]
        super().map_data(data, mask_pattern)


def _bits(row: Sequence[Any]) -> int:
    """A row as an integer: bit c is column c."""
    return sum(1 << col for col, dark in enumerate(row) if dark)


def _cells(
    version: int, size: int, data_cells: list[tuple[int, int]]
) -> tuple[list[int], list[int], list[list[int]]]:
    """Per row as bit masks: the data modules, the format and version modules, and the dark
    ones among those for each of the eight masks."""
    if version not in _CELLS:
        data = [0] * size
        for r, c in data_cells:
            data[r] |= 1 << c
        formats = []
        for mask in range(8):
            blank = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=0)
            blank.modules_count, blank.version = size, version
            blank.modules = [[None] * size for _ in range(size)]
            blank.setup_type_info(False, mask)
            if version >= 7:
                blank.setup_type_number(False)
            formats.append([_bits(row) for row in blank.modules])
        info = [_bits([v is not None for v in row]) for row in blank.modules]
        _CELLS[version] = (data, info, formats)
    return _CELLS[version]


# What depends on the version only (1 to 40) at error correction Q.
_CELLS: dict[int, tuple[list[int], list[int], list[list[int]]]] = {}


def _line(row: int, size: int) -> str:
    return format(row, f"0{size}b")[::-1]


@lru_cache(maxsize=512)
def _mask_rows(mask: int, size: int) -> list[int]:
    flip = util.mask_func(mask)
    return [_bits([flip(r, c) for c in range(size)]) for r in range(size)]


def _penalty(rows: list[int], size: int) -> int:
    """qrcode's util.lost_point (ISO/IEC 18004 mask scoring), on integer rows."""
    lines = [_line(row, size) for row in rows]
    lines += ["".join(column) for column in zip(*lines, strict=True)]
    text = " ".join(lines)  # the spaces keep runs and patterns from joining across lines
    runs = _RUN.findall(text)
    # Neither finder-like pattern overlaps itself, so counting occurrences counts every match.
    finders = text.count("10111010000") + text.count("00001011101")
    points = sum(map(len, runs)) - 2 * len(runs) + 40 * finders
    edge = (1 << (size - 1)) - 1
    for top, bottom in zip(rows, rows[1:], strict=False):
        same = ~(top ^ bottom)
        points += 3 * (same & (same >> 1) & ~(top ^ (top >> 1)) & edge).bit_count()
    dark = sum(row.bit_count() for row in rows)
    return points + int(abs(float(dark) / size**2 * 100 - 50) / 5) * 10
