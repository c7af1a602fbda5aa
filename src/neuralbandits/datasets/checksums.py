"""SHA-256 digests of data files; a mismatch names the file, the expected and the actual digest."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A file whose SHA-256 digest differs from the expected one."""


def sha256_file(path: str | Path) -> str:
    """Lower-case hexadecimal SHA-256 digest of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | Path, expected: str, *, display_name: str | None = None) -> None:
    """Raise :class:`ChecksumError` unless the file's SHA-256 digest equals ``expected``.

    ``display_name`` replaces the path in the message (a download is checked under a temporary name,
    but the user should read the URL it came from).
    """
    actual = sha256_file(path)
    if actual != expected.strip().lower():
        raise ChecksumError(
            f"Checksum mismatch for {display_name or str(path)}: "
            f"expected sha256 {expected.strip().lower()}, got {actual}."
        )
