"""Locate the data folders that ship beside the code (templates, poster layouts)."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the folder `name` from the installed wheel, else from the source checkout."""
    # A wheel carries them under tipline/_shipped/ (see pyproject's force-include); a source
    # checkout or an editable install reads the top-level folders directly.
    shipped = _PACKAGE / "_shipped" / name
    if shipped.is_dir():
        return shipped
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"tipline resource folder {name!r} not found")
