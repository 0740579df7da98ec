"""Rendering of CLI results with rich."""

from __future__ import annotations

import json
from pathlib import Path

from rich.table import Table

from genlab.core.console import console


def models_table(rows: list[dict[str, str]]) -> None:
    table = Table("model", "task", "description", title="registered models")
    for r in rows:
        table.add_row(r["name"].split("/", 1)[-1], r["task"], r["description"])
    console.print(table)


def train_summary(result) -> None:
    if result.status == "interrupted":
        by = f" by {result.signal}" if getattr(result, "signal", None) else ""
        verb = f"interrupted{by} — run the same command again to resume"
    else:
        verb = "done"
    if not result.files:
        if result.status == "interrupted":
            console.print(f"[bold yellow]{verb}[/]: {result.steps} steps")
        return
    console.print(f"[bold green]{verb}[/]: {result.steps} steps in {result.minutes:.1f} min")
    for what, path in result.files.items():
        console.print(f"  {what:11s} {path}")


def saved(path: Path) -> None:
    console.print(f"wrote {path}")


def runs_table(runs, root: Path) -> None:
    if not runs:
        console.print(f"no runs under {root}")
        return
    table = Table("run", "status", "steps", "last losses", "updated", title=f"runs in {root}")
    table.columns[0].no_wrap = True
    for run in runs:
        st = run.status()
        metrics = run.last_metrics()
        losses = ", ".join(f"{k}={_number(v)}" for k, v in metrics.items() if k not in ("step", "epoch", "time_s"))
        steps = st.get("step", metrics.get("step", ""))
        table.add_row(f"{run.task}/{run.name}", st.get("status", "?"), str(steps), losses, st.get("updated", ""))
    console.print(table)


def comparison(parts: dict[str, dict[str, list]]) -> None:
    """The tables of :func:`genlab.core.compare.compare_runs`: progress, differing settings, eval metrics."""
    titles = {"progress": "progress", "config": "settings that differ", "metrics": "evaluation (eval.json)"}
    for key, title in titles.items():
        part = parts[key]
        if not part["data"]:
            console.print(f"[dim]{title}: none[/]")
            continue
        table = Table(*part["headers"], title=title)
        for row in part["data"]:
            table.add_row(row[0], *(_number(v) for v in row[1:]))
        console.print(table)


def _number(value: str) -> str:
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)


def run_info(run) -> None:
    console.rule(f"{run.task}/{run.name}")
    console.print(f"[bold]path[/] {run.path}")
    console.print(f"[bold]status[/] {json.dumps(run.status())}")
    console.print("[bold]config.yaml[/]")
    console.print(run.config_path.read_text(encoding="utf-8"), markup=False)
    if run.env_path.is_file():
        console.print("[bold]env.json[/]")
        console.print(run.env_path.read_text(encoding="utf-8"), markup=False)
    metrics = run.last_metrics()
    if metrics:
        console.print("[bold]last metrics[/] " + ", ".join(f"{k}={v}" for k, v in metrics.items()))
    for label, path in [
        ("model", run.model_dir),
        ("samples", run.samples_dir),
        ("loss curve", run.plots_dir / "loss.png"),
    ]:
        if path.exists():
            console.print(f"[bold]{label}[/] {path}")


def eval_result(result: dict, run: Path | None) -> None:
    """Metrics table (baselines beside the model when the task computed them) and the protocol."""
    metrics = result.get("metrics", {})
    baselines = result.get("baselines", {})  # {"floor": {metric: v}, "gaussian": {...}}
    table = Table("metric", "model", *baselines, title="evaluation")
    for name, value in metrics.items():
        cells = [_fmt(value), *(_fmt(b.get(name)) for b in baselines.values())]
        table.add_row(name, *cells)
    console.print(table)
    protocol = result.get("protocol", {})
    if protocol:
        console.print("[bold]protocol[/] " + json.dumps(protocol, ensure_ascii=False), soft_wrap=True)
    if run is not None and (Path(run) / "eval.json").is_file():
        console.print(f"wrote {Path(run) / 'eval.json'}")


def _fmt(value) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
