"""Downloading standard datasets: where they live, and fetching them safely.

Files are streamed to a temporary file beside the destination, hashed on the way,
and renamed into place only when the sha256 matches, so an interrupted or
corrupted download never leaves a half-written file under its real name.
Setting ``GENLAB_DISABLE_DOWNLOADS=1`` refuses every network download (the test
suite does this); ``file://`` URLs still work.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from genlab.core.console import console, is_rank_zero
from genlab.core.errors import DataError

DATA_DIR_ENV = "GENLAB_DATA_DIR"
DISABLE_ENV = "GENLAB_DISABLE_DOWNLOADS"
CHUNK = 1 << 20  # bytes read per network call
TIMEOUT_S = 60


def data_root(data_dir: str | Path | None = None) -> Path:
    """Folder holding standard datasets: ``data_dir``, else ``$GENLAB_DATA_DIR``, else ``~/.cache/genlab/data``."""
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "genlab" / "data"


def local_copy_hint(url: str, dest: Path) -> str:
    """The hint shown when a file cannot be downloaded: where to put a copy made by hand."""
    return (
        f"download {url} yourself and save it as {dest}; or keep your copies in another folder and pass "
        f"--data-dir DIR (or set {DATA_DIR_ENV}=DIR), with the files in DIR/{dest.parent.name}/"
    )


def sha256_file(path: Path) -> str:
    """Hex sha256 of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, dest: Path, sha256: str | None = None, desc: str = "") -> Path:
    """Fetch ``url`` to ``dest`` (atomically), verify its sha256 when given, and return ``dest``.

    Raises :class:`DataError` when the network fails, downloads are disabled, or
    the checksum does not match (the partial file is deleted).
    """
    dest = Path(dest)
    if not url.startswith("file:") and os.environ.get(DISABLE_ENV, "").strip() not in ("", "0"):
        raise DataError(
            f"downloads are disabled ({DISABLE_ENV} is set), so {url} was not fetched", local_copy_hint(url, dest)
        )
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as e:
        raise DataError(f"cannot write to {dest.parent}: {e.strerror or e}", local_copy_hint(url, dest)) from None
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _stream(url, out, desc or dest.name)
        if sha256 and digest != sha256.lower():
            raise DataError(
                f"checksum mismatch for {url}: expected sha256 {sha256}, got {digest}",
                "the file was deleted; try again (a proxy or an interrupted transfer can corrupt it), or "
                + local_copy_hint(url, dest),
            )
        os.replace(tmp, dest)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        reason = e if isinstance(e, urllib.error.HTTPError) else _reason(e)
        raise DataError(f"could not download {url}: {reason}", local_copy_hint(url, dest)) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def _stream(url: str, out, desc: str) -> str:
    """Copy ``url`` into the open file ``out`` with a progress bar; return the sha256 of what was written."""
    h = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": "genlab"})
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with (
        urllib.request.urlopen(request, timeout=TIMEOUT_S) as response,
        Progress(*columns, TimeRemainingColumn(), console=console, disable=not is_rank_zero()) as progress,
    ):
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        task = progress.add_task(f"downloading {desc}", total=total)
        received = 0
        while chunk := response.read(CHUNK):
            out.write(chunk)
            h.update(chunk)
            received += len(chunk)
            progress.update(task, advance=len(chunk))
    if total is not None and received != total:
        raise OSError(f"connection closed after {received} of {total} bytes")
    return h.hexdigest()


def _reason(err: Exception) -> object:
    """The most readable part of a network or file error."""
    return getattr(err, "reason", None) or getattr(err, "strerror", None) or err
