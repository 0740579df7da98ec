"""Studies on Optuna: every trial is a normal genlab run, scored by a metric of that run.

:func:`tune` is ``genlab tune``: it opens (or continues) an Optuna study in a storage shared by any number of
processes, and runs trials until the study holds ``n_trials`` of them, whichever process ran them. A trial draws
values from the :class:`~genlab.tune.space.SearchSpace`, trains ``runs/<task>/<study>-<number>`` with them as
``--set`` overrides for ``trial_minutes``, and returns its objectives: a column of the run's ``metrics.csv`` (the
last logged value: ``val_loss``, ``val_g_loss``, …) or a metric of the task's ``genlab eval`` (``fid``, ``kid``,
``bleu``, …). A trial that fails (divergence, a bad combination) is recorded as failed with its error and the
study goes on. With one objective that is a validation column, the pruner (median or Hyperband) sees it at each
validation and stops hopeless trials early; their runs are kept, marked pruned in the study.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L

from genlab.core.errors import BadInputError, ConfigError, GenlabError, unknown_name
from genlab.core.optional import require
from genlab.core.runs import runs_root
from genlab.tune.space import SearchSpace

SAMPLERS = ("tpe", "random", "grid", "gp", "cmaes", "nsga2")
PRUNERS = ("median", "hyperband", "none")


@dataclass(frozen=True)
class Objective:
    """A metric to optimise: ``name`` and ``direction`` (``minimize`` / ``maximize``)."""

    name: str
    direction: str

    @classmethod
    def parse(cls, text: str) -> Objective:
        """``fid:min``, ``val_loss`` (min), ``bleu:max``."""
        name, _, way = text.partition(":")
        way = way or "min"
        if not name or way not in ("min", "max", "minimize", "maximize"):
            raise BadInputError(f"bad objective '{text}'", "write METRIC:min or METRIC:max, e.g. fid:min")
        return cls(name, "maximize" if way.startswith("max") else "minimize")


def storage_url(storage: str | None, study: str, runs_dir: str | Path | None) -> str:
    """The study's storage: ``storage`` as given (any SQLAlchemy URL), else SQLite at ``RUNS/tune/<study>.db``."""
    if storage:
        return storage
    folder = runs_root(runs_dir) / "tune"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / f'{study}.db').resolve()}"


def make_sampler(name: str, space: SearchSpace, seed: int | None, n_objectives: int) -> Any:
    optuna = require("optuna", "tune", "genlab tune")
    samplers = optuna.samplers
    if name == "tpe":
        return samplers.TPESampler(seed=seed, multivariate=True, group=any(p.when for p in space.params))
    if name == "random":
        return samplers.RandomSampler(seed=seed)
    if name == "grid":
        return samplers.GridSampler(space.grid(), seed=seed)
    if name == "gp":
        if n_objectives > 1:
            raise ConfigError("the gp sampler optimises one objective", "use nsga2 or tpe for several")
        return samplers.GPSampler(seed=seed)
    if name == "cmaes":
        if n_objectives > 1:
            raise ConfigError("CMA-ES optimises one objective", "use nsga2 or tpe for several")
        require("cmaes", "tune", "--sampler cmaes")
        return samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "nsga2":
        return samplers.NSGAIISampler(seed=seed)
    raise unknown_name("sampler", name, SAMPLERS)


def make_pruner(name: str) -> Any:
    optuna = require("optuna", "tune", "genlab tune")
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise unknown_name("pruner", name, PRUNERS)


def run_study(
    study_name: str,
    space: SearchSpace,
    objective: Callable[[Any, dict[str, Any]], float | list[float]],
    directions: list[str],
    n_trials: int,
    storage: str | None,
    sampler: Any,
    pruner: Any | None = None,
    objective_names: list[str] | None = None,
) -> Any:
    """Run ``objective(trial, params)`` until the study holds ``n_trials`` trials (counting every process's); a
    trial that raises is recorded as failed with its error (``user_attrs["error"]``), never ending the study."""
    optuna = require("optuna", "tune", "genlab tune")
    try:
        study = _open_study(optuna, study_name, storage, sampler, pruner, directions)
    except ValueError as e:  # a study of this name with other directions
        raise ConfigError(f"study '{study_name}': {e}", "use another --study name for another objective") from None
    except Exception as e:
        if isinstance(e, GenlabError):
            raise
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        hint = "check --storage (sqlite:///path.db, postgresql://user@host/db) and that it is reachable"
        raise BadInputError(f"cannot open the study storage {storage}: {first}", hint) from None
    if list(study.directions) != [optuna.study.StudyDirection[d.upper()] for d in directions]:
        raise ConfigError(f"study '{study_name}' optimises other objectives", "use another --study name")

    def wrapped(trial: Any) -> Any:
        params = space.suggest(trial)
        try:
            return objective(trial, params)
        except optuna.TrialPruned:
            raise
        except Exception as e:
            message = e.message if isinstance(e, GenlabError) else f"{type(e).__name__}: {e}"
            trial.set_user_attr("error", message[:2000])
            raise

    if objective_names:
        study.set_user_attr("objectives", list(objective_names))
    done = optuna.study.MaxTrialsCallback(n_trials, states=None)  # the study's total, whichever process ran them
    remaining = n_trials - len(study.trials)
    if remaining > 0:
        study.optimize(wrapped, n_trials=remaining, catch=(Exception,), callbacks=[done], gc_after_trial=True)
    return study


def _open_study(optuna: Any, name: str, url: str | None, sampler: Any, pruner: Any, directions: list[str]) -> Any:
    """Create or load the study; processes starting together race to create it (and SQLite's schema), so a
    clash is retried. SQLite connections wait up to a minute for another process's write."""
    storage: Any = url
    for attempt in range(5):
        try:
            if url is not None and url.startswith("sqlite") and isinstance(storage, str):  # the schema can race too
                storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
            return optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner,
                                       directions=directions, load_if_exists=True)  # fmt: skip
        except optuna.exceptions.DuplicatedStudyError:
            time.sleep(0.2 * (attempt + 1))  # created by another process meanwhile: load it next time
        except Exception as e:
            if "locked" not in str(e) and "already exists" not in str(e) and "UNIQUE" not in str(e):
                raise
            time.sleep(0.2 * (attempt + 1))
    return optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)


class PruningCallback(L.Callback):
    """Reports a validation column to the trial after each validation; stops the run when the pruner says so."""

    def __init__(self, trial: Any, column: str):
        self.trial, self.column, self.pruned = trial, column, False

    def on_validation_epoch_end(self, trainer, module) -> None:
        if trainer.sanity_checking or self.column not in trainer.callback_metrics:
            return
        self.trial.report(float(trainer.callback_metrics[self.column]), step=module.iteration)
        if self.trial.should_prune():
            self.pruned = True
            trainer.should_stop = True  # the run ends normally: checkpoint, model and status are written


class TrainingObjective:
    """A trial = ``genlab.train`` of ``<task>`` with the trial's values, scored by ``objectives``."""

    def __init__(self, task: str, model: str | None, data: str | None, study: str, objectives: list[Objective],
                 trial_minutes: float | None, trial_steps: int | None = None, runs_dir: str | Path | None = None,
                 overrides: list[str] | None = None, prune_metric: str | None = None,
                 eval_options: dict[str, Any] | None = None):  # fmt: skip
        self.task, self.model, self.data, self.study = task, model, data, study
        self.objectives, self.minutes, self.steps = objectives, trial_minutes, trial_steps
        self.runs_dir, self.overrides = runs_dir, list(overrides or [])
        self.prune_metric, self.eval_options = prune_metric, dict(eval_options or {})

    def overrides_for(self, params: dict[str, Any]) -> tuple[str | None, list[str]]:
        model = params.get("model.name", self.model)
        sets = [f"{k}={json.dumps(v)}" for k, v in params.items() if k != "model.name"]
        return (str(model) if model is not None else None), [*self.overrides, *sets]

    def check(self, space: SearchSpace) -> None:
        """Every key of ``space`` exists in the run's config (the task's data, model and train configs), before
        any trial runs: a typo fails with the valid keys."""
        from genlab.api import build_run_config
        from genlab.core.registry import TASKS

        task = TASKS.get(self.task)
        for values in space.examples():
            model, sets = self.overrides_for(values)
            cfg = build_run_config(self.task, model, self.data, f"{self.study}-check", overrides=sets)
            task.data_config_class.build(cfg.data, where="data")
            model_values = dict(cfg.model)
            task.model_class(str(model_values.pop("name", task.default_model))).config_class.build(
                model_values, where="model"
            )

    def __call__(self, trial: Any, params: dict[str, Any]) -> float | list[float]:
        import genlab
        from genlab.engine.trainer import extra_callbacks

        model, sets = self.overrides_for(params)
        name = f"{self.study}-{trial.number:04d}"
        callbacks = [PruningCallback(trial, self.prune_metric)] if self.prune_metric else []
        began = time.perf_counter()
        with extra_callbacks(*callbacks):
            result = genlab.train(self.task, model, self.data, name, runs_dir=self.runs_dir, max_minutes=self.minutes,
                                  max_steps=self.steps, overrides=sets, progress=False)  # fmt: skip
        trial.set_user_attr("run", str(result.run.path))
        trial.set_user_attr("train_minutes", round((time.perf_counter() - began) / 60, 3))
        trial.set_user_attr("steps", result.steps)
        if callbacks and callbacks[0].pruned:
            import optuna

            raise optuna.TrialPruned(f"pruned at step {result.steps}")
        values = [self.value(result.run, o) for o in self.objectives]
        return values[0] if len(values) == 1 else values

    def value(self, run: Any, objective: Objective) -> float:
        """The objective's value for ``run``: its last logged ``metrics.csv`` column of that name, else the
        metric of ``genlab eval``."""
        last = run.last_metrics()
        if objective.name in last:
            return float(last[objective.name])
        import genlab

        report = genlab.evaluate(run.path, objective.name, **self.eval_options)
        value = report["metrics"].get(objective.name)
        if not isinstance(value, (int, float)):
            hint = "objectives are metrics.csv columns (val_loss, …) or `genlab eval` metrics"
            raise BadInputError(f"metric '{objective.name}' gave no number for {run.path.name}", hint)
        return float(value)


def tune(
    task: str,
    space: SearchSpace,
    objectives: list[Objective],
    study: str,
    model: str | None = None,
    data: str | None = None,
    sampler: str = "tpe",
    n_trials: int = 20,
    trial_minutes: float | None = None,
    trial_steps: int | None = None,
    storage: str | None = None,
    pruner: str = "median",
    seed: int | None = None,
    runs_dir: str | Path | None = None,
    overrides: list[str] | None = None,
    eval_options: dict[str, Any] | None = None,
) -> Any:
    """Run (or continue) study ``study`` of ``task``; returns the Optuna study. See the module docstring."""
    if not objectives:
        raise BadInputError("no objective given", "e.g. --objective fid:min or --objective val_loss:min")
    if trial_minutes is None and trial_steps is None:
        raise BadInputError("each trial needs a budget", "give --trial-minutes (or --trial-steps)")
    prune_metric = None
    if len(objectives) == 1 and objectives[0].name.startswith("val_") and pruner != "none":
        prune_metric = objectives[0].name
    objective = TrainingObjective(task, model, data, study, objectives, trial_minutes, trial_steps, runs_dir,
                                  overrides, prune_metric, eval_options)  # fmt: skip
    objective.check(space)
    chosen = make_sampler(sampler, space, seed, len(objectives))
    return run_study(study, space, objective, [o.direction for o in objectives], n_trials,
                     storage_url(storage, study, runs_dir), chosen, make_pruner(pruner if prune_metric else "none"),
                     [o.name for o in objectives])  # fmt: skip
