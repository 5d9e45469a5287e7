"""Files that are either whole or absent: every file the package writes
(models, shards, checkpoints, JSON markers, CSV tables) goes through here.

A file is written to a hidden temporary name in its final folder, flushed
and fsynced, renamed into place (atomic on POSIX) and the folder fsynced so
that the rename survives a power cut. A crash at any point leaves the old
file or the new one, never a mix; the temporary is removed on any error,
Ctrl-C included.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

__all__ = [
    "TEMP_SUFFIX",
    "atomic_write",
    "atomic_write_bytes",
    "fsync_dir",
    "read_json",
    "remove_temporary_files",
    "utc_now",
    "write_json",
]

TEMP_SUFFIX = ".tmp"
"""Temporaries are ``.<name>.<random>.tmp`` next to the target."""


def fsync_dir(folder: Path) -> None:
    """Makes a rename inside ``folder`` durable (best effort: some platforms
    cannot open a folder; the rename itself is atomic regardless)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_NEW_FILE_MODE = _new_file_mode()  # read once: os.umask can only be read by setting it


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[IO[bytes]], object],
    *,
    overwrite: bool = True,
) -> Path:
    """Calls ``write(binary file)`` on a temporary file next to ``path`` and
    renames it into place. With ``overwrite=False`` an existing target is a
    FileExistsError, checked before and again just before the rename (a
    concurrent writer of the same name loses cleanly)."""
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"already exists, not overwriting: {path}")
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=folder)
    tmp = Path(tmp_name)
    try:
        # mkstemp makes the file 0600; the result should have the mode any new
        # file gets (usually 0644), or models, shards and reports end up
        # unreadable to the other users of a shared run folder or install.
        os.fchmod(fd, _NEW_FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if not overwrite and path.exists():
            raise FileExistsError(f"already exists, not overwriting: {path}")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(folder)
    return path


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes, *, overwrite: bool = True
) -> Path:
    """Writes ``data`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda f: f.write(data), overwrite=overwrite)


def remove_temporary_files(folder: Path) -> None:
    """Deletes temporaries left in ``folder`` by a writer that was killed
    (SIGKILL or power loss skip the cleanup in :func:`atomic_write`)."""
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX) and p.is_file():
                p.unlink(missing_ok=True)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """An atomic, indented JSON file; NaN and infinity are written as null
    (strict JSON has no spelling for them)."""
    text = json.dumps(_json_safe(data), indent=2) + "\n"
    return atomic_write_bytes(path, text.encode())


def read_json(path: str | os.PathLike[str]) -> Any | None:
    """The JSON in ``path``, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def utc_now() -> str:
    """The current time as ISO 8601 in UTC, to the second (for markers and logs)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
