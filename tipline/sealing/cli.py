"""`tipline keys`: list the data keys, rotate to a new one, retire an old one."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from tipline.db import Database
from tipline.sealing.keyring import KeyringError, get_keyring, install
from tipline.sealing.rotate import count_by_key, reseal


def register(main: click.Group) -> None:
    """Attach the `keys` commands to the `tipline` group."""
    main.add_command(keys)


@click.group()
def keys() -> None:
    """The data keys that seal tip text and photos (never stored in the database)."""


@keys.command("list")
@with_appcontext
def list_keys() -> None:
    """Each key, when it was made, how many stored values it seals; * marks the current one."""
    ring = get_keyring()
    counts = count_by_key(Database.engine(current_app))
    for kid in sorted(ring.keys, key=lambda k: int(k.split("-")[0][1:])):
        mark = "*" if kid == ring.current else " "
        click.echo(f"{mark} {kid}  created {ring.created.get(kid) or '?'}  values {counts[kid]}")
    for kid in sorted(set(counts) - set(ring.keys)):
        click.echo(f"! {kid}  NOT IN THE KEYRING  values {counts[kid]}")
    click.echo(f"keyring: {ring.path or 'TIPLINE_DATA_KEY'}")


@keys.command("rotate")
@click.option("--batch", default=500, show_default=True, help="Values re-sealed per commit.")
@with_appcontext
def rotate(batch: int) -> None:
    """Add a key, seal new values with it, and re-seal every stored value under it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    ring = get_keyring()
    try:
        fresh = ring.added()
        fresh.save()
    except KeyringError as exc:
        raise click.ClickException(str(exc)) from None
    install(app, fresh)
    click.echo(f"new key {fresh.current} saved to {fresh.path}; servers take it within seconds")
    _reseal(batch)


@keys.command("reseal")
@click.option("--batch", default=500, show_default=True, help="Values re-sealed per commit.")
@with_appcontext
def reseal_command(batch: int) -> None:
    """Finish an interrupted rotation: re-seal what is not yet under the current key."""
    _reseal(batch)


def _reseal(batch: int) -> None:
    engine = Database.engine(current_app)
    ring = get_keyring()
    broken: list[str] = []
    done = reseal(engine, ring, size=batch, broken=broken)
    click.echo(f"re-sealed {done} values under {ring.current}")
    left = {k: n for k, n in count_by_key(engine).items() if k != ring.current}
    if broken:
        # Left as they are, so an older key still opens them if it is what they need: the
        # keys that sealed them stay until they are put right (restore them from a backup).
        for where in broken:
            click.echo(f"does not open, left as it is: {where}", err=True)
        raise click.ClickException(
            f"{len(broken)} stored values do not open (named above); every other value is "
            f"under {ring.current}. Put them right from a backup before retiring older keys."
        )
    if left:
        click.echo(f"still under other keys: {left} (run `tipline keys reseal` again)")
    else:
        click.echo("every stored value is under the current key; older keys may be retired")


@keys.command("retire")
@click.argument("key_id")
@with_appcontext
def retire(key_id: str) -> None:
    """Remove an old key from the keyring once no stored value needs it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    ring = get_keyring()
    still = count_by_key(Database.engine(app))[key_id]
    if still:
        raise click.ClickException(
            f"{still} stored values are still sealed under {key_id}: run `tipline keys reseal`"
        )
    try:
        fewer = ring.without(key_id)
        fewer.save()
    except KeyringError as exc:
        raise click.ClickException(str(exc)) from None
    install(app, fewer)
    click.echo(f"retired {key_id}; backups made before the rotation need it: keep a copy")
