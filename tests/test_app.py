"""The app factory, settings and migrations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from tipline import create_app
from tipline.cli import main
from tipline.config import Settings, SettingsError, get_settings, key_files
from tipline.db import Database


def test_secret_key_generated_once_into_instance(tmp_path: Path) -> None:
    inst = tmp_path / "inst"
    first = create_app({"INSTANCE_PATH": str(inst)})
    second = create_app({"INSTANCE_PATH": str(inst)})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) == 64
    assert (inst / "secret_key").stat().st_mode & 0o077 == 0
    assert get_settings(first).database_url == "sqlite:///" + str(inst / "tipline.db")


def test_environment_overrides_defaults(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TIPLINE_PUBLIC_URL", "https://tips.example.net/")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert get_settings(app).public_url == "https://tips.example.net"
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


def test_a_numeric_secret_stays_a_string(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TIPLINE_WEBHOOK_SECRET", "8675309")
    monkeypatch.setenv("TIPLINE_SMTP_PORT", "2525")
    monkeypatch.setenv("TIPLINE_SMTP_STARTTLS", "yes")
    settings = get_settings(create_app({"INSTANCE_PATH": str(tmp_path)}))
    assert settings.webhook_secret == "8675309"
    assert (settings.smtp_port, settings.smtp_starttls) == (2525, True)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TIPLINE_SMTP_PORT", "twenty-five", "TIPLINE_SMTP_PORT must be a whole number"),
        ("TIPLINE_SMTP_STARTTLS", "maybe", "TIPLINE_SMTP_STARTTLS must be true or false"),
        ("TIPLINE_TIP_LIMIT_PER_CLIENT", "ten", "count/seconds"),
        ("TIPLINE_ALERT_MAX_ATTEMPTS", "0", "TIPLINE_ALERT_MAX_ATTEMPTS must be at least 1"),
        ("TIPLINE_ENV", "staging", "TIPLINE_ENV must be one of development, production"),
        ("TIPLINE_SMTP_HOTS", "mail", "did you mean TIPLINE_SMTP_HOST"),
    ],
)
def test_a_bad_setting_is_a_clear_error_at_start(
    tmp_path: Path, monkeypatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_the_cli_reports_a_bad_setting_in_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TIPLINE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("TIPLINE_SMTP_PORT", "x")
    result = CliRunner().invoke(main, ["stations", "list"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: bad setting: TIPLINE_SMTP_PORT must be a whole number, not 'x'"
    )


def test_production_refuses_a_generated_key_or_an_http_url(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TIPLINE_ENV", "production")
    monkeypatch.setenv("TIPLINE_PUBLIC_URL", "https://tips.example.org")
    with pytest.raises(SettingsError, match="TIPLINE_SECRET_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path)})
    monkeypatch.setenv("TIPLINE_SECRET_KEY", "k" * 64)
    monkeypatch.setenv("TIPLINE_PUBLIC_URL", "http://tips.example.org")
    with pytest.raises(SettingsError, match="https"):
        create_app({"INSTANCE_PATH": str(tmp_path)})
    monkeypatch.setenv("TIPLINE_PUBLIC_URL", "https://tips.example.org")
    assert get_settings(create_app({"INSTANCE_PATH": str(tmp_path)})).production


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    missing = [
        name
        for name in (f.name.upper() for f in dataclasses.fields(Settings))
        if f"`{name}`" not in table
    ]
    assert missing == [], f"settings missing from the README's Settings table: {missing}"


def test_key_files_are_found_by_their_names(tmp_path: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    (tmp_path / "data_keys").write_text("{}")
    (tmp_path / "tipline.db-notes").write_text("")
    names = [p.name for p in key_files(get_settings(app))]
    assert names == ["data_keys", "secret_key"]
