"""Run directories: ``runs/<task>/<name>/`` with config, env, metrics, checkpoints, model, samples, plots.

The root is ``./runs`` unless ``--runs-dir`` or ``GENLAB_RUNS_DIR`` says otherwise.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from genlab.core.errors import CheckpointError
from genlab.core.io import atomic_write_json
from genlab.core.locks import process_alive, process_record
from genlab.core.metrics_log import read_rows

STATUS_NAME = "status.json"


def runs_root(runs_dir: str | Path | None = None) -> Path:
    """Where runs live: ``runs_dir``, else ``$GENLAB_RUNS_DIR``, else ``./runs``."""
    return Path(runs_dir or os.environ.get("GENLAB_RUNS_DIR") or "runs")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Run:
    """One run directory and the files DESIGN.md names inside it."""

    path: Path

    @classmethod
    def create(cls, root: str | Path | None, task: str, name: str) -> Run:
        run = cls(runs_root(root) / task / name)
        for d in (run.checkpoints_dir, run.samples_dir, run.plots_dir):
            d.mkdir(parents=True, exist_ok=True)
        return run

    config_path = property(lambda self: self.path / "config.yaml")
    env_path = property(lambda self: self.path / "env.json")
    metrics_path = property(lambda self: self.path / "metrics.csv")
    checkpoints_dir = property(lambda self: self.path / "checkpoints")
    last_checkpoint = property(lambda self: self.path / "checkpoints" / "last.ckpt")
    model_dir = property(lambda self: self.path / "model")
    samples_dir = property(lambda self: self.path / "samples")
    plots_dir = property(lambda self: self.path / "plots")
    eval_path = property(lambda self: self.path / "eval.json")
    status_path = property(lambda self: self.path / STATUS_NAME)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def task(self) -> str:
        return self.path.parent.name

    def status(self) -> dict[str, Any]:
        """The run's status record (``{}`` when none was written).

        A run recorded as ``running`` whose training process is gone (killed, machine rebooted) is
        reported ``interrupted``, with ``"process": "gone"``; the file itself is left as it is.
        """
        record = self._status_record()
        if record.get("status") == "running" and process_alive(record) is False:
            record |= {"status": "interrupted", "process": "gone"}
        return record

    def _status_record(self) -> dict[str, Any]:
        try:
            record = json.loads(self.status_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}
        return record if isinstance(record, dict) else {}

    def set_status(self, status: str, **fields: Any) -> None:
        """Record ``status`` (running/completed/interrupted/diverged/failed) and extra fields (a field
        given as None is removed)."""
        record = {**self._status_record(), "status": status, "updated": now_iso(), **fields}
        atomic_write_json(self.status_path, {k: v for k, v in record.items() if v is not None})

    def set_running(self, **fields: Any) -> None:
        """Record ``running`` with this process's PID, host and start time (see :meth:`status`)."""
        proc = process_record()
        proc |= {"signal": None, "since": None}  # what stopped an earlier call no longer holds
        self.set_status("running", **proc, **fields)

    def last_metrics(self) -> dict[str, str]:
        """The last row of ``metrics.csv`` with empty cells dropped ({} when there is none or it cannot be read)."""
        if not self.metrics_path.is_file():
            return {}
        try:
            rows = read_rows(self.metrics_path)
        except (OSError, UnicodeDecodeError, csv.Error):
            return {}
        merged: dict[str, str] = {}
        for row in rows[-20:]:  # losses of several groups may sit on neighbouring rows
            merged.update({k: v for k, v in row.items() if v not in ("", None)})
        return merged


def resolve_model_dir(path: str | Path) -> Path:
    """Accept a run directory (uses its ``model/``) or a model directory."""
    path = Path(path)
    if (path / "model" / "config.json").is_file():
        return path / "model"
    if (path / "config.json").is_file():
        return path
    from genlab.core.checkpoint import previous_export  # torch: only when loading

    backup = previous_export(path / "model") or previous_export(path)  # an export killed mid-swap
    if backup is not None:
        return backup
    if (path / "config.yaml").is_file():
        raise CheckpointError(
            f"run {path} has no exported model yet",
            "training writes model/ when it ends (also on Ctrl-C and time budget); re-run the training command",
        )
    if not path.exists():
        raise CheckpointError(f"no such run or model directory: {path}", "see `genlab runs` for the runs here")
    raise CheckpointError(f"{path} is not a genlab run or model directory", "pass runs/<task>/<name> or its model/")


def list_runs(root: str | Path | None = None) -> list[Run]:
    """Every run under ``root`` (``<task>/<name>`` folders with a config.yaml), newest first."""
    base = runs_root(root)
    found = [Run(p.parent) for p in base.glob("*/*/config.yaml")]
    return sorted(found, key=lambda r: r.config_path.stat().st_mtime, reverse=True)
