"""CLI commands for triage."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    """Attach this capability's commands to the `tipline` group."""
