"""The QR symbol: the one qrcode makes, small, error correction Q, drawn as merged runs."""

from __future__ import annotations

import qrcode
import zxingcpp
from PIL import Image, ImageDraw
from qrcode.constants import ERROR_CORRECT_Q

from tests.posters.conftest import qr_url
from tipline.locations.codes import new_code
from tipline.posters.qr import QUIET_ZONE, merged_rects, path_operators, qr_rows


def _stock(data: str) -> list[str]:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=0)
    code.add_data(data, optimize=0)
    code.make(fit=True)
    return ["".join("1" if dark else "0" for dark in row) for row in code.modules]


def test_the_symbol_is_exactly_the_one_qrcode_makes_mask_choice_included() -> None:
    hosts = ["TIPS.EXAMPLE.ORG", "T.CO", "TIPLINE.TRANSIT-POLICE.EXAMPLE.GOV", "X" * 250]
    sizes = set()
    for host in hosts:
        for _ in range(25):
            data = f"HTTPS://{host}/T/{new_code()}"
            rows = qr_rows(data)
            assert rows == _stock(data), data
            sizes.add(len(rows))
    assert {25, 29} <= sizes and max(sizes) >= 45  # versions 2, 3 and one with version bits


def test_an_upper_case_url_stays_a_small_symbol() -> None:
    upper = qr_rows(qr_url("K7Q2M9XD"))
    lower = qr_rows(qr_url("K7Q2M9XD").lower())
    assert len(upper) == 29  # version 3: alphanumeric mode
    assert len(lower) > len(upper)  # byte mode needs a bigger symbol for the same URL


def test_rectangles_cover_each_dark_module_exactly_once() -> None:
    rows = qr_rows(qr_url("K7Q2M9XD"))
    rects = merged_rects(rows)
    grid = [[0] * len(rows) for _ in rows]
    for x, y, w, h in rects:
        for row in range(y, y + h):
            for col in range(x, x + w):
                grid[row][col] += 1
    assert ["".join(str(n) for n in row) for row in grid] == rows
    dark = sum(row.count("1") for row in rows)
    assert len(rects) < dark / 2  # runs are merged, never one rectangle per module


def test_runs_are_whole_so_no_two_rectangles_touch_side_by_side() -> None:
    rows = qr_rows(qr_url("ZZZZ9999"))
    for x, y, w, h in merged_rects(rows):
        for row in range(y, y + h):
            assert x == 0 or rows[row][x - 1] == "0"
            assert x + w == len(rows) or rows[row][x + w] == "0"


def test_the_path_decodes_with_error_correction_q() -> None:
    url = qr_url("A1B2C3D4")
    rows = qr_rows(url)
    scale, size = 6, len(rows) + 2 * QUIET_ZONE
    image = Image.new("L", (size * scale, size * scale), 255)
    draw = ImageDraw.Draw(image)
    for op in path_operators(rows).split(" re"):
        if not op.strip():
            continue
        x, y_up, w, h = (int(v) for v in op.split())
        top = len(rows) - y_up - h  # the operators count y up from the bottom edge
        left, upper = (x + QUIET_ZONE) * scale, (top + QUIET_ZONE) * scale
        draw.rectangle([left, upper, left + w * scale - 1, upper + h * scale - 1], fill=0)
    (found,) = zxingcpp.read_barcodes(image)
    assert found.text == url
    assert found.ec_level == "Q"
