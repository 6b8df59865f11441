"""The audit log's hash chain: the canonical form of a record, its seal, and verification.

A record's seal is HMAC-SHA256(key, previous seal + "\\n" + canonical record). The key lives in
the settings (TIPLINE_AUDIT_KEY, by default derived from SECRET_KEY), never in the database: a
person who can write to the database, even one who dropped the append-only triggers, cannot
seal a rewritten record, so `verify` finds the first record that was changed, removed or added.

The canonical form is fixed forever (FORMAT): changing it would break every existing chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

FORMAT = 1
GENESIS = "0" * 64


class Sealable(Protocol):
    """What a record offers to be sealed (an AuditEvent, or a row read by a migration)."""

    id: int
    at: datetime
    actor_id: int | None
    actor_email: str | None
    action: str
    target: str | None
    outcome: str
    detail: dict[str, Any]


def plain(detail: dict[str, Any] | None) -> dict[str, Any]:
    """`detail` as the database will give it back (tuples become lists, keys text)."""
    data: dict[str, Any] = json.loads(json.dumps(dict(detail or {}), allow_nan=False))
    return data


def canonical(record: Sealable) -> bytes:
    """The record's fields as one stable byte string (sorted keys, UTC with microseconds)."""
    at = record.at.astimezone(UTC).isoformat(timespec="microseconds")
    fields = [
        FORMAT,
        record.id,
        at,
        record.actor_id,
        record.actor_email,
        record.action,
        record.target,
        record.outcome,
        record.detail,
    ]
    text = json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode()


def seal(key: str, prev_hash: str, record: Sealable) -> str:
    """The record's seal, chained to the previous record's."""
    message = prev_hash.encode() + b"\n" + canonical(record)
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def key_id(key: str) -> str:
    """A short public name of a key (a hash), to tell "wrong key" from "tampered"."""
    return hashlib.sha256(b"tipline audit key id\n" + key.encode()).hexdigest()[:16]


class StoredRecord(Sealable, Protocol):
    """A record as stored, with its seal."""

    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Head:
    """The chain's head as the database holds it."""

    last_id: int
    last_hash: str
    key_id: str | None
    records: int


@dataclass(frozen=True)
class Verdict:
    """The outcome of a verification: ok, or the first bad record and what is wrong with it."""

    ok: bool
    records: int
    head_id: int
    head_hash: str
    problem: str | None = None
    bad_id: int | None = None


def verify(
    key: str,
    head: Head | None,
    records: Iterable[StoredRecord],
    *,
    expect: tuple[int, str] | None = None,
) -> Verdict:
    """Recompute the chain over `records` (oldest first) and compare it with `head`."""
    if head is None:
        return Verdict(False, 0, 0, GENESIS, "the chain head is missing (audit_chain emptied)")
    if head.key_id is not None and head.key_id != key_id(key):
        return Verdict(
            False,
            0,
            head.last_id,
            head.last_hash,
            f"the log was sealed with another key (key id {head.key_id}, configured "
            f"{key_id(key)}): set TIPLINE_AUDIT_KEY to the key that sealed it",
        )
    running, last_id, count, seen_expected = GENESIS, 0, 0, expect is None
    for record in records:
        count += 1
        where = (
            f"record #{record.id} ({record.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} {record.action})"
        )
        if record.prev_hash != running:
            problem = (
                f"{where} does not follow record #{last_id}: records between them were "
                "removed or rewritten"
                if last_id
                else f"{where} is not the first record: the records before it were removed"
            )
            return _bad(count, head, problem, record.id)
        if not hmac.compare_digest(seal(key, record.prev_hash, record), record.hash):
            return _bad(
                count, head, f"{where} was altered: its content does not match its seal", record.id
            )
        if expect is not None and record.id == expect[0]:
            if record.hash != expect[1]:
                return _bad(
                    count, head, f"{where} is not the record noted as #{expect[0]}", record.id
                )
            seen_expected = True
        running, last_id = record.hash, record.id
    if (last_id, running, count) != (head.last_id, head.last_hash, head.records):
        if count < head.records or last_id < head.last_id:
            problem = (
                f"the log ends at record #{last_id} ({count} records) but the chain head is "
                f"#{head.last_id} ({head.records} records): the newest records were removed"
                if count
                else f"the log is empty but the chain head is #{head.last_id}: every record "
                "was removed"
            )
            return _bad(count, head, problem, last_id + 1)
        problem = (
            f"the chain head (#{head.last_id}) does not match the last record (#{last_id}): "
            "the head was rewritten"
        )
        return _bad(count, head, problem, last_id)
    if not seen_expected:
        assert expect is not None
        return _bad(
            count, head, f"record #{expect[0]}, noted earlier, is no longer in the log", expect[0]
        )
    return Verdict(True, count, head.last_id, head.last_hash)


def _bad(count: int, head: Head, problem: str, bad_id: int) -> Verdict:
    return Verdict(False, count, head.last_id, head.last_hash, problem, bad_id)
