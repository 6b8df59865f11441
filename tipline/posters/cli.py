"""CLI commands for posters: `tipline posters`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click
from flask.cli import with_appcontext

from tipline.config import get_settings
from tipline.db import db, utcnow
from tipline.posters.layouts import LayoutError, UnknownLayout, configured_dir, get_layout
from tipline.posters.services import SelectionError, print_posters


def register(main: click.Group) -> None:
    """Attach this capability's commands to the `tipline` group."""
    main.add_command(posters)


@click.command("posters")
@click.option("--placement", "placement", metavar="CODE", help="One placement's poster.")
@click.option("--station", metavar="CODE", help="Every active placement at a station.")
@click.option("--train", metavar="NUMBER", help="Every active placement on a train.")
@click.option("--all", "all_", is_flag=True, help="Every active placement in the network.")
@click.option(
    "--size",
    metavar="SIZE",
    default="letter",
    show_default=True,
    help="A layout in posters/layouts: letter, a4, tabloid or sticker.",
)
@click.option("--bleed", is_flag=True, help="Add 3 mm bleed and crop marks for a print shop.")
@click.option("--zip", "as_zip", is_flag=True, help="A zip of one PDF per placement, by code.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The PDF (or zip) to write.",
)
@with_appcontext
def posters(
    placement: str | None,
    station: str | None,
    train: str | None,
    all_: bool,
    size: str,
    bleed: bool,
    as_zip: bool,
    output: Path,
) -> None:
    """Print-ready posters: one page per placement, a PDF outline by station and train.

    Choose one of --placement CODE, --station CODE (or FEED:CODE), --train NUMBER or --all.
    Stations come first by name, then trains by number. Nothing is written on an error.
    """
    if sum([placement is not None, station is not None, train is not None, all_]) != 1:
        raise click.UsageError("choose exactly one of --placement, --station, --train, --all")
    try:
        layout = get_layout(size, configured_dir(get_settings()))
    except UnknownLayout as exc:
        raise click.BadParameter(str(exc), param_hint="--size") from exc
    except LayoutError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        printed = print_posters(
            db.session,
            layout=layout,
            public_url=get_settings().public_url,
            actor=None,
            now=utcnow(),
            placement=placement,
            station=station,
            train=train,
            all_=all_,
            bleed=bleed,
            as_zip=as_zip,
        )
    except (SelectionError, LayoutError) as exc:
        raise click.ClickException(str(exc)) from exc
    _write(output, printed.data)
    # Committed once the file is written: the audit record says what was printed.
    db.session.commit()
    kind = "PDFs in a zip" if as_zip else "pages"
    done = f"{len(printed.items)} {kind}, {layout.label}{', with bleed' if bleed else ''}"
    click.echo(f"{output}: {done}")


def _write(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename, so no half-written file is ever left behind."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from exc
    try:
        umask = os.umask(0)
        os.umask(umask)
        # mkstemp makes the file private; a finished poster gets the usual permissions.
        os.chmod(temporary, 0o666 & ~umask)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
