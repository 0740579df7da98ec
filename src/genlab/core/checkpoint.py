"""The checkpoint contract: ``config.json`` + ``model.safetensors`` + ``README.md``.

Loading never unpickles: weights come from safetensors, the config from JSON,
and the file's sha256 recorded in ``config.json`` must match, so a truncated or
tampered weights file is refused with a clear error.

Saving is atomic as a whole: the files are written into a sibling folder
``.<name>.tmp-XXXX`` and swapped in by two renames (the old folder becomes
``.<name>.old-XXXX``, removed afterwards), so a process killed while exporting
leaves the previous complete export in place (:func:`recover_export` puts a
backup back when the kill fell between the two renames).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genlab.__about__ import __version__
from genlab.core.errors import CheckpointError
from genlab.core.io import atomic_write, atomic_write_json, atomic_write_text, fsync_path

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_checkpoint(
    directory: str | Path,
    state_dict: dict[str, torch.Tensor],
    meta: dict[str, Any],
    card: str | None = None,
    files: dict[str, str] | None = None,
) -> Path:
    """Write weights, ``config.json`` (``meta`` + version + weights sha256), a model card and ``files``
    (name → text, e.g. a tokenizer for other tools), all part of one export.

    A folder that does not exist yet or holds only files (an earlier export, perhaps with files of
    the user's beside it, which are kept) is replaced as a whole; a folder with sub-folders is
    written into file by file, each file atomically.
    """
    directory = Path(directory).absolute()
    recover_export(directory)
    # safetensors refuses shared or non-contiguous storage: clone to plain tensors.
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state_dict.items()}
    if not _swappable(directory):
        directory.mkdir(parents=True, exist_ok=True)
        _write_files(directory, tensors, meta, card, files)
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = _new_sibling(directory, "tmp")
    try:
        _write_files(staging, tensors, meta, card, files)
        _carry_over(directory, staging)
        fsync_path(staging, directory=True)
        fault_point("export:before_swap")
        _swap(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _write_files(
    directory: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any], card: str | None, files: dict | None
) -> None:
    atomic_write(directory / WEIGHTS_NAME, lambda tmp: save_file(tensors, tmp))
    fault_point("export:after_weights")
    meta = {**meta, "genlab_version": __version__, "weights_sha256": sha256_file(directory / WEIGHTS_NAME)}
    atomic_write_json(directory / CONFIG_NAME, meta)
    if card is not None:
        atomic_write_text(directory / CARD_NAME, card)
    for name, text in (files or {}).items():
        atomic_write_text(directory / name, text)


def _swappable(directory: Path) -> bool:
    """A folder is replaced as a whole when it is absent or holds nothing but files."""
    if not directory.exists():
        return True
    return directory.is_dir() and not directory.is_mount() and all(not p.is_dir() for p in directory.iterdir())


def _new_sibling(directory: Path, kind: str) -> Path:
    """Create the empty folder ``.<name>.<kind>-XXXX`` beside ``directory`` (mode from the umask)."""
    while True:
        path = directory.parent / f".{directory.name}.{kind}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def _carry_over(old: Path, new: Path) -> None:
    """Files of the old folder that this export does not write (a user's notes, a tokenizer) go along."""
    if not old.is_dir():
        return
    for path in old.iterdir():
        target = new / path.name
        if target.exists() or path.name.startswith("."):
            continue
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)


def _swap(staging: Path, directory: Path) -> None:
    """Rename ``staging`` onto ``directory``: the old folder is renamed aside first, then removed."""
    backup = None
    if directory.exists():
        backup = directory.parent / f".{directory.name}.old-{staging.name.rsplit('-', 1)[-1]}"
        os.rename(directory, backup)
        fault_point("export:mid_swap")
    try:
        os.rename(staging, directory)
    except BaseException:
        if backup is not None and not directory.exists():
            os.rename(backup, directory)
        raise
    fsync_path(directory.parent, directory=True)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def recover_export(directory: str | Path) -> None:
    """Tidy what an export killed half-way left beside ``directory``: its ``.tmp-`` folders are
    removed; when ``directory`` is missing, the ``.old-`` backup of the previous export is renamed
    back into place (the kill fell between the two renames), else backups are removed."""
    directory = Path(directory).absolute()
    if not directory.parent.is_dir():
        return
    for tmp in directory.parent.glob(f".{directory.name}.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    for backup in sorted(directory.parent.glob(f".{directory.name}.old-*")):
        if not directory.exists() and (backup / CONFIG_NAME).is_file():
            os.rename(backup, directory)
        else:
            shutil.rmtree(backup, ignore_errors=True)


def previous_export(directory: str | Path) -> Path | None:
    """The ``.old-`` backup of ``directory`` when ``directory`` itself is missing (an export was killed
    between its two renames), so that loading works before :func:`recover_export` runs; else None."""
    directory = Path(directory)
    if directory.exists() or not directory.parent.is_dir():
        return None
    backups = sorted(directory.parent.glob(f".{directory.name}.old-*"))
    return next((b for b in backups if (b / CONFIG_NAME).is_file()), None)


#: Environment variable naming a point where :func:`fault_point` kills this process (tests only).
FAULT_ENV = "GENLAB_FAULT_INJECT"


def fault_point(name: str) -> None:
    """Kill this process with SIGKILL when ``$GENLAB_FAULT_INJECT`` names this point.

    Tests set it (``export:after_weights``, ``export:before_swap``, ``export:mid_swap``) to check that
    a process killed there leaves a loadable model behind; unset, this does nothing.
    """
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def read_meta(directory: str | Path) -> dict[str, Any]:
    """Read and check ``config.json`` of a saved model directory."""
    directory = Path(directory)
    cfg = directory / CONFIG_NAME
    hint = "pass a directory written by genlab (a run directory or its model/ folder)"
    if not directory.exists():
        raise CheckpointError(f"no such model directory: {directory}", hint)
    if not cfg.is_file():
        raise CheckpointError(f"{directory} is not a genlab model: {CONFIG_NAME} is missing", hint)
    try:
        meta = json.loads(cfg.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{cfg} is not valid JSON: {e}", hint) from None
    if not isinstance(meta, dict) or "model" not in meta or "config" not in meta:
        raise CheckpointError(f"{cfg} is not a genlab model config (no 'model'/'config' keys)", hint)
    return meta


def load_weights(directory: str | Path, meta: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Load ``model.safetensors`` after verifying its sha256 against ``meta``."""
    path = Path(directory) / WEIGHTS_NAME
    if not path.is_file():
        raise CheckpointError(
            f"{path} is missing",
            "the model directory is incomplete; re-run the training command with the same --name to export it again",
        )
    expected = meta.get("weights_sha256")
    if expected and sha256_file(path) != expected:
        raise CheckpointError(
            f"{path} does not match the sha256 recorded in {CONFIG_NAME}: the file was modified or truncated",
            "re-run the training command with the same --name: it resumes and exports the model again",
        )
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(
            f"cannot read {path}: {e}",
            "the weights file is corrupt; re-run the training command with the same --name to export it again",
        ) from None
