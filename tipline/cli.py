"""The `tipline` command: a Flask CLI group over the app factory, one subgroup per capability."""

from __future__ import annotations

from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext
from sqlalchemy.exc import DBAPIError

from tipline import create_app
from tipline.config import SettingsError, get_settings
from tipline.sealing.keyring import SealError


def _create_app() -> Flask:
    """The app for a command; a bad setting is one clear line, not a traceback."""
    try:
        return create_app()
    except SettingsError as exc:
        raise click.ClickException(f"bad setting: {exc}") from None


class TiplineGroup(FlaskGroup):
    """The `tipline` group: a database that is missing or behind, or a stored value that does
    not open, is one clear line."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a database error caused by the schema becomes "run db upgrade"."""
        try:
            return super().invoke(ctx)
        except SealError as exc:
            # Damaged, or sealed under a key this keyring lacks: say which, not a traceback.
            raise click.ClickException(
                f"a stored value does not open: {exc} "
                "(`tipline keys list` shows which keys stored values need)"
            ) from None
        except DBAPIError as exc:
            problem = _schema_problem(ctx)
            if problem is None:
                raise
            raise click.ClickException(problem) from exc


def _schema_problem(ctx: click.Context) -> str | None:
    """Why the database cannot serve this Tipline (not migrated, behind, unreachable); None
    when its schema is current, so the original error stands."""
    from tipline.migrate import revisions

    app = ctx.ensure_object(ScriptInfo).load_app()
    where = _database(app)
    try:
        current, head = revisions(app)
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        return f"cannot reach the database at {where}: {reason}"
    if current is None:
        return f"the database at {where} is not set up yet: run `tipline db upgrade`"
    if current != head:
        return (
            f"the database at {where} is at revision {current}, this Tipline needs {head}: "
            "run `tipline db upgrade`"
        )
    return None


def _database(app: Flask) -> str:
    from sqlalchemy.engine import make_url

    return make_url(str(get_settings(app).database_url)).render_as_string(hide_password=True)


@click.group(cls=TiplineGroup, create_app=_create_app, add_default_commands=True)
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


@main.command("run")
@click.option("--host", "-h", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", "-p", default=5000, show_default=True, type=int, help="Port to bind.")
@with_appcontext
def run(host: str, port: int) -> None:
    """Serve the app with werkzeug's threaded server (development and small sites).

    Logs each request's route and status, never a client address or a token; the alert
    dispatcher and the scan-count flush run beside it from the start; SIGTERM or Ctrl-C writes
    buffered scan counts before exit. For production, see gunicorn in the README.
    """
    from tipline.serving import serve

    serve(current_app._get_current_object(), host, port)  # type: ignore[attr-defined]


def _register() -> None:
    """Attach each capability's commands."""
    from tipline.accounts.cli import register as accounts
    from tipline.api.cli import register as api
    from tipline.intake.cli import register as intake
    from tipline.locations.cli import register as locations
    from tipline.ops.cli import register as ops
    from tipline.posters.cli import register as posters
    from tipline.sealing.cli import register as sealing
    from tipline.triage.cli import register as triage

    for register in (locations, intake, posters, triage, accounts, api, sealing, ops):
        register(main)


_register()
