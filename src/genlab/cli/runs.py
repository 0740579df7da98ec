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


def runs_cmd(runs_dir: Path | None = RunsDir) -> None:
    """list runs with status, steps and last losses"""
    from genlab.core.runs import list_runs, runs_root

    render.runs_table(list_runs(runs_dir), runs_root(runs_dir))


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
