"""Sealing values stored in the clear before a migration made their column sealed."""

from __future__ import annotations

import sqlalchemy as sa

from tipline.sealing.keyring import Keyring

BATCH = 500


def seal_existing(
    bind: sa.engine.Connection, ring: Keyring, table: str, columns: tuple[str, ...]
) -> None:
    """Seal every stored value of `columns` in `table`, in batches by id. A value already
    sealed under a key of the keyring is left alone, so a re-run does no harm."""
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
                if value is not None and ring.key_of(value) not in ring.keys:
                    value = ring.seal_text(value, f"{table}.{name}")
                    changed = True
                values[name] = value
            if changed:
                changes.append(values)
        if changes:
            bind.execute(update, changes)
        last = rows[-1][0]
