"""The one CSV writer: formulas defused, numbers kept, lists and details readable."""

from __future__ import annotations

import csv
import io

from tipline import csvout


def test_text_a_spreadsheet_would_run_is_defused() -> None:
    for text in ("=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", "  =HYPERLINK(1)", "-"):
        assert csvout.cell(text) == "'" + text
    for text in ("plain", "1+1", "e=mc2", "", "café – 5"):
        assert csvout.cell(text) == text


def test_numbers_stay_numbers_and_other_values_read_well() -> None:
    assert csvout.cell(-73.99) == -73.99 and csvout.cell(-5) == -5
    assert csvout.cell(None) == "" and csvout.cell(True) == "true"
    assert csvout.cell(["NJ", "PA"]) == "NJ; PA"
    assert csvout.cell(["-x", "y"]) == "'-x; y"
    assert csvout.cell({"b": 1, "a": "=2"}) == '{"a": "=2", "b": 1}'


def test_lines_stream_a_header_and_one_chunk_per_record() -> None:
    records = [{"id": 1, "text": "=cmd", "extra": "ignored"}, {"id": 2}]
    chunks = list(csvout.lines(["id", "text"], records))
    assert len(chunks) == 3
    rows = list(csv.reader(io.StringIO("".join(chunks))))
    assert rows == [["id", "text"], ["1", "'=cmd"], ["2", ""]]
    out = io.StringIO()
    assert csvout.write(out, ["id"], records) == 2
