"""Sealing values stored in the clear before a migration made their column sealed."""

from __future__ import annotations

import sqlalchemy as sa

from tipline.sealing.keyring import Keyring, SealError

BATCH = 500


def seal_columns(
    bind: sa.engine.Connection,
    ring: Keyring,
    table: str,
    columns: tuple[str, ...],
    *,
    widen: tuple[str, ...],
) -> None:
    """A migration's step making `columns` of `table` sealed: on PostgreSQL the `widen` ones
    become TEXT (a sealed value is longer than its text; SQLite does not enforce VARCHAR
    sizes), then every value stored in clear is sealed."""
    if bind.dialect.name == "postgresql":
        for name in widen:
            bind.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {name} TYPE TEXT")
    seal_existing(bind, ring, table, columns)


def seal_existing(
    bind: sa.engine.Connection, ring: Keyring, table: str, columns: tuple[str, ...]
) -> None:
    """Seal every stored value of `columns` in `table`, in batches by id. A value that opens
    under the keyring is left alone, so a re-run does no harm; one that only looks sealed (text
    typed as `s1:<a real key id>:...`) is text, and is sealed like any other."""
    names = ", ".join(columns)
    sets = ", ".join(f"{n} = :{n}" for n in columns)
    any_stored = " OR ".join(f"{n} IS NOT NULL" for n in columns)
    select = sa.text(
        f"SELECT id, {names} FROM {table} WHERE id > :last AND ({any_stored}) ORDER BY id LIMIT :n"
    )
    update = sa.text(f"UPDATE {table} SET {sets} WHERE id = :id")
    last = 0
    while rows := bind.execute(select, {"last": last, "n": BATCH}).all():
        changes = []
        for row in rows:
            values: dict[str, object] = {"id": row[0]}
            changed = False
            for name, value in zip(columns, row[1:], strict=True):
                if value is not None and not _opens(ring, value, f"{table}.{name}"):
                    value = ring.seal_text(value, f"{table}.{name}")
                    changed = True
                values[name] = value
            if changed:
                changes.append(values)
        if changes:
            bind.execute(update, changes)
        last = rows[-1][0]


def _opens(ring: Keyring, value: str, purpose: str) -> bool:
    if ring.key_of(value) not in ring.keys:
        return False
    try:
        ring.open_text(value, purpose)
    except SealError:
        return False
    return True
