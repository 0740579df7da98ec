"""The checkpoint contract: ``config.json`` + ``model.safetensors`` + ``README.md``.

Loading never unpickles: weights come from safetensors, the config from JSON,
and the file's sha256 recorded in ``config.json`` must match, so a truncated or
tampered weights file is refused with a clear error.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genlab.__about__ import __version__
from genlab.core.errors import CheckpointError
from genlab.core.io import atomic_write, atomic_write_json, atomic_write_text

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
) -> Path:
    """Write weights, ``config.json`` (``meta`` + version + weights sha256) and a model card."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # safetensors refuses shared or non-contiguous storage: clone to plain tensors.
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state_dict.items()}
    atomic_write(directory / WEIGHTS_NAME, lambda tmp: save_file(tensors, tmp))
    meta = {**meta, "genlab_version": __version__, "weights_sha256": sha256_file(directory / WEIGHTS_NAME)}
    atomic_write_json(directory / CONFIG_NAME, meta)
    if card is not None:
        atomic_write_text(directory / CARD_NAME, card)
    return directory


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
