"""Where data files are looked for and written.

Search order for a registered dataset's ``.npz``: the explicit ``data_dir`` argument (the CLI's
``--data-dir``), then every folder in the ``NEURALBANDITS_DATA`` environment variable (several folders
may be joined with ``os.pathsep``), then the cache folder (``NEURALBANDITS_CACHE`` or
``~/.cache/neuralbandits``), which is also where downloads are written.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

DATA_ENV = "NEURALBANDITS_DATA"
CACHE_ENV = "NEURALBANDITS_CACHE"


def cache_dir() -> Path:
    """The download cache: ``$NEURALBANDITS_CACHE`` if set, else ``~/.cache/neuralbandits``."""
    configured = os.environ.get(CACHE_ENV, "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "neuralbandits"


def search_folders(data_dir: str | Path | None) -> list[tuple[Path, str]]:
    """The folders of :func:`resolve_data_dir`, each with where it came from (for error messages)."""
    candidates: list[tuple[Path, str]] = []
    if data_dir is not None and str(data_dir).strip():
        candidates.append((Path(data_dir).expanduser(), "data_dir argument"))
    for entry in os.environ.get(DATA_ENV, "").split(os.pathsep):
        if entry.strip():
            candidates.append((Path(entry.strip()).expanduser(), f"${DATA_ENV}"))
    candidates.append((cache_dir(), "cache folder"))
    seen: set[Path] = set()
    unique = []
    for folder, origin in candidates:
        if folder not in seen:
            seen.add(folder)
            unique.append((folder, origin))
    return unique


def resolve_data_dir(data_dir: str | Path | None) -> list[Path]:
    """Folders searched for data files, in order: ``data_dir``, ``$NEURALBANDITS_DATA``, the cache.

    Folders need not exist; duplicates are dropped (first occurrence kept).
    """
    return [folder for folder, _ in search_folders(data_dir)]


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` in one step.

    Readers (and a second process downloading the same file) therefore never see a half-written
    file. If the block raises, the temporary file is removed and ``path`` is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        temporary.chmod(0o644)  # mkstemp creates 0600; data files are not secrets
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
