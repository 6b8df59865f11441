"""The one CSV writer every export uses (tips, the staff queue, the audit log).

Exports carry text typed by travelers and staff. A cell that starts with `=`, `+`, `-` or `@`
(or a tab or carriage return, which some spreadsheets skip before reading one of those) is run
as a formula when the file is opened: `=HYPERLINK(...)` leaks data, DDE can start programs
(CSV injection). Such text gets a leading apostrophe, which spreadsheets show as plain text.
Numbers stay numbers: a negative coordinate is data, not a formula.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = "; "


def cell(value: Any) -> str | int | float:
    """One value as a safe CSV cell: lists joined, mappings as JSON, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, list | tuple):
        text = LIST_SEPARATOR.join(str(v) for v in value)
    elif isinstance(value, Mapping):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    # Leading spaces do not stop every spreadsheet from reading a formula after them.
    if text.startswith(FORMULA_START) or text.lstrip(" ").startswith(FORMULA_START):
        return "'" + text
    return text


def lines(columns: Sequence[str], records: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """The CSV text of `records` (header first), one chunk per record, for streaming."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    yield _drain(buffer)
    for record in records:
        writer.writerow([cell(record.get(c)) for c in columns])
        yield _drain(buffer)


def write(out: IO[str], columns: Sequence[str], records: Iterable[Mapping[str, Any]]) -> int:
    """Write `records` as CSV to `out`; returns how many records were written."""
    count = -1  # the header is not a record
    for chunk in lines(columns, records):
        out.write(chunk)
        count += 1
    return count


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
