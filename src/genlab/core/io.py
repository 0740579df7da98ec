"""Small file helpers: atomic, durable writes so a crash never leaves half a file.

Files are created with the mode the umask allows (``0o666 & ~umask``, usually 0644), as ``open``
would create them, not the 0600 of :func:`tempfile.mkstemp`.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Leftover temporary files of :func:`atomic_write` match this pattern (``.<name>.<random>.tmp``).
TEMP_PATTERN = ".*.tmp"


def fsync_path(path: str | Path, directory: bool = False) -> None:
    """Flush a file (or a folder's entries) to disk; silently skipped where the OS refuses."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # e.g. folders on Windows, some network file systems
    finally:
        os.close(fd)


def file_mode() -> int:
    """The mode new files get here: ``0o666`` less the process umask (0644 with the usual umask 022)."""
    try:  # Linux shows the umask without changing it
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def new_temp_file(path: Path) -> Path:
    """Create an empty, unique ``.<name>.<random>.tmp`` beside ``path`` (mode from the umask)."""
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return tmp
        except FileExistsError:
            continue


def atomic_write(path: str | Path, write: Callable[[str], None], durable: bool = True) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``.

    With ``durable`` the file is flushed to disk before the rename and the folder after it, so
    after a power cut ``path`` holds either the old or the new content, never a truncated file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_temp_file(path)
    try:
        write(str(tmp))
        _set_mode(tmp)  # writers that replace the file (safetensors) create it 0600
        if durable:
            fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    if durable:
        fsync_path(path.parent, directory=True)


def _set_mode(path: Path) -> None:
    mode = file_mode()
    try:
        if path.stat().st_mode & 0o777 != mode:
            os.chmod(path, mode)
    except OSError:
        pass  # e.g. a file system without modes


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def remove_temp_files(folder: str | Path) -> list[Path]:
    """Delete the leftover temporary files of interrupted :func:`atomic_write` calls in ``folder``
    and its direct sub-folders; returns what was removed."""
    folder = Path(folder)
    removed = []
    for tmp in [*folder.glob(TEMP_PATTERN), *folder.glob(f"*/{TEMP_PATTERN}")]:
        try:
            if tmp.is_file():
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            pass
    return removed
