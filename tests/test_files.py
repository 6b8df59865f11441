"""Files written once for every worker: several processes starting together on a fresh
instance folder all read the same whole secret key and keyring, never a half-written one."""

from __future__ import annotations

import multiprocessing
import stat
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from tipline.config import SettingsError, instance_secret
from tipline.files import create_once
from tipline.sealing import keyring

WORKERS, ROUNDS = 8, 12


def _start(folder: str, barrier: Barrier, results: Any) -> None:
    """What a gunicorn worker does first on a fresh instance folder: read or make both keys."""
    barrier.wait(30)
    try:
        ring = keyring.load(None, Path(folder))
        secret = instance_secret(Path(folder) / "secret_key")
        results.put((ring.current, secret))
    except Exception as exc:  # any failure is the finding: report it, never hang
        results.put(("error", repr(exc)))


def test_workers_starting_together_read_one_whole_keyring_and_secret(tmp_path: Path) -> None:
    """CI finding: four gunicorn workers on a fresh folder; one read the keyring another had
    created but not yet written ("not a Tipline keyring (JSONDecodeError)") and died."""
    context = multiprocessing.get_context("fork")
    for n in range(ROUNDS):
        folder = tmp_path / f"instance-{n}"
        folder.mkdir()
        barrier, results = context.Barrier(WORKERS), context.Queue()
        workers = [
            context.Process(target=_start, args=(str(folder), barrier, results))
            for _ in range(WORKERS)
        ]
        for w in workers:
            w.start()
        seen = [results.get(timeout=60) for _ in workers]
        for w in workers:
            w.join(30)
        assert all(kind != "error" for kind, _ in seen), seen
        assert len(set(seen)) == 1, seen  # one key id and one secret, for every worker
        assert seen[0][1] and len(seen[0][1]) == 64
        assert sorted(p.name for p in folder.iterdir()) == ["data_keys", "secret_key"]
        for p in folder.iterdir():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600


def test_an_existing_file_is_read_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    assert create_once(path, "first") == "first"
    assert create_once(path, "second") == "first"
    assert path.read_text() == "first" and list(tmp_path.iterdir()) == [path]


def test_an_empty_secret_key_file_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    """An empty key (left by a crash before the file was written whole) would sign nothing."""
    path = tmp_path / "secret_key"
    path.write_text("\n")
    with pytest.raises(SettingsError, match="is empty: put back the secret key"):
        instance_secret(path)
