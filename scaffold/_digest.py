"""SHA-256, the one digest the CLI side computes: lock pins, wheels, template records."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256(source: bytes | Path) -> str:
    """Return the hex SHA-256 digest of ``source``: bytes, or the content of a file.

    A file is read in chunks, so a large wheel is never held in memory whole.
    """
    if isinstance(source, bytes):
        return hashlib.sha256(source).hexdigest()
    with source.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
