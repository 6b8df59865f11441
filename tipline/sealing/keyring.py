"""The data keys: versioned AES-256-GCM keys, from TIPLINE_DATA_KEY or the instance folder.

A sealed text value reads `s1:<key id>:<base64url(nonce | ciphertext | tag)>`; a sealed byte
value is `S1` + one byte of id length + the id + nonce + ciphertext + tag. The key id names the
key's version (`v2-3fa9c1`: version 2, then six hex digits of the key's own fingerprint, so
keys of two deployments never share an id). The column's name is the AEAD's associated data:
a value copied into another column does not open.

The keyring file (`data_keys`, mode 600, JSON) keeps every key not yet retired, which one seals
new values, and the receipt look-up key (which never rotates: receipts are stored only as a
keyed hash of the code, and a code cannot be hashed again without the traveler).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, current_app, has_app_context

from tipline.files import create_once

log = logging.getLogger(__name__)

EXTENSION = "tipline.sealing"
KEYS_FILE = "data_keys"
TEXT_PREFIX = "s1:"
BYTES_PREFIX = b"S1"
NONCE = 12
RELOAD_SECONDS = 5.0


class KeyringError(RuntimeError):
    """The keyring is missing, malformed, or cannot do what was asked."""


class SealError(ValueError):
    """A sealed value that does not open: unknown key id, wrong column, or tampered."""


def key_id(version: int, key: bytes) -> str:
    """`v<version>-<6 hex of the key's fingerprint>`."""
    return f"v{version}-{hashlib.sha256(b'tipline data key id' + key).hexdigest()[:6]}"


def _version(kid: str) -> int:
    return int(kid.split("-", 1)[0][1:])


@dataclass
class Keyring:
    """Data keys by id, the id that seals new values, and the receipt look-up key."""

    keys: dict[str, bytes]
    current: str
    lookup: bytes
    created: dict[str, str] = field(default_factory=dict)
    path: Path | None = None  # the file it came from (None: from TIPLINE_DATA_KEY)
    reload_error: str | None = None  # why the file's last re-read failed (kept: the last good)

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise KeyringError(f"the current key {self.current} is not in the keyring")
        self.checked = time.monotonic()
        self.mtime = self.path.stat().st_mtime_ns if self.path and self.path.exists() else 0
        self._aead = {kid: AESGCM(key) for kid, key in self.keys.items()}

    # --- sealing --------------------------------------------------------------------------
    def seal_text(self, value: str, purpose: str) -> str:
        """Seal `value` for the column named `purpose` under the current key."""
        nonce = secrets.token_bytes(NONCE)
        body = self._aead[self.current].encrypt(nonce, value.encode(), purpose.encode())
        return f"{TEXT_PREFIX}{self.current}:{base64.urlsafe_b64encode(nonce + body).decode()}"

    def open_text(self, sealed: str, purpose: str) -> str:
        """The plain text of a sealed value (a value without the prefix was never sealed)."""
        if not sealed.startswith(TEXT_PREFIX):
            return sealed
        kid, _, body = sealed[len(TEXT_PREFIX) :].partition(":")
        try:
            raw = base64.urlsafe_b64decode(body)
        except ValueError:  # binascii.Error: not base64 at all
            raise SealError(f"a value naming key {kid} is not a sealed value") from None
        return self._open(kid, raw[:NONCE], raw[NONCE:], purpose).decode()

    def seal_bytes(self, value: bytes, purpose: str) -> bytes:
        """Seal bytes (a photo) for the column named `purpose` under the current key."""
        nonce = secrets.token_bytes(NONCE)
        kid = self.current.encode()
        body = self._aead[self.current].encrypt(nonce, value, purpose.encode())
        return BYTES_PREFIX + bytes([len(kid)]) + kid + nonce + body

    def open_bytes(self, sealed: bytes, purpose: str) -> bytes:
        """The plain bytes of a sealed value."""
        if not sealed.startswith(BYTES_PREFIX):
            raise SealError("not a sealed value")
        size = sealed[2]
        kid = sealed[3 : 3 + size].decode()
        rest = sealed[3 + size :]
        return self._open(kid, rest[:NONCE], rest[NONCE:], purpose)

    def _open(self, kid: str, nonce: bytes, body: bytes, purpose: str) -> bytes:
        aead = self._aead.get(kid) or _ALL_KEYS.get(kid)
        if aead is None:
            raise SealError(f"sealed under key {kid}, which this keyring does not hold")
        try:
            return aead.decrypt(nonce, body, purpose.encode())
        except (InvalidTag, ValueError):  # ValueError: cut too short to hold a nonce and tag
            raise SealError(f"a value sealed under {kid} does not open for {purpose}") from None

    @staticmethod
    def key_of(sealed: str | bytes) -> str | None:
        """The key id a sealed value names (None for a value that is not sealed)."""
        if isinstance(sealed, str):
            if not sealed.startswith(TEXT_PREFIX):
                return None
            return sealed[len(TEXT_PREFIX) :].partition(":")[0]
        if not sealed.startswith(BYTES_PREFIX):
            return None
        return sealed[3 : 3 + sealed[2]].decode()

    # --- receipts -------------------------------------------------------------------------
    def lookup_hash(self, text: str) -> str:
        """A keyed hash for looking a value up (receipt codes) without storing it."""
        return hmac.new(self.lookup, text.encode(), hashlib.sha256).hexdigest()

    # --- keys -----------------------------------------------------------------------------
    def added(self) -> Keyring:
        """A keyring with one more key, which seals from now on."""
        key = secrets.token_bytes(32)
        version = max(_version(k) for k in self.keys) + 1
        kid = key_id(version, key)
        return Keyring(
            {**self.keys, kid: key},
            kid,
            self.lookup,
            {**self.created, kid: _now()},
            self.path,
        )

    def without(self, kid: str) -> Keyring:
        """A keyring without the key `kid` (never the current one)."""
        if kid == self.current:
            raise KeyringError(f"{kid} seals new values; rotate before retiring it")
        if kid not in self.keys:
            raise KeyringError(f"no key {kid} in the keyring")
        keys = {k: v for k, v in self.keys.items() if k != kid}
        created = {k: v for k, v in self.created.items() if k != kid}
        return Keyring(keys, self.current, self.lookup, created, self.path)

    def to_json(self) -> str:
        """The keyring as the file (and TIPLINE_DATA_KEY) hold it."""
        return json.dumps(
            {
                "current": self.current,
                "lookup": base64.b64encode(self.lookup).decode(),
                "keys": [
                    {
                        "id": kid,
                        "key": base64.b64encode(key).decode(),
                        "created": self.created.get(kid, ""),
                    }
                    for kid, key in sorted(self.keys.items(), key=lambda kv: _version(kv[0]))
                ],
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str, path: Path | None = None) -> Keyring:
        """Read the file's (or TIPLINE_DATA_KEY's) JSON."""
        try:
            data: dict[str, Any] = json.loads(text)
            keys = {k["id"]: base64.b64decode(k["key"]) for k in data["keys"]}
            created = {k["id"]: k.get("created", "") for k in data["keys"]}
            ring = cls(keys, data["current"], base64.b64decode(data["lookup"]), created, path)
        except (ValueError, KeyError, TypeError) as exc:
            where = path or "TIPLINE_DATA_KEY"
            raise KeyringError(f"{where} is not a Tipline keyring ({type(exc).__name__})") from None
        if any(len(k) != 32 for k in keys.values()) or len(ring.lookup) < 16:
            raise KeyringError("every data key is 32 bytes, the look-up key at least 16")
        return ring

    @classmethod
    def generate(cls, path: Path | None = None) -> Keyring:
        """A new keyring with one key."""
        key = secrets.token_bytes(32)
        kid = key_id(1, key)
        return cls({kid: key}, kid, secrets.token_bytes(32), {kid: _now()}, path)

    def save(self) -> None:
        """Write the keyring back to its file (mode 600), atomically."""
        if self.path is None:
            raise KeyringError(
                "the keyring comes from TIPLINE_DATA_KEY: put the new keyring there instead"
            )
        tmp = self.path.with_name(self.path.name + ".new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def load(
    data_key: str | None,
    instance: Path,
    *,
    check: Callable[[Path], None] | None = None,
    save: bool = True,
) -> Keyring:
    """The keyring from TIPLINE_DATA_KEY (its JSON), or the instance folder's `data_keys`,
    generated once (`create_once`: workers starting together all read the one written). Before
    generating one, `check(path)` may refuse (raise); with `save=False` a generated keyring
    stays in memory (no file is written)."""
    if data_key:
        return Keyring.from_json(data_key)
    path = instance / KEYS_FILE
    if not path.exists():
        if check is not None:
            check(path)
        if not save:
            return Keyring.generate(None)
        return Keyring.from_json(create_once(path, Keyring.generate(path).to_json()), path)
    return Keyring.from_json(path.read_text(), path)


# Every key any keyring of this process has held, by id: a value sealed by one app opens in
# another of the same process (tests, the CLI next to a server), and ids carry a fingerprint,
# so two keyrings never clash on one.
_ALL_KEYS: dict[str, AESGCM] = {}
_default: list[Keyring] = []
_lock = threading.Lock()


def _reloaded(app: Flask, ring: Keyring) -> Keyring:
    """The file's keyring when it changed and reads; else `ring`, the last good one. A file
    that does not read (corrupt, half-written by hand, gone) never costs a tip: the last good
    keyring keeps sealing, the error is logged once and /readyz answers 503 until it reads."""
    assert ring.path is not None
    ring.checked = time.monotonic()
    try:
        changed = ring.path.stat().st_mtime_ns != ring.mtime
        if not changed and ring.reload_error is None:
            return ring
        fresh = Keyring.from_json(ring.path.read_text(), ring.path)
    except (OSError, KeyringError) as exc:
        problem = str(exc) if isinstance(exc, KeyringError) else f"{ring.path}: {exc.strerror}"
        if ring.reload_error is None:
            log.error("the keyring file does not read; keeping the last good keyring: %s", problem)
        ring.reload_error = problem
        return ring
    if ring.reload_error is not None:
        log.warning("the keyring file reads again: %s", ring.path)
    install(app, fresh)
    return fresh


def install(app: Flask, ring: Keyring) -> None:
    """Make `ring` the app's keyring (and the process default outside an app context)."""
    with _lock:
        _ALL_KEYS.update({kid: AESGCM(key) for kid, key in ring.keys.items()})
        _default[:] = [ring]
    app.extensions[EXTENSION] = ring


def get_keyring(app: Flask | None = None) -> Keyring:
    """The current app's keyring, else the last one installed in this process. A keyring
    read from a file is read again when the file changes (checked every RELOAD_SECONDS), so
    every server seals with the new key soon after `tipline keys rotate`."""
    # The app itself, never the proxy: `_reloaded` installs into it (an app passed in is
    # already the object; only current_app needs unwrapping).
    if app is None and has_app_context():
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app is not None and EXTENSION in app.extensions:
        ring: Keyring = app.extensions[EXTENSION]
        if ring.path is not None and time.monotonic() >= ring.checked + RELOAD_SECONDS:
            ring = _reloaded(app, ring)
        return ring
    if not _default:
        raise KeyringError("no keyring installed: create the app first")
    return _default[0]
