"""Alembic, driven from the app's settings (the migrations ship inside the package)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask

from tipline.config import get_settings
from tipline.db import Database
from tipline.sealing import get_keyring

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(app: Flask) -> Config:
    """An Alembic config bound to the app's engine."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = Database.engine(app)
    # Migrations that seal audit records need the key; it never goes into the database.
    cfg.attributes["audit_key"] = get_settings(app).audit_key
    # Migrations that seal tip text need the data keys; they never go into the database.
    cfg.attributes["keyring"] = get_keyring(app)
    return cfg


def upgrade(app: Flask, revision: str = "head") -> None:
    """Bring the database schema up to `revision`."""
    command.upgrade(alembic_config(app), revision)


def downgrade(app: Flask, revision: str) -> None:
    """Take the database schema down to `revision`."""
    command.downgrade(alembic_config(app), revision)


def revisions(app: Flask) -> tuple[str | None, str]:
    """The database's schema revision (None when never migrated) and the code's newest."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(app)).get_current_head()
    with Database.engine(app).connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, str(head)
