"""The app factory, settings and migrations."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from tipline import create_app
from tipline.db import Database


def test_secret_key_generated_once_into_instance(tmp_path: Path) -> None:
    inst = tmp_path / "inst"
    first = create_app({"INSTANCE_PATH": str(inst)})
    second = create_app({"INSTANCE_PATH": str(inst)})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) == 64
    assert (inst / "secret_key").stat().st_mode & 0o077 == 0
    assert first.config["DATABASE_URL"] == "sqlite:///" + str(inst / "tipline.db")


def test_environment_overrides_defaults(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TIPLINE_PUBLIC_URL", "https://tips.example.net/")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["PUBLIC_URL"] == "https://tips.example.net"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_sqlite_is_durable(tmp_path: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    with Database.engine(app).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    Database.engine(app).dispose()


def test_migrations_create_the_schema(app) -> None:
    tables = set(inspect(Database.engine(app)).get_table_names())
    assert {"station", "train", "trip", "trip_stop", "placement", "tip"} <= tables
