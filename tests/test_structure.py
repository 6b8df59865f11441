"""Views stay short: each reads a request, calls a service, answers (STYLE.md: ten to fifteen
lines, at most 25)."""

from __future__ import annotations

import inspect

from flask import Flask

MAX_VIEW_LINES = 25


def test_every_view_function_is_at_most_25_lines(app: Flask) -> None:
    long = {}
    for endpoint, view in app.view_functions.items():
        if endpoint == "static":
            continue
        source, _ = inspect.getsourcelines(inspect.unwrap(view))
        # The decorators are routing, not logic; count from the def line on.
        start = next(i for i, line in enumerate(source) if line.lstrip().startswith("def "))
        lines = len(source) - start
        if lines > MAX_VIEW_LINES:
            long[f"{endpoint} ({inspect.getsourcefile(inspect.unwrap(view))})"] = lines
    assert long == {}, f"views over {MAX_VIEW_LINES} lines: {long}"
