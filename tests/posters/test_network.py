"""The whole Amtrak network, one poster per station: every page its own, small and scannable."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy.orm import Session

from tests.conftest import shared_feed
from tests.posters.conftest import decode, page_texts, qr_url, rasterize
from tipline.locations.gtfs import import_feed
from tipline.locations.services import add_station_placements

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.slow
def test_all_amtrak_stations_print_one_small_scannable_page_each(
    session: Session, posters_cli: Callable[..., Result], tmp_path: Path
) -> None:
    import_feed(session, shared_feed("amtrak-gtfs"), feed="amtrak", now=NOW)
    placements, _ = add_station_placements(session, spot="Women's restroom", now=NOW)
    session.commit()
    out = tmp_path / "network.pdf"
    result = posters_cli("--all", "--size", "letter", "-o", str(out))
    assert result.exit_code == 0, result.output
    pdf = out.read_bytes()

    texts = page_texts(pdf)
    assert len(texts) == len(placements) >= 500
    codes = [re.search(r"tips\.example\.org/t/(\w{8})", text)[1] for text in texts]  # type: ignore[index]
    assert sorted(codes) == sorted(p.code for p in placements)
    assert "…" not in " ".join(texts)  # every real station name fits whole

    fonts = sum(int(n) for n in re.findall(rb"/Length (\d+) /Length1", pdf))
    assert (len(pdf) - fonts) / len(texts) < 8 * 1024

    # Scanning all pages takes minutes (bench/posters.py --decode does it); a spread of them here.
    for number in range(1, len(texts) + 1, 25):
        (page,) = rasterize(pdf, 100, page=number)
        assert [b.text for b in decode(page)] == [qr_url(codes[number - 1])], number
