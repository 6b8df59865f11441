"""The `tipline` command: a Flask CLI group over the app factory, one subgroup per capability."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from tipline import create_app
from tipline.config import SettingsError


def _create_app() -> Flask:
    """The app for a command; a bad setting is one clear line, not a traceback."""
    try:
        return create_app()
    except SettingsError as exc:
        raise click.ClickException(f"bad setting: {exc}") from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True)
def main() -> None:
    """Tipline: QR-code tip reporting for stations and trains."""


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations up to REVISION (default: head)."""
    from tipline.migrate import upgrade

    upgrade(current_app._get_current_object(), revision)  # type: ignore[attr-defined]
    click.echo(f"database at {revision}")


def _register() -> None:
    """Attach each capability's commands."""
    from tipline.accounts.cli import register as accounts
    from tipline.intake.cli import register as intake
    from tipline.locations.cli import register as locations
    from tipline.posters.cli import register as posters
    from tipline.triage.cli import register as triage

    for register in (locations, intake, posters, triage, accounts):
        register(main)


_register()
