"""Property tests: whatever a feed holds, `tipline gtfs import` either imports it or says why in
one line, and a refused feed writes nothing (bounded: a few dozen generated feeds per test)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.locations.conftest import HARD_FEED, dump, write_feed

BOUNDED = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples on every run and in CI
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Values real feeds break with: NUL and control characters, other scripts, huge and negative
# numbers, impossible times, dates and zones, quotes and separators, very long text.
NASTY = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "\x00",
            "a\x00b",
            "\r",
            '"',
            ",",
            "99:99:99",
            "-1",
            "1e309",
            "NaN",
            "١٢",
            "²",
            "20261332",
            "Mars/Olympus_Mons",
            "../etc/passwd",
            "x" * 300,
            "🚆",
        ]
    ),
)


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, str]:
    """The hard-case feed with one to three cells, headers or lines broken."""
    files = dict(HARD_FEED)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(files)))
        lines = files[name].split("\r\n")
        index = draw(st.integers(0, max(len(lines) - 2, 0)))
        cells = lines[index].split(",")
        how = draw(st.sampled_from(["cell", "drop_cell", "truncate", "duplicate", "drop_file"]))
        if how == "cell":
            cells[draw(st.integers(0, len(cells) - 1))] = draw(NASTY)
            lines[index] = ",".join(cells)
        elif how == "drop_cell" and len(cells) > 1:
            del cells[draw(st.integers(0, len(cells) - 1))]
            lines[index] = ",".join(cells)
        elif how == "truncate":
            lines = lines[: index + 1]
            lines[-1] = lines[-1][: draw(st.integers(0, len(lines[-1])))]
        elif how == "duplicate":
            lines.insert(index, lines[index])
        elif how == "drop_file" and len(files) > 1:
            del files[name]
            continue
        files[name] = "\r\n".join(lines)
    return files


def check(app: Flask, invoke: Callable[..., Result], path: Path) -> None:
    """Import `path`: success, or one clear line and the database exactly as before."""
    before = dump(app)
    result = invoke("gtfs", "import", str(path), "--feed", "prop")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in (0, 1), result.output
    if result.exit_code == 1:
        assert result.output.startswith("Error: "), result.output
        assert "nothing imported" in result.output and "Traceback" not in result.output
        assert dump(app) == before


def test_generated_feeds_never_crash_nor_half_write(
    app: Flask, invoke: Callable[..., Result], tmp_path: Path
) -> None:
    seen = 0

    @BOUNDED
    @given(files=mutated())
    def run(files: dict[str, str]) -> None:
        nonlocal seen
        seen += 1
        check(app, invoke, write_feed(tmp_path / f"f{seen}", files))

    run()
    assert seen >= 20


def test_damaged_zips_never_crash_nor_half_write(
    app: Flask, invoke: Callable[..., Result], tmp_path: Path
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in HARD_FEED.items():
            archive.writestr(name, text.encode())
    good = buffer.getvalue()
    seen = 0

    @BOUNDED
    @given(
        flips=st.lists(
            st.tuples(st.integers(0, len(good) - 1), st.integers(1, 255)), min_size=1, max_size=4
        ),
        cut=st.one_of(st.none(), st.integers(0, len(good))),
    )
    def run(flips: list[tuple[int, int]], cut: int | None) -> None:
        nonlocal seen
        seen += 1
        data = bytearray(good)
        for offset, mask in flips:
            data[offset] ^= mask
        path = tmp_path / f"z{seen}.zip"
        path.write_bytes(bytes(data[:cut] if cut is not None else data))
        check(app, invoke, path)

    run()
    assert seen >= 20
