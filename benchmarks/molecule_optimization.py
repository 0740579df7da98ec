"""Molecule optimisation benchmark: best and top-10 mean objective against oracle calls, for latent Bayesian
optimisation with a mol-vae, policy-gradient fine-tuning of a molecule language model, and sampling baselines.

    python -m benchmarks.molecule_optimization --quick                                    # smoke check
    python -m benchmarks.molecule_optimization --train-minutes 20 --threads 1            # train a mol-vae, then run
    python -m benchmarks.molecule_optimization --vae-run runs/molecules/vae --lm-run runs/molecules/rnn --budget 2000

Models are genlab runs: ``--vae-run``/``--lm-run`` name finished runs, or ``--train-minutes`` trains a
``mol-vae`` (and ``--lm-minutes`` a ``char-rnn``) with ``genlab.train`` on the MOSES 10k training sample
(``--data-dir``, default ``../shared/data``) within that CPU budget. For each ``--objectives`` entry and
``--seeds`` seed, with ``--budget`` oracle calls each:

* ``latent-bo`` (mol-vae): the ``optimize`` pipeline's latent Bayesian optimisation, the initial design drawn from
  the training molecules (``--n-init``, counted in the budget);
* ``policy-gradient`` (language model): the ``optimize`` pipeline's REINFORCE fine-tuning with a KL anchor to the
  pre-trained model and a repeat penalty;
* ``prior-sampling`` (each model): molecules sampled from the model as trained, scored until the budget is spent;
* ``random-data``: molecules drawn at random from the training set (what the initial design draws from).

An oracle call is one objective evaluation of a distinct valid molecule (RDKit canonical SMILES) within a run;
invalid strings and repeats are free (:data:`genlab.molecule.optimize.COUNTING_RULE`). Rows: ``model``,
``method``, ``objective``, ``seed``, ``oracle_calls``, ``best``, ``top10_mean``, ``seconds``, ``calls_to_target``
(the first call whose score reaches ``--target``, or null) and ``curve`` (best and top-10 mean every 20 calls).
Writes ``benchmarks/results/molecule_optimization.json`` (``--quick``: ``molecule_optimization-quick.json``) and,
with ``--plot``, the curves as a PNG per objective.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Any

import genlab
from benchmarks import common

MODULE = "benchmarks.molecule_optimization"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CURVE_EVERY = 20


def row_key(r: dict[str, Any]) -> tuple:
    return (r["model"], r["method"], r["objective"], r.get("seed"), r.get("oracle_budget"))


def train_run(args, runs_dir: Path, model: str, minutes: float, overrides: dict[str, Any]) -> tuple[Path, float]:
    """Train ``model`` on the MOSES training sample for ``minutes``; returns the run folder and its minutes."""
    data_options = {"data_dir": str(args.data_dir)}
    if args.quick:
        data_options["max_molecules"] = 300
    result = genlab.train(
        "molecules", model, "moses", f"{model}-bench", runs_dir=runs_dir, progress=False, seed=0,
        max_minutes=minutes, data_options=data_options, model_options=overrides,
    )  # fmt: skip
    return Path(result.run.path), float(result.minutes)


def run_record(run: Path) -> dict[str, Any]:
    """What trained a run: its command, minutes (the last ``time_s`` of ``metrics.csv``) and optimizer steps."""
    import csv
    import json

    env = json.loads((run / "env.json").read_text()) if (run / "env.json").is_file() else {}
    minutes = steps = None
    if (run / "metrics.csv").is_file():
        with open(run / "metrics.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if r.get("time_s")]
        if rows:
            minutes, steps = round(float(rows[-1]["time_s"]) / 60, 1), int(float(rows[-1]["step"]))
    return {"train_command": env.get("command"), "train_minutes": minutes, "train_steps": steps}


def summarise(oracle, target: float | None) -> dict[str, Any]:
    """The row fields of a finished oracle: calls, best, top-10 mean, the curve, calls to reach ``target``."""
    from genlab.molecule.optimize import curve

    hit = next((c.call for c in oracle.trace if target is not None and c.score >= target), None)
    top = [s for _, s in oracle.top(10)]
    return {
        "oracle_calls": len(oracle.trace),
        "best": round(oracle.best, 4) if oracle.trace else None,
        "top10_mean": round(sum(top) / len(top), 4) if top else None,
        "calls_to_target": hit,
        "invalid": oracle.invalid,
        "repeats": oracle.repeats,
        "top5": [[smiles, round(score, 4)] for smiles, score in oracle.top(5)],
        "curve": [
            {k: round(v, 4) if isinstance(v, float) else v for k, v in p.items()}
            for p in curve(oracle.trace, CURVE_EVERY)
        ],  # fmt: skip
    }


def sample_until(model, oracle, seed: int, batch: int = 200, max_rounds: int = 200) -> None:
    """Score molecules sampled from ``model`` (as trained) until the oracle's budget is spent."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    for _ in range(max_rounds):
        if oracle.remaining <= 0:
            return
        oracle(model.sample_smiles(batch, gen), "prior")


def optimise(pipe, objective: str, budget: int, seed: int, n_init: int) -> tuple[dict[str, Any], float]:
    """Run the optimize pipeline; returns its record and wall seconds."""
    start = time.perf_counter()
    out = pipe.run(pipe.request(objective=objective, budget=budget, seed=seed, n_init=n_init, quiet=True))
    return out.record, time.perf_counter() - start


def record_row(record: dict[str, Any], target: float | None) -> dict[str, Any]:
    """Row fields of an ``optimize`` record (the same as :func:`summarise` gives for the baselines)."""
    from genlab.molecule.objectives import parse_objective
    from genlab.molecule.optimize import Oracle, OracleCall

    oracle = Oracle(parse_objective(record["objective"]["expression"]), record["budget"])
    for c in record["trace"]:
        oracle.trace.append(OracleCall(**c))
        oracle.scores[c["smiles"]] = c["score"]
    oracle.invalid, oracle.repeats = record["invalid"], record["repeats"]
    return summarise(oracle, target) | {"settings": record["settings"]}


def model_rows(args, run: Path, minutes: float | None, training_smiles: list[str]) -> list[dict[str, Any]]:
    """The optimisation and prior-sampling rows of one run, for every objective and seed."""
    from genlab.molecule.objectives import parse_objective
    from genlab.molecule.optimize import Oracle

    pipe = genlab.load(run)
    from genlab.molecule.optimize_pipeline import OptimizePipeline, optimization_method

    opt = OptimizePipeline(pipe.model)
    method = optimization_method(pipe.model)
    rows = []
    trained = run_record(run)
    minutes = minutes if minutes is not None else trained["train_minutes"]
    for objective in args.objectives:
        target = args.target if objective == "qed" else None
        for seed in args.seeds:
            base = {"model": pipe.model.registry_name, "dataset": "moses-10k", "budget_minutes": minutes,
                    "objective": objective, "seed": seed, "oracle_budget": args.budget, "run": str(run),
                    **trained}  # fmt: skip
            record, seconds = optimise(opt, objective, args.budget, seed, args.n_init)
            rows.append(base | {"method": method, "seconds": round(seconds, 1)} | record_row(record, target))
            print({k: rows[-1][k] for k in ("model", "method", "objective", "oracle_calls", "best", "top10_mean")})
            oracle = Oracle(parse_objective(objective), args.budget)
            start = time.perf_counter()
            sample_until(pipe.model, oracle, seed)
            rows.append(base | {"method": "prior-sampling", "seconds": round(time.perf_counter() - start, 1)}
                        | summarise(oracle, target))  # fmt: skip
            print({k: rows[-1][k] for k in ("model", "method", "objective", "oracle_calls", "best", "top10_mean")})
    return rows


def data_rows(args, smiles: list[str]) -> list[dict[str, Any]]:
    """``random-data`` rows: training molecules in a seeded random order, scored until the budget is spent."""
    from genlab.molecule.objectives import parse_objective
    from genlab.molecule.optimize import Oracle

    rows = []
    for objective in args.objectives:
        for seed in args.seeds:
            oracle = Oracle(parse_objective(objective), args.budget)
            order = random.Random(seed).sample(smiles, len(smiles))
            start = time.perf_counter()
            for i in range(0, len(order), 100):
                if oracle.remaining <= 0:
                    break
                oracle(order[i : i + 100], "data")
            target = args.target if objective == "qed" else None
            rows.append({"model": "moses-train-sample", "dataset": "moses-10k", "budget_minutes": None,
                         "method": "random-data", "objective": objective, "seed": seed, "oracle_budget": args.budget,
                         "seconds": round(time.perf_counter() - start, 1)} | summarise(oracle, target))  # fmt: skip
    return rows


def plot(rows: list[dict[str, Any]], objective: str, path: Path, target: float | None) -> Path:
    """Best and top-10 mean against oracle calls, one line per (model, method), seed 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for r in rows:
        if r["objective"] != objective or r.get("seed") != min(x.get("seed", 0) for x in rows):
            continue
        calls = [p["oracle_calls"] for p in r["curve"]]
        label = f"{r['model'].split('/')[-1]} {r['method']}"
        axes[0].plot(calls, [p["best"] for p in r["curve"]], label=label)
        axes[1].plot(calls, [p["top10_mean"] for p in r["curve"]], label=label)
    for ax, title in zip(axes, ("best", "top-10 mean"), strict=True):
        if target is not None:
            ax.axhline(target, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("oracle calls (distinct valid molecules scored)")
        ax.set_title(f"{title} {objective}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(objective)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "tiny models and budgets: a smoke check, not a result")
    p.add_argument("--vae-run", default=None, help="a finished mol-vae run to optimise with (else --train-minutes)")
    p.add_argument("--lm-run", default=None, help="a finished char-rnn/smiles-gpt run to fine-tune (else --lm-minutes)")
    p.add_argument("--train-minutes", type=float, default=20.0, help="CPU minutes of the mol-vae trained when no run")
    p.add_argument("--lm-minutes", type=float, default=0.0, help="CPU minutes of a char-rnn trained when no --lm-run")
    p.add_argument("--objectives", nargs="+", default=["qed"], help="objective expressions (qed, logp, 'qed-0.1*sa')")
    p.add_argument("--budget", type=int, default=2000, help="oracle calls per optimisation")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--n-init", type=int, default=200, help="latent BO: training molecules in the initial design")
    p.add_argument("--target", type=float, default=0.94, help="QED to reach (calls_to_target)")
    p.add_argument("--data-dir", default=str(SHARED), help="folder holding molecules/moses_train10k.csv")
    p.add_argument("--plot", default=None, help="folder for the curve PNGs (molecule-opt-<objective>.png)")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="mol-vae config override key=value")
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    if args.quick:
        args.budget, args.n_init, args.train_minutes = 40, 10, 0.2
        args.lm_minutes = args.lm_minutes and 0.2
    import yaml

    overrides = {k: yaml.safe_load(v) for k, v in (o.split("=", 1) for o in args.overrides)}
    if args.quick:
        overrides = {"latent_dim": 8, "encoder_hidden": 32, "decoder_hidden": 32, "decoder_layers": 1, **overrides}
    from genlab.molecule.data import load_source

    smiles = list(dict.fromkeys(load_source("moses", "train", args.data_dir).smiles))
    rows: list[dict[str, Any]] = []
    with common.runs_folder(args.runs_dir) as runs_dir:
        runs: list[tuple[Path, float | None]] = []
        if args.vae_run:
            runs.append((Path(args.vae_run), None))
        elif args.train_minutes > 0:
            runs.append(train_run(args, runs_dir, "mol-vae", args.train_minutes, overrides))
        if args.lm_run:
            runs.append((Path(args.lm_run), None))
        elif args.lm_minutes > 0:
            lm = {"n_layer": 1, "hidden_size": 64} if args.quick else {}
            runs.append(train_run(args, runs_dir, "char-rnn", args.lm_minutes, lm))
        for run, minutes in runs:
            rows += model_rows(args, run, minutes, smiles)
        rows += data_rows(args, smiles)
    name = "molecule_optimization-quick" if args.quick else "molecule_optimization"
    path = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir, counting_rule=_rule())
    print(f"wrote {path}")
    if args.plot:
        import json

        every = json.loads(path.read_text())["results"]
        for objective in args.objectives:
            target = args.target if objective == "qed" else None
            slug = "".join(c if c.isalnum() else "-" for c in objective)
            print(f"wrote {plot(every, objective, Path(args.plot) / f'molecule-opt-{slug}.png', target)}")


def _rule() -> str:
    from genlab.molecule.optimize import COUNTING_RULE

    return COUNTING_RULE


if __name__ == "__main__":
    main()
