"""Keys the database needs and the keyring lacks: refused at start-up, 503 on /readyz.

A keyring file that went missing (a lost mount, a restore without `--with-keys`) must never be
replaced silently by a fresh one while the database holds values sealed under the old keys:
every staff page that opens them would fail, new tips would be sealed under a key nobody backed
up, and old receipt codes would stop matching. So a keyring is generated only into a database
that holds no tip and no sealed value, unless TIPLINE_NEW_KEYRING says to start afresh.

The checks read only a few short prefixes (the oldest and the newest value of every sealed
column, cut to `PREFIX` bytes in SQL): a key in use anywhere is in use at one end of a column,
since a rotation re-seals in primary-key order and a key is retired only when nothing needs it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tipline.config import SettingsError
from tipline.sealing.keyring import Keyring, KeyringError

# "s1:" + a key id ("v12-3fa9c1") + ":" fits in this; so does b"S1" + length + id.
PREFIX = 40
# /readyz answers from a result this fresh (seconds): the probe stays in milliseconds.
CACHE_SECONDS = 5.0
OVERRIDE = "TIPLINE_NEW_KEYRING"

Run = Callable[[str], Iterable[Any]]


class KeyringMissing(KeyringError, SettingsError):
    """The keyring file is missing while the database holds data sealed under its keys (a
    SettingsError too, so the CLI says it in one line)."""


def _columns() -> list[tuple[str, str, str]]:
    # Every model registered on Base.metadata, even this early in create_app (before the
    # blueprints import them) or in a process that never imported them.
    import tipline.accounts.models
    import tipline.api.models
    import tipline.followup.models
    import tipline.intake.models
    import tipline.locations.models
    import tipline.triage.models  # noqa: F401
    from tipline.sealing.rotate import sealed_columns

    return [(c.table, c.column, c.key) for c in sealed_columns()]


def _key_of(value: Any) -> str | None:
    if value is None:
        return None
    raw = bytes(value) if isinstance(value, bytes | bytearray | memoryview) else str(value)
    try:
        return Keyring.key_of(raw)
    except (IndexError, UnicodeDecodeError):
        return "(unreadable)"


def key_ids_in_use(run: Run, tables: set[str]) -> set[str]:
    """The key ids of the oldest and newest value of every sealed column (tables that do not
    exist yet are skipped)."""
    found: set[str] = set()
    for table, column, pk in _columns():
        if table not in tables:
            continue
        for order in ("ASC", "DESC"):
            rows = list(
                run(
                    f"SELECT substr({column}, 1, {PREFIX}) FROM {table} "
                    f"WHERE {column} IS NOT NULL ORDER BY {pk} {order} LIMIT 1"
                )
            )
            kid = _key_of(rows[0][0]) if rows else None
            if kid is not None:
                found.add(kid)
    return found


def table_names(run: Run, dialect: str) -> set[str]:
    """The tables of the database (SQLite or the current PostgreSQL schema)."""
    if dialect == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        query = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    return {str(r[0]) for r in run(query)}


def missing_key_ids(run: Run, dialect: str, ring: Keyring) -> set[str]:
    """Key ids the database uses that `ring` does not hold."""
    return key_ids_in_use(run, table_names(run, dialect)) - set(ring.keys)


def refuse_fresh_keyring(run: Run, dialect: str, where: str) -> None:
    """Raise KeyringMissing when a new keyring at `where` would orphan the database's data."""
    tables = table_names(run, dialect)
    used = key_ids_in_use(run, tables)
    tips = bool(list(run("SELECT 1 FROM tip LIMIT 1"))) if "tip" in tables else False
    if not used and not tips:
        return
    named = ", ".join(sorted(used)) or "(none sealed yet, but receipts need its look-up key)"
    raise KeyringMissing(
        f"the keyring {where} is missing, but the database holds tips sealed under key(s) "
        f"{named}. Restore the keyring from its backup (the data_keys file, or "
        "`tipline restore` of a backup made --with-keys) and start again. Only to start "
        f"afresh, giving up every stored tip's text and receipt, set {OVERRIDE}=1 once."
    )


@dataclass
class KeyCheck:
    """The key ids the database uses, read again at most every CACHE_SECONDS."""

    until: float = 0.0
    used: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, compute: Callable[[], set[str]]) -> set[str]:
        """The cached key ids, or `compute()`'s when the cache is stale."""
        now = time.monotonic()
        with self.lock:
            if now < self.until:
                return self.used
        used = compute()
        with self.lock:
            self.used, self.until = used, now + CACHE_SECONDS
        return used


def refuse_fresh_keyring_for(engine: Any, where: str) -> None:
    """`refuse_fresh_keyring` on an engine's database (a SQLite file not made yet is empty)."""
    from sqlalchemy.exc import DBAPIError

    url = engine.url
    if url.get_backend_name() == "sqlite":
        name = url.database
        from pathlib import Path

        if name in (None, "", ":memory:") or not Path(str(name)).exists():
            return
    try:
        with engine.connect() as conn:
            refuse_fresh_keyring(
                lambda q: conn.exec_driver_sql(q).all(), engine.dialect.name, where
            )
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise KeyringMissing(
            f"the keyring {where} is missing and the database cannot be checked for data "
            f"sealed under it ({reason}): start again when the database answers"
        ) from None
