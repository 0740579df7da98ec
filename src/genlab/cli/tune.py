"""``genlab tune TASK …``: a hyper-parameter study on Optuna; ``genlab tune report STUDY --out page.html``."""

from __future__ import annotations

from pathlib import Path

import typer

from genlab.core.console import console
from genlab.core.errors import BadInputError


def tune_cmd(
    task: str = typer.Argument(..., help="task to tune (image-generation, text-generation, …), or `report`"),
    study_arg: str | None = typer.Argument(None, help="with `report`: the study's name"),
    model: str | None = typer.Option(None, "--model", "-m", help="model name (or search model.name in the space)"),
    data: str | None = typer.Option(None, "--data", "-d", help="dataset name or path"),
    space: Path | None = typer.Option(None, "--space", help="search space YAML (see docs/tuning.md)"),
    sampler: str = typer.Option("tpe", "--sampler", help="tpe, random, grid, gp, cmaes or nsga2"),
    objective: list[str] = typer.Option([], "--objective", help="METRIC:min|max, repeat for several (fid:min)"),
    trials: int = typer.Option(20, "--trials", min=1, help="trials in the study in all (any number of processes)"),
    trial_minutes: float | None = typer.Option(None, "--trial-minutes", help="training budget of each trial"),
    trial_steps: int | None = typer.Option(None, "--trial-steps", help="training steps of each trial"),
    study: str | None = typer.Option(None, "--study", help="study name; the same name continues it"),
    storage: str | None = typer.Option(None, "--storage", help="SQLAlchemy URL (default: RUNS/tune/STUDY.db)"),
    pruner: str = typer.Option("median", "--pruner", help="median, hyperband or none (val_* objectives)"),
    seed: int | None = typer.Option(None, "--seed", help="seed of the sampler"),
    runs_dir: Path | None = typer.Option(None, "--runs-dir", help="where runs live (default ./runs)"),
    overrides: list[str] = typer.Option([], "--set", help="fixed config overrides for every trial (key=value)"),
    eval_n: int | None = typer.Option(None, "--eval-n", help="samples drawn for eval-metric objectives"),
    out: Path | None = typer.Option(None, "--out", help="with `report`: the HTML page to write"),
) -> None:
    """tune hyper-parameters on Optuna (every trial a normal run); `genlab tune report STUDY --out page.html`"""
    from genlab.tune import load_study, storage_url, write_report

    if task == "report":
        if not study_arg or out is None:
            raise BadInputError("report needs a study and --out", "genlab tune report STUDY --out report.html")
        path = write_report(load_study(study_arg, storage_url(storage, study_arg, runs_dir)), out)
        console.print(f"wrote {path}")
        return
    if space is None or not study:
        raise BadInputError(
            "tune needs --space and --study", "e.g. genlab tune TASK --space space.yaml --study my-study"
        )
    from genlab.tune import Objective, load_space, tune

    result = tune(task, load_space(space), [Objective.parse(o) for o in objective], study, model=model, data=data,
                  sampler=sampler, n_trials=trials, trial_minutes=trial_minutes, trial_steps=trial_steps,
                  storage=storage, pruner=pruner, seed=seed, runs_dir=runs_dir, overrides=overrides,
                  eval_options={"n": eval_n} if eval_n else None)  # fmt: skip
    states: dict[str, int] = {}
    for t in result.trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    console.print(f"study {study}: " + ", ".join(f"{n} {s}" for s, n in sorted(states.items())))
    try:
        best = result.best_trials
    except ValueError:
        best = []
    for t in best[:5]:
        console.print(f"  best trial {t.number}: {t.values} {t.params}  run {t.user_attrs.get('run', '')}")
    console.print(f"report: genlab tune report {study} --out {study}.html")


def register(app: typer.Typer) -> None:
    """Add ``tune`` to ``app``."""
    app.command("tune")(tune_cmd)
