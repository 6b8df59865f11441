"""Backups that restore: a consistent snapshot of the database while the app runs, the settings
it was made with, and (only when asked) the keys without which sealed data and the audit chain
cannot be read or checked.

The archive is a tar file (mode 600: it holds every tip) with
- `manifest.json`: format, when, the backend, the schema revision, each table's row count in the
  snapshot, the SHA-256 of the data file, whether keys are inside;
- `settings.json`: every setting as text, secrets masked, the database password hidden;
- `database.sqlite` (SQLite's online backup API: one read transaction, so a writer never tears
  it) or `database.pgdump` (`pg_dump --format=custom` run on a snapshot exported from a
  REPEATABLE READ transaction, so the row counts in the manifest are those of the dump);
- with `--with-keys` only: `keys/<name>` for every key file of the instance folder
  (`config.key_files`: the generated secret key, and any other `*_key`/`*_keys` file such as the
  data keys), and `keys/settings.env` for secrets given in the environment instead of a file.

Restore refuses a database that holds data unless forced, checks the data file's hash and (on
SQLite) its integrity, checks every table's row count against the manifest, then migrates an
older backup forward to this code's head.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL, make_url

from tipline.config import Settings, derived_key, get_settings, key_files
from tipline.db import Database
from tipline.sealing.guard import key_ids_in_use, table_names
from tipline.sealing.keyring import KEYS_FILE, Keyring, KeyringError, install

FORMAT = 1
SQLITE_FILE = "database.sqlite"
PG_FILE = "database.pgdump"
KEYS = "keys/"
SETTINGS_ENV = "settings.env"
# Rows these tables hold in a freshly migrated database; any other row means "holds data".
_BOOKKEEPING = {"alembic_version", "audit_chain"}


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why."""


class RestoreRefused(BackupError):
    """The target database holds data and --force was not given."""


class DatabaseInUse(BackupError):
    """Other processes (servers still running) use the target database."""


# How long a restore waits for SQLite's exclusive lock before saying the database is in use.
IN_USE_SECONDS = 0.5


@dataclass(frozen=True)
class Manifest:
    """What a backup holds (manifest.json)."""

    format: int
    created_at: str
    backend: str
    revision: str | None
    tables: dict[str, int]
    data_file: str
    sha256: str
    with_keys: bool
    key_names: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: bytes) -> Manifest:
        """Read manifest.json; BackupError when it is not one of ours."""
        try:
            data = json.loads(raw)
            manifest = cls(**data)
        except (ValueError, TypeError) as exc:
            raise BackupError(f"not a Tipline backup (manifest unreadable: {exc})") from None
        if manifest.format != FORMAT:
            raise BackupError(f"backup format {manifest.format} is not one this Tipline reads")
        return manifest


@dataclass(frozen=True)
class Restored:
    """What a restore did."""

    manifest: Manifest
    revision_before: str | None
    revision_after: str
    keys_written: list[str]
    keys_kept: list[str]
    settings_env: Path | None
    # Key ids the restored database uses that the instance's keyring lacks (a backup restored
    # without its keys): its tips cannot be read until that keyring is put back.
    keys_missing: list[str] = field(default_factory=list)
    keyring: str = ""  # where the instance's keyring is (or must be put)


# --- backup -----------------------------------------------------------------------------------


def backup(app: Flask, out: Path, *, with_keys: bool, now: datetime) -> Manifest:
    """Write a backup of the app's database (and keys when asked) to `out`, mode 600."""
    settings = get_settings(app)
    url = make_url(str(settings.database_url))
    with tempfile.TemporaryDirectory(prefix="tipline-backup-") as work:
        folder = Path(work)
        if url.get_backend_name() == "sqlite":
            data_file = folder / SQLITE_FILE
            revision, tables = _snapshot_sqlite(_sqlite_path(url), data_file)
        else:
            data_file = folder / PG_FILE
            revision, tables = _snapshot_postgresql(app, url, data_file)
        keys = _keys(settings) if with_keys else {}
        manifest = Manifest(
            format=FORMAT,
            created_at=now.isoformat(),
            backend=url.get_backend_name(),
            revision=revision,
            tables=tables,
            data_file=data_file.name,
            sha256=_sha256(data_file),
            with_keys=with_keys,
            key_names=sorted(keys),
        )
        _write_archive(out, manifest, _settings_text(settings), data_file, keys)
    return manifest


def _sqlite_path(url: URL) -> Path:
    if url.database in (None, "", ":memory:"):
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(str(url.database))


def _snapshot_sqlite(source: Path, target: Path) -> tuple[str | None, dict[str, int]]:
    """SQLite's online backup API, all pages in one step: one read transaction, so the copy is
    the database as of one moment while writers carry on (WAL lets them)."""
    if not source.exists():
        raise BackupError(f"no database at {source}")
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    with _sqlite(target) as conn:
        return _sqlite_revision(conn), _sqlite_counts(conn)


@contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path)
    try:
        yield conn
    finally:
        conn.close()


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {
        t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])
        for t in _sqlite_tables(conn)
    }


def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    if "alembic_version" not in _sqlite_tables(conn):
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string for pg_dump/pg_restore, and an environment carrying the
    password (never on the command line, where `ps` would show it)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} not found: install PostgreSQL's client tools "
            "(Debian: apt-get install postgresql-client) in the server's major version"
        )
    return path


def _snapshot_postgresql(app: Flask, url: URL, target: Path) -> tuple[str | None, dict[str, int]]:
    """pg_dump on a snapshot this transaction exported: the dump and the row counts in the
    manifest come from the same moment, while the app keeps writing."""
    dump = _tool("pg_dump")
    conninfo, env = _libpq(url)
    engine = Database.engine(app)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            tables = _pg_counts(conn)
            revision = _pg_revision(conn)
            result = subprocess.run(
                [
                    dump,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={target}",
                    f"--dbname={conninfo}",
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    return revision, tables


def _pg_tables(conn: Connection) -> list[str]:
    rows = conn.execute(
        text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        )
    )
    return [str(r[0]) for r in rows]


def _pg_counts(conn: Connection) -> dict[str, int]:
    return {
        t: int(conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one())
        for t in _pg_tables(conn)
    }


def _pg_revision(conn: Connection) -> str | None:
    if "alembic_version" not in _pg_tables(conn):
        return None
    value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return str(value) if value is not None else None


def _keys(settings: Settings) -> dict[str, bytes]:
    """Every key file of the instance folder, and secrets set in the environment."""
    keys = {p.name: p.read_bytes() for p in key_files(settings)}
    lines = []
    secret_file = Path(str(settings.instance_path)) / "secret_key"
    from_file = secret_file.exists() and secret_file.read_text().strip() == settings.secret_key
    if settings.secret_key and not from_file:
        lines.append(f"TIPLINE_SECRET_KEY={settings.secret_key}")
    derived = derived_key(str(settings.secret_key), "audit chain")
    if settings.audit_key and settings.audit_key != derived:
        lines.append(f"TIPLINE_AUDIT_KEY={settings.audit_key}")
    if lines:
        keys[SETTINGS_ENV] = ("\n".join(lines) + "\n").encode()
    return keys


def _settings_text(settings: Settings) -> dict[str, str]:
    """Every setting as text, secrets masked (settings.public) and so is any credential in a
    URL: a password or token in its user part (`redis://:pass@host`) or its query string."""
    return {name: mask_url_credentials(value) for name, value in settings.public().items()}


# scheme://userinfo@ : the userinfo (up to the authority's last @) is a credential: a password,
# or a token as the user name.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/?#\s]*)@")
_QUERY_SECRET = re.compile(
    r"(?P<name>[?&;](?:[^=&;#\s]*(?:pass|pwd|secret|token|key|auth|sig)[^=&;#\s]*)=)[^&;#\s]*",
    re.IGNORECASE,
)
MASK = "***"


def mask_url_credentials(value: str) -> str:
    """`value` with the password (or a lone user name, often a token) of every URL in it, and
    any credential-like query parameter, replaced by ***."""

    def userinfo(m: re.Match[str]) -> str:
        user, colon, _password = m.group("info").partition(":")
        masked = f"{user}:{MASK}" if colon else MASK
        return f"{m.group('scheme')}{masked}@"

    value = _USERINFO.sub(userinfo, value)
    return _QUERY_SECRET.sub(lambda m: m.group("name") + MASK, value)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_archive(
    out: Path,
    manifest: Manifest,
    settings: dict[str, str],
    data_file: Path,
    keys: dict[str, bytes],
) -> None:
    """The tar, written beside `out` as mode 600 and moved into place whole."""
    out = out.resolve()
    fd, partial = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh, tarfile.open(fileobj=fh, mode="w:gz") as tar:
            _add_bytes(tar, "manifest.json", json.dumps(asdict(manifest), indent=2).encode())
            _add_bytes(tar, "settings.json", json.dumps(settings, indent=2).encode())
            tar.add(data_file, arcname=data_file.name)
            for name, content in sorted(keys.items()):
                _add_bytes(tar, KEYS + name, content, mode=0o600)
        os.replace(partial, out)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _add_bytes(tar: tarfile.TarFile, name: str, content: bytes, *, mode: int = 0o600) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(content), mode
    tar.addfile(info, io.BytesIO(content))


# --- restore ----------------------------------------------------------------------------------


def read_manifest(archive: Path) -> Manifest:
    """The manifest of a backup file."""
    with _open(archive) as tar:
        return Manifest.parse(_member(tar, "manifest.json"))


@contextmanager
def _open(archive: Path) -> Iterator[tarfile.TarFile]:
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            yield tar
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"cannot read {archive}: {exc}") from None


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    try:
        fh = tar.extractfile(name)
    except KeyError:
        raise BackupError(f"the backup has no {name}") from None
    if fh is None:
        raise BackupError(f"{name} in the backup is not a file")
    return fh.read()


def restore(app: Flask, archive: Path, *, force: bool, live: bool = False) -> Restored:
    """Restore `archive` into the app's database (and its keys into the instance folder).
    Refused while other processes use the database (servers still running), unless `live`."""
    from tipline.migrate import revisions, upgrade

    settings = get_settings(app)
    url = make_url(str(settings.database_url))
    with _open(archive) as tar, tempfile.TemporaryDirectory(prefix="tipline-restore-") as work:
        manifest = Manifest.parse(_member(tar, "manifest.json"))
        if manifest.backend != url.get_backend_name():
            raise BackupError(
                f"this backup is of a {manifest.backend} database; this Tipline uses "
                f"{url.get_backend_name()}"
            )
        data_file = Path(work) / manifest.data_file
        data_file.write_bytes(_member(tar, manifest.data_file))
        if _sha256(data_file) != manifest.sha256:
            raise BackupError("the backup's data file does not match its checksum (damaged)")
        held = _holds_data(app)
        if held and not force:
            raise RestoreRefused(
                f"the database holds data ({held}); restore with --force to replace it"
            )
        keys = {
            m.name.removeprefix(KEYS): _member(tar, m.name)
            for m in tar.getmembers()
            if m.name.startswith(KEYS) and m.isfile()
        }
        # Everything is checked before anything is written: a bad key file never leaves the
        # database replaced and the keys not.
        _check_key_names(keys)
        engine = Database.engine(app)
        engine.dispose()
        in_use = "" if live else _in_use(app, url)
        if in_use:
            raise DatabaseInUse(
                f"the database is in use ({in_use}): stop the web and alert services first "
                "(systemctl stop tipline-web tipline-alerts), or a tip sent during the restore "
                "would get a receipt and then be lost. To restore anyway, give --force twice"
            )
        if manifest.backend == "sqlite":
            _restore_sqlite(data_file, _sqlite_path(url))
        else:
            _restore_postgresql(app, url, data_file)
        engine.dispose()
        _check_counts(app, manifest)
    written, kept, env_file = _restore_keys(settings, keys)
    ring, where = _instance_keyring(app, settings)
    before = manifest.revision
    upgrade(app)
    after, _head = revisions(app)
    missing = _keys_missing(app, ring)
    engine.dispose()
    return Restored(manifest, before, str(after), written, kept, env_file, missing, where)


def _instance_keyring(app: Flask, settings: Settings) -> tuple[Keyring | None, str]:
    """The keyring the instance will start with (the restored file's, now installed), or None
    when it has none: its file is missing and TIPLINE_DATA_KEY is unset."""
    path = Path(str(settings.instance_path)) / KEYS_FILE
    if settings.data_key:
        return Keyring.from_json(settings.data_key), "TIPLINE_DATA_KEY"
    if not path.exists():
        return None, str(path)
    try:
        ring = Keyring.from_json(path.read_text(), path)
    except KeyringError:
        return None, str(path)
    install(app, ring)  # the migrations below seal with the keyring the servers will use
    return ring, str(path)


def _keys_missing(app: Flask, ring: Keyring | None) -> list[str]:
    """Key ids the database uses that `ring` lacks ("a keyring" when it needs one and has none)."""
    engine = Database.engine(app)
    with engine.connect() as conn:

        def run(query: str) -> list[Any]:
            return list(conn.exec_driver_sql(query).all())

        tables = table_names(run, engine.dialect.name)
        used = key_ids_in_use(run, tables)
        tips = "tip" in tables and bool(run("SELECT 1 FROM tip LIMIT 1"))
    if ring is None:
        return sorted(used) or (["the receipt look-up key"] if tips else [])
    return sorted(used - set(ring.keys))


def _in_use(app: Flask, url: URL) -> str:
    """What else uses the database now ("" when nothing): on PostgreSQL any other client
    session; on SQLite any other connection that holds the file open (a server's pool keeps
    one open even when idle, and with it a lock an exclusive-mode transaction cannot take)."""
    engine = Database.engine(app)
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if not path.exists():
            return ""
        raw = sqlite3.connect(path, timeout=IN_USE_SECONDS, isolation_level=None)
        try:
            raw.execute("PRAGMA locking_mode=EXCLUSIVE")
            raw.execute("BEGIN EXCLUSIVE")
            raw.execute("SELECT count(*) FROM sqlite_master").fetchone()
            raw.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            return f"another process has {path.name} open: {exc}"
        finally:
            raw.close()
        return ""
    with engine.connect() as conn:
        others = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
        ).scalar_one()
    engine.dispose()
    return f"{others} other sessions are connected to it" if others else ""


def _holds_data(app: Flask) -> str:
    """A few words on what the database holds beyond a fresh migration; "" when nothing."""
    counts = _database_counts(app)
    full = {t: n for t, n in counts.items() if n and t not in _BOOKKEEPING}
    return ", ".join(f"{n} {t}" for t, n in sorted(full.items())[:5])


def _database_counts(app: Flask) -> dict[str, int]:
    """Every table's row count, through the app's engine."""
    engine = Database.engine(app)
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            return _pg_counts(conn)
        names = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).scalars()
        return {
            t: int(conn.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar_one())
            for t in list(names)
        }


def _restore_sqlite(snapshot: Path, target: Path) -> None:
    """Check the snapshot's integrity, then copy it page by page into the target database
    (the backup API again: the target's WAL and locks are respected)."""
    with _sqlite(snapshot) as conn:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()
    if not verdict or verdict[0] != "ok":
        raise BackupError(f"the backup's database fails its integrity check: {verdict}")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(snapshot)
    dst = sqlite3.connect(target, timeout=30)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _restore_postgresql(app: Flask, url: URL, dump: Path) -> None:
    """Empty the schema, then pg_restore the dump in one transaction (all or nothing)."""
    tool = _tool("pg_restore")
    conninfo, env = _libpq(url)
    listed = subprocess.run(
        [tool, "--list", str(dump)], env=env, capture_output=True, text=True, check=False
    )
    if listed.returncode != 0:
        raise BackupError(f"the backup's dump is unreadable: {listed.stderr.strip()}")
    with Database.engine(app).begin() as conn:
        # The audit tables refuse TRUNCATE and DELETE, not DROP: replacing a database is an
        # operator's act at the console (and --force), never something the product offers.
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    result = subprocess.run(
        [
            tool,
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={conninfo}",
            str(dump),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()}")


def _check_counts(app: Flask, manifest: Manifest) -> None:
    counts = _database_counts(app)
    if counts != manifest.tables:
        wrong = sorted(
            t for t in set(counts) | set(manifest.tables) if counts.get(t) != manifest.tables.get(t)
        )
        raise BackupError(f"restored row counts differ from the backup's in: {', '.join(wrong)}")


def _restore_keys(
    settings: Settings, keys: dict[str, bytes]
) -> tuple[list[str], list[str], Path | None]:
    """Write the backup's key files into the instance folder (mode 600). A different key
    already there is kept beside it as `<name>.before-restore`, never lost."""
    folder = Path(str(settings.instance_path))
    written: list[str] = []
    kept: list[str] = []
    env_file = None
    _check_key_names(keys)
    for name, content in sorted(keys.items()):
        if name == SETTINGS_ENV:
            env_file = folder / "restored-settings.env"
            _write_600(env_file, content)
            continue
        target = folder / name
        if target.exists():
            if target.read_bytes() == content:
                continue
            aside = folder / f"{name}.before-restore"
            os.replace(target, aside)
            kept.append(aside.name)
        _write_600(target, content)
        written.append(name)
    return written, kept, env_file


def _check_key_names(keys: dict[str, bytes]) -> None:
    """Refuse a key file name that is not a plain file name in the instance folder."""
    for name in keys:
        if not name or "/" in name or "\\" in name or name.startswith(".") or "\0" in name:
            raise BackupError(f"unexpected key file name in the backup: {name!r}")


def _write_600(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
    os.chmod(path, 0o600)


def describe(manifest: Manifest) -> dict[str, Any]:
    """The manifest as a plain dict (for `--json` and messages)."""
    return asdict(manifest)
