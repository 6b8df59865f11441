"""CLI commands for intake: export the stored tips with their location snapshots."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from tipline import csvout
from tipline.accounts import audit
from tipline.db import session_scope, utcnow
from tipline.intake.services import EXPORT_FIELDS, tip_record, tips_since


def register(main: click.Group) -> None:
    """Attach this capability's commands to the `tipline` group."""
    main.add_command(tips)


@click.group()
def tips() -> None:
    """Stored tips."""


@tips.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True
)
@click.option("--since", help="Only tips received at or after this ISO date or time (UTC).")
@with_appcontext
def export(fmt: str, since: str | None) -> None:
    """Print stored tips with their location snapshots (JSON list, or CSV with a header)."""
    start = _parse_since(since) if since else None
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with session_scope(app) as session:
        records = [tip_record(tip) for tip in tips_since(session, start)]
        # Audited like the staff desk's export: who took the tips out, when, how many.
        audit.record(
            session,
            action="tip.export",
            actor=None,
            now=utcnow(),
            detail={
                "format": fmt,
                "since": start.isoformat() if start else None,
                "count": len(records),
            },
        )
    if fmt == "json":
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
    else:
        click.echo("".join(csvout.lines(EXPORT_FIELDS, records)), nl=False)


def _parse_since(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date or time (e.g. 2026-06-01 or 2026-06-01T08:00:00Z)",
            param_hint="--since",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
