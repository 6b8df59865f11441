"""Empty databases for code that migrates from scratch: tests and the benches alike."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def fresh_database(
    base: str | None, folder: Path, prefix: str, filename: str = "fresh.db"
) -> Iterator[str]:
    """Yield the URL of an empty database: a new SQLite file in `folder` when `base` is empty or
    SQLite, else a new database `prefix`_... on `base`'s PostgreSQL server, dropped afterwards."""
    if not base or base.startswith("sqlite"):
        yield "sqlite:///" + str(folder / filename)
        return
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
