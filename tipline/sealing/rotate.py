"""Re-sealing under the current key, in batches that each commit: an interrupted run is resumed
by running it again (values already under the current key are skipped)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Column, Table, text
from sqlalchemy.engine import Engine

from tipline.db import Base
from tipline.sealing.keyring import Keyring, SealError
from tipline.sealing.types import Sealed, SealedBytes

BATCH = 500


@dataclass(frozen=True)
class SealedColumn:
    """A sealed column: its table, name, primary key and purpose (associated data)."""

    table: str
    column: str
    key: str
    purpose: str
    binary: bool


def sealed_columns() -> list[SealedColumn]:
    """Every column of every table whose type is Sealed or SealedBytes."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            kind = column.type
            if isinstance(kind, Sealed | SealedBytes):
                found.append(_describe(table, column, kind))
    return found


def _describe(table: Table, column: Column[object], kind: Sealed | SealedBytes) -> SealedColumn:
    (pk,) = table.primary_key.columns
    return SealedColumn(
        table.name, column.name, pk.name, kind.purpose, isinstance(kind, SealedBytes)
    )


def _batches(engine: Engine, col: SealedColumn, size: int) -> Iterator[list[tuple[int, object]]]:
    last = 0
    query = text(
        f"SELECT {col.key}, {col.column} FROM {col.table} "
        f"WHERE {col.key} > :last AND {col.column} IS NOT NULL ORDER BY {col.key} LIMIT :n"
    )
    while True:
        with engine.connect() as conn:
            rows = [(int(r[0]), r[1]) for r in conn.execute(query, {"last": last, "n": size})]
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def count_by_key(engine: Engine) -> Counter[str]:
    """How many stored values each key id seals ("plain" for values not sealed at all)."""
    counts: Counter[str] = Counter()
    for col in sealed_columns():
        for rows in _batches(engine, col, 5000):
            for _id, value in rows:
                raw = bytes(value) if col.binary else str(value)  # type: ignore[call-overload]
                counts[Keyring.key_of(raw) or "plain"] += 1
    return counts


def reseal(
    engine: Engine,
    ring: Keyring,
    *,
    size: int = BATCH,
    progress: Callable[[str, int], None] | None = None,
    broken: list[str] | None = None,
) -> int:
    """Seal every stored value under `ring.current` (opening it with whichever key sealed it);
    each batch commits. Returns how many values were re-sealed. A value that does not open is
    left as it is and named in `broken`: one damaged value must not stop the rotation."""
    done = 0
    for col in sealed_columns():
        update = text(f"UPDATE {col.table} SET {col.column} = :v WHERE {col.key} = :id")
        for rows in _batches(engine, col, size):
            changes = []
            for row_id, value in rows:
                try:
                    fresh = _resealed(ring, col, value)
                except SealError as exc:
                    if broken is not None:
                        broken.append(f"{col.table}.{col.column} of {col.key} {row_id}: {exc}")
                    continue
                if fresh is not None:
                    changes.append({"v": fresh, "id": row_id})
            if changes:
                with engine.begin() as conn:
                    conn.execute(update, changes)
                done += len(changes)
                if progress:
                    progress(f"{col.table}.{col.column}", len(changes))
    return done


def _resealed(ring: Keyring, col: SealedColumn, value: object) -> object | None:
    """`value` sealed under the current key; None when it already is."""
    if col.binary:
        blob = bytes(value)  # type: ignore[call-overload]
        if Keyring.key_of(blob) == ring.current:
            return None
        return ring.seal_bytes(ring.open_bytes(blob, col.purpose), col.purpose)
    sealed = str(value)
    if Keyring.key_of(sealed) == ring.current:
        return None
    return ring.seal_text(ring.open_text(sealed, col.purpose), col.purpose)
