"""`tipline backup` and `tipline restore`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from tipline.db import utcnow
from tipline.ops import backup as backups

KEYS_WARNING = (
    "WARNING: this backup holds Tipline's keys (secret key, data keys, audit key). Anyone with "
    "this file can read every tip and forge staff sessions. Keep it apart from the database "
    "backups, encrypted, where only the people who may restore the service can reach it."
)


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined]


@click.command("backup")
@click.option(
    "-o", "--output", "out", required=True, type=click.Path(dir_okay=False, path_type=Path)
)
@click.option("--with-keys", is_flag=True, help="Also put the keys in the file (mode 600).")
@with_appcontext
def backup_command(out: Path, with_keys: bool) -> None:
    """Write a consistent snapshot of the database and the settings to OUTPUT (mode 600), while
    the app runs; with --with-keys also the keys, without which sealed data cannot be read."""
    try:
        manifest = backups.backup(_app(), out, with_keys=with_keys, now=utcnow())
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    rows = sum(manifest.tables.values())
    click.echo(
        f"backup written to {out}: {manifest.backend}, revision {manifest.revision}, "
        f"{manifest.tables.get('tip', 0)} tips, {rows} rows in {len(manifest.tables)} tables"
    )
    if with_keys:
        click.secho(KEYS_WARNING, err=True, fg="red", bold=True)
        click.echo(f"keys inside: {', '.join(manifest.key_names) or 'none'}", err=True)


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--force",
    count=True,
    help="Replace a database that already holds data; twice: even while other processes "
    "(servers) use it.",
)
@with_appcontext
def restore_command(archive: Path, force: int) -> None:
    """Restore a backup into this Tipline's database (stop the web and alert services first):
    refuses a database holding data unless --force, and one other processes still use unless
    --force twice; checks the backup's integrity and row counts, migrates an older backup
    forward, puts any keys into the instance folder."""
    try:
        done = backups.restore(_app(), archive, force=force >= 1, live=force >= 2)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    manifest = done.manifest
    click.echo(
        f"restored {manifest.tables.get('tip', 0)} tips from {manifest.created_at} "
        f"(revision {done.revision_before}, now {done.revision_after}); row counts checked"
    )
    for name in done.keys_written:
        click.echo(f"key restored: {name}")
    for name in done.keys_kept:
        click.echo(f"the key this instance had is kept as {name}")
    if done.settings_env is not None:
        click.secho(
            f"secrets from the backup's environment are in {done.settings_env} (mode 600): "
            "put them in the environment file, then delete it",
            err=True,
            fg="yellow",
        )
    if done.keys_missing:
        click.secho(
            f"WARNING: the restored database needs key(s) {', '.join(done.keys_missing)}, which "
            f"the keyring ({done.keyring}) does not hold: its tips cannot be read, and staff "
            "pages would fail. Before starting the web and alert services, put back the keyring "
            f"backed up with this database (`data_keys`, or TIPLINE_DATA_KEY), or restore a "
            "backup made with --with-keys.",
            err=True,
            fg="red",
            bold=True,
        )
    if done.keys_written or done.settings_env is not None:
        click.echo("restart the web and alert services so they read the restored keys")
    click.echo("check the audit chain: tipline audit verify")


def register(group: click.Group) -> None:
    """Attach the operations commands to `tipline`."""
    group.add_command(backup_command)
    group.add_command(restore_command)
