"""``genlab models``, ``genlab runs``, ``genlab info``: what is registered and what has been trained."""

from __future__ import annotations

from pathlib import Path

import typer

from genlab.cli import render
from genlab.core.errors import BadInputError

RunsDir = typer.Option(None, "--runs-dir", help="where runs live (default ./runs or $GENLAB_RUNS_DIR)")


def models_cmd(task: str | None = typer.Option(None, help="only models of this task")) -> None:
    """list registered models with task and a one-line description"""
    import genlab

    render.models_table(genlab.list_models(task))


def runs_cmd(
    runs_dir: Path | None = RunsDir,
    compare: list[str] = typer.Option([], "--compare", help="compare these runs (TASK/NAME, repeat or list them)"),
    plot: Path | None = typer.Option(None, "--plot", help="with --compare: their loss curves overlaid, as a PNG"),
    others: list[str] = typer.Argument(None, help="more runs to compare after --compare"),
) -> None:
    """list runs with status, steps and last losses; --compare A B …: runs side by side"""
    from genlab.core.runs import list_runs, runs_root

    ids = [*compare, *(others or [])]
    if not ids:
        if plot is not None:
            raise BadInputError("--plot draws a comparison", "give the runs: genlab runs --compare A B --plot out.png")
        render.runs_table(list_runs(runs_dir), runs_root(runs_dir))
        return
    from genlab.core.compare import compare_runs, find_run, run_id
    from genlab.core.plots import plot_runs

    render.comparison(compare_runs(runs_dir, ids))
    if plot is not None:
        runs = [find_run(runs_dir, rid) for rid in ids]
        written = plot_runs({run_id(r): r.metrics_path for r in runs}, plot)
        if written is None:
            raise BadInputError("these runs share no loss column to plot", "compare runs of the same task and model")
        render.saved(written)


def info_cmd(run: Path = typer.Argument(..., help="run directory")) -> None:
    """show the config, environment, status and metrics of one run"""
    from genlab.core.runs import Run

    if not (run / "config.yaml").is_file():
        raise BadInputError(f"{run} is not a run directory (no config.yaml)", "see `genlab runs` for the runs here")
    render.run_info(Run(run))


def register(app: typer.Typer) -> None:
    """Add these commands to ``app``."""
    app.command("models")(models_cmd)
    app.command("runs")(runs_cmd)
    app.command("info")(info_cmd)
