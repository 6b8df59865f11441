"""Files Tipline writes once for every process of a server: the secret key, the keyring."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def create_once(path: Path, text: str) -> str:
    """Write `text` to `path` (mode 600) unless the file exists; the file's text either way.

    Several gunicorn workers start at once on a fresh instance folder, and each may get here.
    Creating the file (O_EXCL) and then writing it left a moment in which another worker read an
    empty file: a keyring that "is not a Tipline keyring" (the worker died) or an empty secret
    key. So the text goes to a private temporary file first and is then hard-linked in place,
    which fails when the name exists: exactly one worker's text wins, and nobody ever reads a
    file that is not whole.
    """
    if path.exists():
        return path.read_text()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:  # mkstemp makes it 0600, and a link keeps the mode
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_text()
        return text
    finally:
        os.unlink(tmp)
