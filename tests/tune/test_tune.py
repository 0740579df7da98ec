"""genlab tune: search spaces, every sampler on a quick objective, failures recorded, the trial budget shared by
processes, pruning of a real training run, key checks before any trial, and the report."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

optuna = pytest.importorskip("optuna", reason="the tune extra (optuna) is not installed")

from genlab.core.errors import BadInputError, ConfigError  # noqa: E402
from genlab.tune import (  # noqa: E402
    Objective,
    TrainingObjective,
    load_study,
    make_pruner,
    make_sampler,
    parse_space,
    run_study,
    write_report,
)

SPACE = {
    "x": {"type": "float", "low": -3.0, "high": 3.0},
    "k": {"type": "int", "low": 0, "high": 4},
    "c": {"type": "categorical", "choices": ["a", "b"]},
}


def quadratic(trial, p):
    return (p["x"] - 1.0) ** 2 + (p["k"] - 2) ** 2 + (0 if p["c"] == "b" else 1)


def test_space_parsing_and_errors():
    space = parse_space(SPACE)
    assert space.keys == ["x", "k", "c"]
    assert space.params[1].grid_values() == [0, 1, 2, 3, 4]
    with pytest.raises(ConfigError, match="continuous"):
        space.grid()
    bad = [
        ({}, "empty"),
        ({"a": {"low": 0, "high": 1}}, "needs a type"),
        ({"a": {"type": "float", "low": 1, "high": 0}}, "low 1 ≥ high 0"),
        ({"a": {"type": "float", "low": 0, "high": 1, "log": True}}, "log scale"),
        ({"a": {"type": "categorical", "choices": []}}, "non-empty"),
        ({"a": {"type": "int", "low": 0, "high": 2, "when": {"b": 1}}}, "not declared before"),
        ({"a": {"type": "int", "low": 0, "high": 2, "stride": 2}}, "unknown fields"),
    ]
    for raw, message in bad:
        with pytest.raises(ConfigError, match=message):
            parse_space(raw)


def test_conditional_parameters_are_drawn_only_when_their_condition_holds(tmp_path):
    space = parse_space({"m": {"type": "categorical", "choices": ["gan", "wgan"]},
                         "n_critic": {"type": "int", "low": 1, "high": 5, "when": {"m": "wgan"}}})  # fmt: skip
    seen = []

    def objective(trial, params):
        seen.append(params)
        return params.get("n_critic", 0)

    run_study("cond", space, objective, ["minimize"], 12, None, make_sampler("random", space, 0, 1))
    assert all(("n_critic" in p) == (p["m"] == "wgan") for p in seen) and {p["m"] for p in seen} == {"gan", "wgan"}


@pytest.mark.parametrize("sampler", ["tpe", "random", "gp", "cmaes"])
def test_each_sampler_improves_on_a_quick_objective(tmp_path, sampler):
    space = parse_space(SPACE)
    study = run_study(f"q-{sampler}", space, quadratic, ["minimize"], 14, None, make_sampler(sampler, space, 0, 1))
    values = [t.value for t in study.trials]
    assert len(values) == 14 and study.best_value <= min(values[:3]) and study.best_value < 2.5


def test_grid_and_nsga2(tmp_path):
    grid_space = parse_space({"x": {"type": "float", "low": -1.0, "high": 2.0, "grid": [-1.0, 0.0, 1.0, 2.0]},
                              "c": {"type": "categorical", "choices": ["a", "b"]}})  # fmt: skip
    study = run_study("grid", grid_space, lambda t, p: (p["x"] - 1) ** 2 + (p["c"] == "a"), ["minimize"], 8,
                      None, make_sampler("grid", grid_space, 0, 1))  # fmt: skip
    assert {(t.params["x"], t.params["c"]) for t in study.trials} == {(x, c) for x in (-1, 0, 1, 2) for c in "ab"}
    assert study.best_params == {"x": 1.0, "c": "b"}
    space = parse_space({"x": {"type": "float", "low": 0.0, "high": 1.0}})
    pareto = run_study("two", space, lambda t, p: [p["x"], (1 - p["x"]) ** 2], ["minimize", "minimize"], 12,
                       None, make_sampler("nsga2", space, 0, 2), objective_names=["a", "b"])  # fmt: skip
    assert len(pareto.best_trials) >= 2  # a trade-off: several non-dominated trials
    with pytest.raises(ConfigError, match="one objective"):
        make_sampler("cmaes", space, 0, 2)


def test_failures_are_recorded_and_the_budget_is_the_study_total(tmp_path):
    space = parse_space(SPACE)
    storage = f"sqlite:///{tmp_path / 's.db'}"

    def flaky(trial, params):
        if trial.number == 1:
            raise BadInputError("this combination diverged", "lower the learning rate")
        return quadratic(trial, params)

    study = run_study("flaky", space, flaky, ["minimize"], 4, storage, make_sampler("random", space, 0, 1))
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert study.trials[1].user_attrs["error"] == "this combination diverged"
    again = run_study("flaky", space, flaky, ["minimize"], 6, storage, make_sampler("random", space, 1, 1))
    assert len(again.trials) == 6  # continued: two more, not six more
    page = write_report(load_study("flaky", storage), tmp_path / "report.html")
    text = page.read_text()
    assert "best trials" in text and "optimisation history" in text and "this combination diverged" in text
    assert "data:image/png;base64" in text
    with pytest.raises(BadInputError, match="no study 'nope'"):
        load_study("nope", storage)


def two_workers(study: str, storage: str, n_trials: int, sampler: str):
    """Two processes run the same quick study on ``storage``; returns the study once both are done."""
    script = textwrap.dedent(f"""
        from genlab.tune import make_sampler, parse_space, run_study
        space = parse_space({{"x": {{"type": "float", "low": -2.0, "high": 2.0}}}})
        run_study("{study}", space, lambda t, p: p["x"] ** 2, ["minimize"], {n_trials}, "{storage}",
                  make_sampler("{sampler}", space, None, 1))
    """)  # fmt: skip
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    assert [p.wait(120) for p in procs] == [0, 0]
    return load_study(study, storage)


def test_two_processes_share_one_study(tmp_path):
    study = two_workers("shared", f"sqlite:///{tmp_path / 'shared.db'}", 10, "random")
    assert 10 <= len(study.trials) <= 11  # each process stops once the study holds 10 (one may be in flight)
    assert all(t.state.name == "COMPLETE" for t in study.trials)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("To be, or not to be, that is the question.\n" * 30, encoding="utf-8")
    return str(path)


TINY = ["model.n_layer=1", "model.n_head=2", "data.block_size=16", "train.batch_size=8", "train.val_batches=2"]


def test_trials_are_runs_and_pruning_stops_them(tmp_path, corpus):
    space = parse_space({"model.lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
                         "model.n_embd": {"type": "categorical", "choices": [16, 32]}})  # fmt: skip
    loss = [Objective.parse("val_loss:min")]
    objective = TrainingObjective("text-generation", "gpt", corpus, "lm", loss, None, trial_steps=12,
                                  runs_dir=tmp_path / "runs", overrides=TINY, prune_metric="val_loss")  # fmt: skip
    objective.check(space)
    study = run_study("lm", space, objective, ["minimize"], 2, f"sqlite:///{tmp_path / 's.db'}",
                      make_sampler("random", space, 0, 1), optuna.pruners.ThresholdPruner(upper=1e-9))  # fmt: skip
    assert [t.state.name for t in study.trials] == ["PRUNED", "PRUNED"]  # every value is above the threshold
    run = tmp_path / "runs" / "text-generation" / "lm-0000"
    assert (run / "model" / "config.json").is_file() and study.trials[0].user_attrs["run"] == str(run)
    unpruned = TrainingObjective("text-generation", "gpt", corpus, "lm2", loss, None, 12, tmp_path / "runs", TINY)
    plain = run_study("lm2", space, unpruned, ["minimize"], 1, f"sqlite:///{tmp_path / 's.db'}",
                      make_sampler("random", space, 0, 1), make_pruner("none"))  # fmt: skip
    assert plain.trials[0].state.name == "COMPLETE" and 0 < plain.best_value < 5


def test_unknown_keys_fail_before_any_trial(tmp_path, corpus):
    objective = TrainingObjective("text-generation", "gpt", corpus, "typo", [Objective.parse("val_loss")], 1.0)
    with pytest.raises(ConfigError, match="unknown config key 'train.lr'"):
        objective.check(parse_space({"train.lr": {"type": "float", "low": 1e-4, "high": 1e-2}}))
    with pytest.raises(BadInputError, match="bad objective"):
        Objective.parse("fid:lowest")


def test_two_processes_share_a_postgresql_study(postgres_url):
    study = two_workers("pg", postgres_url, 8, "tpe")
    assert 8 <= len(study.trials) <= 9 and all(t.state.name == "COMPLETE" for t in study.trials)


def test_an_unreachable_database_is_a_clear_error(postgres_url, tmp_path):
    space = parse_space(SPACE)
    url = postgres_url.rsplit(":", 1)[0] + ":1/genlab_test"  # nothing listens on port 1
    with pytest.raises(BadInputError, match="cannot open the study storage") as e:
        run_study("x", space, quadratic, ["minimize"], 2, url, make_sampler("random", space, 0, 1))
    assert "--storage" in e.value.hint
