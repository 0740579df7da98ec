"""Reading runs for people: find a run by its id, its resolved config and eval metrics, and several runs side by
side (the settings that differ, the final losses, the evaluation metrics) — for ``genlab runs --compare`` and the
studio's Runs tab.

Runs are named by their id ``<task>/<name>`` among those :func:`genlab.core.runs.list_runs` finds under a runs
folder; a bare ``<name>`` is accepted when it is unique. Nothing a user types is used as a path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genlab.core.errors import BadInputError
from genlab.core.runs import Run, list_runs, runs_root

PLAIN_COLUMNS = ("step", "epoch", "time_s")  # metrics.csv columns that are not losses


def run_id(run: Run) -> str:
    """``<task>/<name>``."""
    return f"{run.task}/{run.name}"


def find_run(root: str | Path | None, rid: str) -> Run:
    """The run with id ``rid`` (or a unique bare name) under ``root``; otherwise :class:`BadInputError`."""
    runs = list_runs(root)
    for run in runs:
        if run_id(run) == rid:
            return run
    named = [run for run in runs if run.name == rid]
    if len(named) == 1:
        return named[0]
    if named:
        raise BadInputError(f"'{rid}' names {len(named)} runs", "give TASK/NAME: " + ", ".join(map(run_id, named)))
    ids = ", ".join(run_id(r) for r in runs[:20]) or "none"
    raise BadInputError(f"no run '{rid}' under {runs_root(root)}", f"runs there: {ids}")


def flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> dotted keys."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out |= flat(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return {prefix: value}


def run_config(run: Run) -> dict[str, Any]:
    """The run's resolved config (``config.yaml``), flattened to dotted keys ({} when unreadable)."""
    import yaml

    try:
        config = yaml.safe_load(run.config_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    return flat(config)


def eval_metrics(run: Run) -> dict[str, Any]:
    """The ``metrics`` of the run's eval.json ({} when it was not evaluated)."""
    try:
        record = json.loads(run.eval_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    metrics = record.get("metrics", {}) if isinstance(record, dict) else {}
    return metrics if isinstance(metrics, dict) else {}


def cell(value: Any) -> str:
    """One table cell: floats to 6 significant digits, lists/dicts as JSON, None as empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def compare_runs(root: str | Path | None, ids: list[str]) -> dict[str, dict[str, list]]:
    """Runs side by side, each part ``{"headers": [what, *ids], "data": rows}``: ``config`` (the dotted settings
    whose values differ), ``progress`` (status, steps, minutes, the last logged value of every loss) and
    ``metrics`` (eval.json metrics of any of them)."""
    if len(ids) < 2:
        raise BadInputError("comparing needs at least two runs", "give two or more run ids (TASK/NAME)")
    runs = [find_run(root, rid) for rid in ids]
    configs = [run_config(r) for r in runs]
    keys = sorted(set().union(*configs))
    config = [[k, *(cell(c.get(k)) for c in configs)] for k in keys if len({cell(c.get(k)) for c in configs}) > 1]
    statuses = [r.status() for r in runs]
    lasts = [r.last_metrics() for r in runs]
    losses = sorted({k for m in lasts for k in m if k not in PLAIN_COLUMNS})
    progress = [
        ["status", *(s.get("status", "?") for s in statuses)],
        ["steps", *(cell(s.get("step", m.get("step"))) for s, m in zip(statuses, lasts, strict=True))],
        ["minutes", *(cell(s.get("minutes")) for s in statuses)],
        *([k, *(cell(m.get(k)) for m in lasts)] for k in losses),
    ]
    evals = [flat(eval_metrics(r)) for r in runs]
    metrics = [[k, *(cell(e.get(k)) for e in evals)] for k in sorted(set().union(*evals))]
    headers = [run_id(r) for r in runs]
    return {"config": {"headers": ["setting", *headers], "data": config},
            "progress": {"headers": ["", *headers], "data": progress},
            "metrics": {"headers": ["metric", *headers], "data": metrics}}  # fmt: skip
