"""What the studio shows of the runs under a runs folder: a table, one run's files, two runs side by side.

Runs are picked by their id ``<task>/<name>`` among those :func:`genlab.core.runs.list_runs` finds; nothing
typed in the browser is used as a path.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from genlab.core.errors import BadInputError
from genlab.core.runs import Run, list_runs, runs_root

SAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
MAX_SAMPLES = 24  # newest sample images shown per run
PLAIN_COLUMNS = ("step", "epoch", "time_s")  # metrics.csv columns that are not losses


def run_id(run: Run) -> str:
    """``<task>/<name>``."""
    return f"{run.task}/{run.name}"


def find_run(root: str | Path | None, rid: str) -> Run:
    """The run with id ``rid`` under ``root``; an unknown id raises :class:`BadInputError`."""
    for run in list_runs(root):
        if run_id(run) == rid:
            return run
    raise BadInputError(f"no run '{rid}' under {runs_root(root)}", "pick one from the runs table")


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


def eval_metrics(run: Run) -> dict[str, Any]:
    """The ``metrics`` of the run's eval.json ({} when it was not evaluated)."""
    try:
        record = json.loads(run.eval_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    metrics = record.get("metrics", {}) if isinstance(record, dict) else {}
    return metrics if isinstance(metrics, dict) else {}


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out |= _flat(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return {prefix: value}


def run_config(run: Run) -> dict[str, Any]:
    """The run's resolved config, flattened to dotted keys."""
    import yaml

    try:
        config = yaml.safe_load(run.config_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    return _flat(config)


def compare_runs(root: str | Path | None, a: str, b: str) -> dict[str, dict[str, list]]:
    """Two runs side by side: ``config`` (the dotted keys whose values differ) and ``metrics`` (eval.json
    metrics of either run), each ``{"headers", "data"}``."""
    run_a, run_b = find_run(root, a), find_run(root, b)
    conf_a, conf_b = run_config(run_a), run_config(run_b)
    diff = [[k, _cell(conf_a.get(k)), _cell(conf_b.get(k))] for k in sorted(conf_a.keys() | conf_b.keys())
            if conf_a.get(k) != conf_b.get(k)]  # fmt: skip
    met_a, met_b = _flat(eval_metrics(run_a)), _flat(eval_metrics(run_b))
    metrics = [[k, _cell(met_a.get(k)), _cell(met_b.get(k))] for k in sorted(met_a.keys() | met_b.keys())]
    return {"config": {"headers": ["setting", a, b], "data": diff},
            "metrics": {"headers": ["metric", a, b], "data": metrics}}  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def model_zip(root: str | Path | None, rid: str, folder: Path) -> str:
    """A zip of the run's ``model/`` folder written under ``folder``; its path."""
    run = find_run(root, rid)
    if not (run.model_dir / "config.json").is_file():
        raise BadInputError(f"{rid} has no exported model yet", "training writes model/ when it ends")
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / f"{run.task}-{run.name}-model"
    return shutil.make_archive(str(base), "zip", root_dir=run.model_dir)
