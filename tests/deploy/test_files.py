"""The files in deploy/ say what the README says: gunicorn's settings, the systemd units and the
example environment file."""

from __future__ import annotations

import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from gunicorn.config import Config

from tests.deploy.conftest import DEPLOY
from tipline import create_app
from tipline.config import SettingsError, from_environment
from tipline.serving import NoAddressLogger


def gunicorn_config() -> Config:
    cfg = Config()
    for name, value in runpy.run_path(str(DEPLOY / "gunicorn.conf.py")).items():
        if name in cfg.settings:
            cfg.set(name, value)
    return cfg


def test_gunicorn_logs_no_addresses_and_has_sane_timeouts() -> None:
    cfg = gunicorn_config()
    assert cfg.logger_class is NoAddressLogger
    assert cfg.accesslog is None
    assert cfg.worker_class_str == "sync" and cfg.workers >= 2
    assert cfg.timeout == 30 and cfg.graceful_timeout == 30
    assert cfg.bind == ["127.0.0.1:8000"]
    assert not cfg.preload_app


def example_environment() -> dict[str, str]:
    lines = (DEPLOY / "tipline.env.example").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return {name: value for name, value in pairs}


def test_the_example_environment_names_only_real_settings() -> None:
    env = example_environment()
    parsed = from_environment(env)  # an unknown or misspelt name raises
    assert parsed["env"] == "production" and parsed["proxy_hops"] == 1
    assert parsed["alerts_inline"] is False


def test_the_example_environment_refuses_to_start_until_a_secret_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = example_environment()
    env["TIPLINE_INSTANCE_PATH"] = str(tmp_path)
    env["TIPLINE_DATABASE_URL"] = f"sqlite:///{tmp_path}/x.db"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match="TIPLINE_SECRET_KEY"):
        create_app()
    monkeypatch.setenv("TIPLINE_SECRET_KEY", "a-real-secret-from-the-environment")
    monkeypatch.setenv("TIPLINE_PUBLIC_URL", "http://tips.example.org")
    with pytest.raises(SettingsError, match="https"):
        create_app()
    monkeypatch.setenv("TIPLINE_PUBLIC_URL", "https://tips.example.org")
    assert create_app().config["MAX_CONTENT_LENGTH"] == 1_000_000


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
@pytest.mark.parametrize("unit", ["tipline-web.service", "tipline-alerts.service"])
def test_systemd_units_verify(unit: str, tmp_path: Path) -> None:
    # The units as shipped, pointed at this checkout's virtualenv (where gunicorn and tipline
    # really are) and an environment file of the test's own.
    text = (DEPLOY / "systemd" / unit).read_text()
    text = text.replace("/opt/tipline/venv", sys.prefix)
    text = text.replace("/etc/tipline/tipline.env", str(DEPLOY / "tipline.env.example"))
    (tmp_path / unit).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / unit)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""
    assert "ExecStart" in text and "Restart=always" in text
