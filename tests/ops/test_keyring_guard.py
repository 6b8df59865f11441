"""A keyring that went missing is never silently replaced while the database holds tips sealed
under it (F8): the app and the CLI refuse to start naming the key, /readyz says 503 whenever the
keyring lacks a key the database uses, and a restore without the keys says what is needed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask

from tests import factories
from tests.conftest import make_test_app
from tipline.cli import main
from tipline.db import Database, session_scope
from tipline.migrate import upgrade
from tipline.ops.health import readiness
from tipline.sealing import Keyring, get_keyring
from tipline.sealing.guard import KeyringMissing


@contextmanager
def _instance(url: str, instance: Path, **settings: object) -> Iterator[Flask]:
    app = make_test_app(url, instance, DATA_KEY="", **settings)
    try:
        yield app
    finally:
        readiness(app).dispose()
        Database.engine(app).dispose()


def _with_a_tip(url: str, instance: Path) -> str:
    """An instance whose database holds a tip sealed under its own file keyring; its key id."""
    with _instance(url, instance) as app:
        upgrade(app)
        with session_scope(app, write=True) as s:
            factories.tip(s, details="sealed words")
        assert (instance / "data_keys").exists()
        return get_keyring(app).current


def _cli(*args: str, instance: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TIPLINE_INSTANCE_PATH": str(instance),
        "TIPLINE_DATABASE_URL": url,
        "TIPLINE_DATA_KEY": "",
    }
    code = "from tipline.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_missing_keyring_is_not_generated_over_sealed_tips(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    url, instance = new_database(), tmp_path / "inst"
    kid = _with_a_tip(url, instance)
    (instance / "data_keys").unlink()
    with pytest.raises(KeyringMissing, match=kid) as refused:
        make_test_app(url, instance, DATA_KEY="")
    assert "restore the keyring" in str(refused.value).lower()
    assert "TIPLINE_NEW_KEYRING" in str(refused.value)
    assert not (instance / "data_keys").exists()
    # The CLI: one line, no traceback, nothing written.
    result = _cli("keys", "list", instance=instance, url=url)
    assert result.returncode == 1 and kid in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (instance / "data_keys").exists()
    # As gunicorn calls it (`tipline:create_app()`), before any model module was imported.
    env = {**os.environ, "TIPLINE_INSTANCE_PATH": str(instance), "TIPLINE_DATABASE_URL": url}
    env["TIPLINE_DATA_KEY"] = ""
    served = subprocess.run(
        [sys.executable, "-c", "from tipline import create_app; create_app()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert served.returncode != 0 and "KeyringMissing: the keyring" in served.stderr
    assert kid in served.stderr, served.stderr[-500:]
    assert not (instance / "data_keys").exists()
    # The documented override starts afresh (a new keyring, the old tips lost).
    with _instance(url, instance, NEW_KEYRING=True) as app:
        assert get_keyring(app).current != kid
    assert (instance / "data_keys").exists()


def test_an_empty_database_still_gets_a_keyring(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    with _instance(new_database(), tmp_path / "inst") as app:
        upgrade(app)
    assert (tmp_path / "inst" / "data_keys").exists()


def test_readyz_is_503_when_the_keyring_lacks_a_key_in_use(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    url, instance = new_database(), tmp_path / "inst"
    _with_a_tip(url, instance)
    with _instance(url, instance) as app:
        assert app.test_client().get("/readyz").status_code == 200
    # Another keyring (TIPLINE_DATA_KEY of a different deployment, say): not ready.
    other = Keyring.generate().to_json()
    app = make_test_app(url, tmp_path / "other", DATA_KEY=other)
    try:
        client = app.test_client()
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200
    finally:
        readiness(app).dispose()
        Database.engine(app).dispose()


def test_a_restore_without_keys_says_which_keys_are_missing(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    url, instance = new_database(), tmp_path / "inst"
    kid = _with_a_tip(url, instance)
    archive = tmp_path / "plain.backup"
    assert _cli("backup", "-o", str(archive), instance=instance, url=url).returncode == 0
    # Into a fresh instance: the restore writes no keyring of its own ...
    target, target_url = tmp_path / "target", new_database()
    result = _cli("restore", str(archive), instance=target, url=target_url)
    assert result.returncode == 0, result.stderr
    assert "WARNING" in result.stderr and kid in result.stderr, result.stderr
    assert not (target / "data_keys").exists()
    # ... so the next start refuses, naming the key, instead of making one.
    with pytest.raises(KeyringMissing, match=kid):
        make_test_app(target_url, target, DATA_KEY="")
    # Into an instance whose keyring exists but lacks the key: warned too.
    with _instance(new_database(), tmp_path / "third") as third:
        upgrade(third)
        result = third.test_cli_runner().invoke(main, ["restore", str(archive)])
        assert result.exit_code == 0, result.output
        assert "WARNING" in result.output and kid in result.output
