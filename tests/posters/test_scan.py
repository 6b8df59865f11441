"""Scan every printed page as a phone would: each decodes to exactly its own placement's URL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.posters.conftest import SIZES, Network, decode, qr_url, rasterize

SELECTIONS = {
    "station": (["--station", "NYP"], lambda n: n.nyp),
    "train": (["--train", "66"], lambda n: n.train66),
    "network": (["--all"], lambda n: n.all),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("selection", SELECTIONS)
def test_every_page_decodes_to_its_own_url(
    posters_cli: Callable[..., Result],
    network: Network,
    tmp_path: Path,
    size: str,
    selection: str,
) -> None:
    args, expected = SELECTIONS[selection]
    out = tmp_path / f"{selection}-{size}.pdf"
    result = posters_cli(*args, "--size", size, "-o", str(out))
    assert result.exit_code == 0, result.output
    urls = [qr_url(p.code) for p in expected(network)]
    # 100 dpi is a poor photo of the page; the sticker is small, so it is also read at 150.
    for dpi in (100, 150) if size == "sticker" else (100,):
        pages = rasterize(out.read_bytes(), dpi)
        assert len(pages) == len(urls)
        for number, (page, url) in enumerate(zip(pages, urls, strict=True), start=1):
            found = decode(page)
            assert [b.text for b in found] == [url], f"page {number} at {dpi} dpi"
            assert found[0].ec_level == "Q"
