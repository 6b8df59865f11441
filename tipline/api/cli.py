"""`tipline api-tokens create|list|revoke`: the partner API's bearer tokens."""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import with_appcontext

from tipline.api import tokens
from tipline.db import db, utcnow
from tipline.locations.regions import UnknownJurisdiction


def register(main: click.Group) -> None:
    """Attach this capability's commands to the `tipline` group."""
    main.add_command(api_tokens)


@click.group("api-tokens")
def api_tokens() -> None:
    """Bearer tokens of the partner API (/api/v1)."""


@api_tokens.command("create")
@click.option("--name", required=True, help="Who holds it, e.g. 'NYPD case system'.")
@click.option(
    "--jurisdiction",
    "jurisdictions",
    multiple=True,
    required=True,
    help="A jurisdiction it may read (NY, PR, QC, or national). Repeat for several.",
)
@with_appcontext
def create(name: str, jurisdictions: tuple[str, ...]) -> None:
    """Create a token and print it once (only its hash is stored: copy it now)."""
    try:
        token, raw = tokens.create_token(
            db.write(), name=name, jurisdiction_codes=jurisdictions, now=utcnow()
        )
    except (tokens.TokenError, UnknownJurisdiction) as exc:
        raise click.UsageError(str(exc)) from exc
    db.session.commit()
    click.echo(f"created API token {token.name!r} for {', '.join(token.jurisdictions)}")
    click.echo(f"token (shown once): {raw}")


@api_tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
@with_appcontext
def list_(as_json: bool) -> None:
    """Every token: name, jurisdictions, created, last used, revoked (never the secret)."""
    rows: list[dict[str, Any]] = [
        {
            "name": t.name,
            "jurisdictions": t.jurisdictions,
            "created_at": t.created_at.isoformat(),
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
            "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
        }
        for t in tokens.list_tokens(db.session)
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        click.echo(f"{row['name']}  {','.join(row['jurisdictions'])}  {state}")
    if not rows:
        click.echo("no API tokens")


@api_tokens.command("revoke")
@click.argument("name")
@with_appcontext
def revoke(name: str) -> None:
    """Stop the token NAME working at once."""
    try:
        tokens.revoke_token(db.write(), name=name, now=utcnow())
    except tokens.UnknownToken as exc:
        raise click.UsageError(str(exc)) from exc
    db.session.commit()
    click.echo(f"revoked API token {name!r}")
