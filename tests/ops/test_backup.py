"""Backups that restore: a snapshot taken under tip load and audit appends, restored into a
fresh instance, holds every tip it counted with its content, and the same audit chain."""

from __future__ import annotations

import io
import json
import stat
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from tests import factories, loadgen
from tests.conftest import make_test_app
from tipline.accounts import audit
from tipline.accounts.models import AuditEvent
from tipline.cli import main
from tipline.db import Base, Database, session_scope, utcnow
from tipline.intake.models import Tip
from tipline.migrate import revisions, upgrade
from tipline.ops import backup as backups

SECRET = "test-secret-key-not-for-production"


def _app(url: str, instance: Path, **settings: object) -> Flask:
    return make_test_app(url, instance, **settings)


@contextmanager
def _instance(
    url: str, instance: Path, *, migrate: bool = True, **settings: object
) -> Iterator[Flask]:
    app = _app(url, instance, **settings)
    if migrate:
        upgrade(app)
    try:
        yield app
    finally:
        Database.engine(app).dispose()


def _rows(engine: Engine, table: str) -> dict[Any, dict[str, Any]]:
    """Every row of `table` by primary key, as stored (sealed columns stay sealed)."""
    t = Base.metadata.tables[table]
    key = t.primary_key.columns.values()[0]
    with engine.connect() as conn:
        return {r._mapping[key.name]: dict(r._mapping) for r in conn.execute(select(t))}


def _cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(main, list(args), catch_exceptions=False)


def _placement(app: Flask) -> str:
    with session_scope(app, write=True) as s:
        return factories.placement(s, station=factories.station(s)).code


def _audit_appender(app: Flask, until: float, appended: list[int]) -> None:
    while time.monotonic() < until:
        with session_scope(app, write=True) as s:
            event = audit.record(s, action="test.load", actor=None, now=utcnow(), target="x:1")
            appended.append(event.id)
        time.sleep(0.01)


def test_backup_under_load_restores_every_tip_and_the_audit_chain(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    source_url, target_url = new_database(), new_database()
    archive = tmp_path / "tipline.backup"
    unlimited = {"TIP_LIMIT_PER_CLIENT": "0", "TIP_LIMIT_PER_PLACEMENT": "0"}
    with _instance(source_url, tmp_path / "source", **unlimited) as source:
        code = _placement(source)
        server = make_server("127.0.0.1", 0, source, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        tally, appended = loadgen.Tally(), []
        until = time.monotonic() + 4.0
        workers = [
            threading.Thread(target=loadgen.traveler_worker, args=(base, code, until, tally))
            for _ in range(4)
        ] + [threading.Thread(target=_audit_appender, args=(source, until, appended))]
        for w in workers:
            w.start()
        try:
            time.sleep(1.5)
            with session_scope(source) as s:
                before_ids = set(s.scalars(select(Tip.id)))
            before = len(before_ids)
            result = _cli(source, "backup", "-o", str(archive))
            assert result.exit_code == 0, result.output
        finally:
            for w in workers:
                w.join(30)
            server.shutdown()
        assert not tally.errors and tally.server_errors == 0, tally.table()
        manifest = backups.read_manifest(archive)
        engine = Database.engine(source)
        source_tips, source_audit = _rows(engine, "tip"), _rows(engine, "audit_event")
    backed_up = manifest.tables["tip"]
    # Really under load: tips were stored before the snapshot and after it.
    assert 0 < before <= backed_up < len(source_tips), (before, backed_up, len(source_tips))
    assert 0 < manifest.tables["audit_event"] < len(source_audit)
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600

    with _instance(target_url, tmp_path / "target") as target:
        result = _cli(target, "restore", str(archive))
        assert result.exit_code == 0, result.output
        engine = Database.engine(target)
        restored_tips, restored_audit = _rows(engine, "tip"), _rows(engine, "audit_event")
        with session_scope(target) as s:
            verdict = audit.verify(s, str(target.extensions["tipline.settings"].audit_key))
        result = _cli(target, "audit", "verify")
    assert len(restored_tips) == backed_up
    for tip_id, row in restored_tips.items():
        assert row == source_tips[tip_id]  # every column, content included
    # A snapshot is a moment: every tip committed before the backup began is in it...
    assert before_ids <= set(restored_tips)
    # ...and so is every tip stored up to the last one it holds. On PostgreSQL an id is drawn
    # from the sequence before its transaction commits, so a tip still in flight when the
    # snapshot was taken may hold a lower id than one it contains: at most one per traveler.
    missing = {i for i in source_tips if i <= max(restored_tips)} - set(restored_tips)
    in_flight = 0 if source_url.startswith("sqlite") else len(workers) - 1
    assert len(missing) <= in_flight, (sorted(missing), in_flight)
    assert verdict.ok and verdict.records == len(restored_audit) > 0, verdict
    assert result.exit_code == 0, result.output
    for event_id, row in restored_audit.items():
        assert row == source_audit[event_id]
    print(
        f"\n{len(source_tips)} tips stored under load, {backed_up} in the backup "
        f"({before} before it began); {len(restored_audit)} audit records restored and verified"
    )


def test_restore_refuses_a_database_with_data_unless_forced(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    archive = tmp_path / "a.backup"
    with _instance(new_database(), tmp_path / "one") as one:
        _placement(one)
        assert _cli(one, "backup", "-o", str(archive)).exit_code == 0
        with session_scope(one, write=True) as s:
            factories.station(s, **factories.NWK)
        result = _cli(one, "restore", str(archive))
        assert result.exit_code == 1
        assert "holds data" in result.output and "--force" in result.output
        assert _cli(one, "restore", str(archive), "--force").exit_code == 0
        with session_scope(one) as s:
            codes = set(s.scalars(select(factories.Station.code)))
        assert codes == {"NYP"}


def test_an_older_backup_is_migrated_forward(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    archive = tmp_path / "old.backup"
    with _instance(new_database(), tmp_path / "old", migrate=False) as old:
        upgrade(old, "0007_harden_staff")
        assert _cli(old, "backup", "-o", str(archive)).exit_code == 0
    assert backups.read_manifest(archive).revision == "0007_harden_staff"
    with _instance(new_database(), tmp_path / "new", migrate=False) as new:
        result = _cli(new, "restore", str(archive))
        assert result.exit_code == 0, result.output
        current, head = revisions(new)
    assert current == head != "0007_harden_staff"
    assert "revision 0007_harden_staff, now" in result.output


def test_keys_only_when_asked_every_key_file_mode_600(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    plain, keyed = tmp_path / "plain.backup", tmp_path / "keyed.backup"
    url = new_database()
    instance = tmp_path / "inst"
    with _instance(url, instance, migrate=True) as app:
        # A key file another part of Tipline adds (the data keys of sealing, say) is carried by
        # its name alone; the file named secret_key is generated by the app when not set.
        (instance / "data_keys").write_text("k1:abc\n")
        (instance / "secret_key").write_text("from-a-file\n")
        (instance / "notes.txt").write_text("not a key")
        assert _cli(app, "backup", "-o", str(plain)).exit_code == 0
        result = _cli(app, "backup", "-o", str(keyed), "--with-keys")
        assert result.exit_code == 0
        assert "WARNING" in result.output and "read every tip" in result.output
    with tarfile.open(plain) as tar:
        assert not [n for n in tar.getnames() if n.startswith("keys/")]
    with tarfile.open(keyed) as tar:
        names = set(tar.getnames())
        assert {"keys/data_keys", "keys/secret_key"} <= names
        assert "keys/notes.txt" not in names
        # The test app's secret comes from its settings, not the file: it travels too.
        env = tar.extractfile("keys/settings.env")
        assert env is not None and f"TIPLINE_SECRET_KEY={SECRET}" in env.read().decode()
    for path in (plain, keyed):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    target_instance = tmp_path / "restored"
    target_instance.mkdir()
    (target_instance / "secret_key").write_text("generated-here")
    with _instance(new_database(), target_instance) as target:
        result = _cli(target, "restore", str(keyed))
        assert result.exit_code == 0, result.output
    assert (target_instance / "data_keys").read_text() == "k1:abc\n"
    assert (target_instance / "secret_key").read_text() == "from-a-file\n"
    assert stat.S_IMODE((target_instance / "data_keys").stat().st_mode) == 0o600
    assert (target_instance / "secret_key.before-restore").read_text() == "generated-here"
    env_file = target_instance / "restored-settings.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_a_damaged_backup_is_refused_and_changes_nothing(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    archive, damaged = tmp_path / "a.backup", tmp_path / "damaged.backup"
    with _instance(new_database(), tmp_path / "one") as one:
        _placement(one)
        assert _cli(one, "backup", "-o", str(archive)).exit_code == 0
    manifest = backups.read_manifest(archive)
    with tarfile.open(archive) as src, tarfile.open(damaged, "w:gz") as dst:
        for member in src.getmembers():
            fh = src.extractfile(member)
            assert fh is not None
            data = bytearray(fh.read())
            if member.name == manifest.data_file:
                data[len(data) // 2] ^= 0xFF
            member.size = len(data)
            dst.addfile(member, io.BytesIO(bytes(data)))
    with _instance(new_database(), tmp_path / "two") as two:
        result = _cli(two, "restore", str(damaged))
        assert result.exit_code == 1
        assert "checksum" in result.output
        with session_scope(two) as s:
            assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_not_a_backup(tmp_path: Path, app: Flask) -> None:
    path = tmp_path / "nothing.backup"
    path.write_bytes(b"hello")
    result = app.test_cli_runner().invoke(main, ["restore", str(path)])
    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_a_bad_key_file_is_refused_before_the_database_is_replaced(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    # F11: the key file names were checked only after the database had been restored.
    archive, crafted = tmp_path / "a.backup", tmp_path / "crafted.backup"
    with _instance(new_database(), tmp_path / "one") as one:
        _placement(one)
        assert _cli(one, "backup", "-o", str(archive)).exit_code == 0
    with tarfile.open(archive) as src, tarfile.open(crafted, "w:gz") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member))
        evil = tarfile.TarInfo("keys/../../../escaped_key")
        evil.size = 3
        dst.addfile(evil, io.BytesIO(b"abc"))
    with _instance(new_database(), tmp_path / "two") as two:
        result = _cli(two, "restore", str(crafted))
        assert result.exit_code == 1
        assert "unexpected key file name" in result.output
        with session_scope(two) as s:
            assert s.scalar(select(func.count()).select_from(factories.Station)) == 0
    assert not list(tmp_path.rglob("escaped_key"))


def test_settings_json_masks_every_credential_in_a_url(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    # F10: the Redis password was kept in clear in a key-less backup's settings.json.
    archive = tmp_path / "a.backup"
    url = new_database()
    redis_url = "redis://:redispass@127.0.0.1:6391/0"
    with _instance(url, tmp_path / "one", REDIS_URL=redis_url, METRICS_TOKEN="metricstok") as one:
        assert _cli(one, "backup", "-o", str(archive)).exit_code == 0
    with tarfile.open(archive) as tar:
        member = tar.extractfile("settings.json")
        assert member is not None
        settings = json.loads(member.read())
    text = json.dumps(settings)
    assert "redispass" not in text and "metricstok" not in text
    assert settings["TIPLINE_REDIS_URL"] == "redis://:***@127.0.0.1:6391/0"
    assert settings["TIPLINE_METRICS_TOKEN"] == "(set)"
    password = make_url(url).password
    if password:
        assert str(password) not in text
    assert backups.mask_url_credentials("https://h.example/hook?token=abc&x=1") == (
        "https://h.example/hook?token=***&x=1"
    )


def test_restore_refuses_a_database_other_processes_use(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    # F12: `restore --force` over running servers lost the tips they took meanwhile.
    from tipline.db import make_engine

    archive = tmp_path / "a.backup"
    url = new_database()
    with _instance(url, tmp_path / "one") as one:
        _placement(one)
        assert _cli(one, "backup", "-o", str(archive)).exit_code == 0
        with session_scope(one, write=True) as s:
            factories.station(s, **factories.NWK)
        server = make_engine(url)  # a web worker's pool: one idle connection kept open
        with server.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM tip").all()
        try:
            started = time.monotonic()
            result = _cli(one, "restore", str(archive), "--force")
            assert time.monotonic() - started < 5
            assert result.exit_code == 1
            assert "in use" in result.output and "stop the web and alert services" in result.output
            assert "--force twice" in result.output
            with session_scope(one) as s:  # nothing was replaced
                assert set(s.scalars(select(factories.Station.code))) == {"NYP", "NWK"}
            result = _cli(one, "restore", str(archive), "--force", "--force")
            assert result.exit_code == 0, result.output
        finally:
            server.dispose()
        with session_scope(one, write=True) as s:
            factories.station(s, **factories.NWK)
        # Once the servers are stopped, one --force is enough.
        assert _cli(one, "restore", str(archive), "--force").exit_code == 0
        with session_scope(one) as s:
            assert set(s.scalars(select(factories.Station.code))) == {"NYP"}
