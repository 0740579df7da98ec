"""What the studio shows of the runs under a runs folder: a table, one run's files, two runs side by side.

Runs are picked by their id ``<task>/<name>`` among those :func:`genlab.core.runs.list_runs` finds; nothing
typed in the browser is used as a path.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from genlab.core.compare import PLAIN_COLUMNS, eval_metrics, find_run, run_id
from genlab.core.errors import BadInputError
from genlab.core.runs import Run, list_runs

SAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
MAX_SAMPLES = 24  # newest sample images shown per run


def _number(value: Any) -> str:
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)


def runs_table(root: str | Path | None) -> dict[str, list]:
    """``{"headers", "data"}``: one row per run (newest first) with status, steps, last losses and update time."""
    rows = []
    for run in list_runs(root):
        status = run.status()
        metrics = run.last_metrics()
        losses = ", ".join(f"{k}={_number(v)}" for k, v in metrics.items() if k not in PLAIN_COLUMNS)
        steps = status.get("step", metrics.get("step", ""))
        rows.append([run_id(run), status.get("status", "?"), str(steps), losses, status.get("updated", "")])
    return {"headers": ["run", "status", "steps", "last losses", "updated"], "data": rows}


def sample_images(run: Run) -> list[str]:
    """The run's newest sample images (up to :data:`MAX_SAMPLES`), newest first."""
    if not run.samples_dir.is_dir():
        return []
    found = [p for p in run.samples_dir.rglob("*") if p.suffix.lower() in SAMPLE_SUFFIXES and p.is_file()]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [str(p) for p in found[:MAX_SAMPLES]]


def model_card(run: Run) -> str:
    """The model card (``model/README.md``), or a line saying there is none yet."""
    card = run.model_dir / "README.md"
    if card.is_file():
        return card.read_text(encoding="utf-8")
    return f"*{run_id(run)} has no exported model yet: training writes `model/` when it ends.*"


def run_details(root: str | Path | None, rid: str) -> dict[str, Any]:
    """One run: ``loss_plot`` (a path or None), ``samples`` (paths), ``card`` (markdown), ``status``, ``metrics``
    (eval.json's metrics)."""
    run = find_run(root, rid)
    plot = run.plots_dir / "loss.png"
    return {
        "loss_plot": str(plot) if plot.is_file() else None,
        "samples": sample_images(run),
        "card": model_card(run),
        "status": run.status(),
        "metrics": eval_metrics(run),
    }


def model_zip(root: str | Path | None, rid: str, folder: Path) -> str:
    """A zip of the run's ``model/`` folder written under ``folder``; its path."""
    run = find_run(root, rid)
    if not (run.model_dir / "config.json").is_file():
        raise BadInputError(f"{rid} has no exported model yet", "training writes model/ when it ends")
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / f"{run.task}-{run.name}-model"
    return shutil.make_archive(str(base), "zip", root_dir=run.model_dir)
