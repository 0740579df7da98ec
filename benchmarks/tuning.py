"""Tuning benchmark: best-found FID against trials for random search, TPE, CMA-ES (and GP) on one model, each with
the same budget — the same number of trials of the same number of training steps — over several seeds
(results/tuning.json, and the curves as docs/images/tuning-<model>-fid.png with ``--plot``).

    python -m benchmarks.tuning --threads 1              # cgan on MNIST-5k: 3 samplers × 3 seeds × 16 trials
    python -m benchmarks.tuning --samplers gp --seeds 0 1 2 --threads 1
    python -m benchmarks.tuning --quick                  # smoke check: a tiny model, two short trials

The search space is the GAN's two Adam learning rates (1e-5 … 1e-2, log scale) and its latent size (4 … 128, log
scale): the settings a user tunes first, and ones where a bad draw visibly ruins the samples. A study of a sampler
and seed trains ``--trials`` runs of ``--trial-steps`` steps each (training seed = the study's seed) and scores
each by ``genlab eval --metrics fid`` on ``--eval-n`` samples; the study's runs are deleted afterwards unless
``--runs-dir`` keeps them. Budgets are counted in trials of fixed steps, not minutes, so a busy machine slows the
benchmark without changing its result.

Each row: ``model``, ``sampler``, ``seed``, ``trials`` (complete trials), ``best_value`` (the lowest FID found),
``curve`` (the best FID after each trial), ``failed``, ``minutes`` (wall clock of the study). The summary rows
(``seed`` = ``"all"``) give the mean, standard deviation, minimum and maximum of ``best_value`` over the seeds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks import common

MODULE = "benchmarks.tuning"
SPACE = {
    "model.lr_g": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True},
    "model.lr_d": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True},
    "model.latent_dim": {"type": "int", "low": 4, "high": 128, "log": True},
}
QUICK_MODEL = ["model.g_width=8", "model.d_width=8"]


def row_key(r: dict[str, Any]) -> tuple:
    return (r["model"], r["sampler"], str(r["seed"]), r.get("trial_steps"))


def study_row(model: str, sampler: str, seed: int, args: argparse.Namespace, runs: Path) -> dict[str, Any]:
    """Run one study and summarise it: best FID and the best-so-far curve over its trials."""
    import optuna

    from genlab.tune import Objective, tune
    from genlab.tune.space import parse_space

    overrides = [f"train.seed={seed}", "train.sample_every=0", "train.val_batches=0", "train.progress=false"]
    if args.threads:
        overrides.append(f"train.threads={args.threads}")
    if args.quick:
        overrides += QUICK_MODEL
    began = time.perf_counter()
    study = tune("image-generation", parse_space(SPACE), [Objective.parse("fid:min")],
                 f"bench-{model}-{sampler}-s{seed}", model=model, data=args.data, sampler=sampler,
                 n_trials=args.trials, trial_steps=args.trial_steps, seed=seed, runs_dir=runs, overrides=overrides,
                 eval_options={"n": args.eval_n})  # fmt: skip
    curve, best = [], float("inf")
    for t in sorted(study.trials, key=lambda t: t.number):
        if t.state == optuna.trial.TrialState.COMPLETE:
            best = min(best, float(t.value))
        curve.append(round(best, 3) if best < float("inf") else None)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return {
        "model": model,
        "sampler": sampler,
        "seed": seed,
        "trials": len(complete),
        "best_value": round(best, 3) if complete else None,
        "metric": "fid",
        "data": args.data,
        "trial_steps": args.trial_steps,
        "eval_n": args.eval_n,
        "curve": curve,
        "failed": sum(t.state == optuna.trial.TrialState.FAIL for t in study.trials),
        "best_params": study.best_params if complete else None,
        "minutes": round((time.perf_counter() - began) / 60, 2),
    }


def summary_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model and sampler: mean, spread and range of the seeds' best values."""
    out = []
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        if r["seed"] != "all" and r["best_value"] is not None:
            groups.setdefault((r["model"], r["sampler"], r.get("trial_steps")), []).append(r)
    for (model, sampler, steps), rs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        best = [r["best_value"] for r in rs]
        out.append({
            "model": model, "sampler": sampler, "seed": "all", "seeds": sorted(r["seed"] for r in rs),
            "trials": min(r["trials"] for r in rs), "trial_steps": steps, "metric": "fid",
            "best_value": round(statistics.mean(best), 3),
            "best_value_std": round(statistics.stdev(best), 3) if len(best) > 1 else 0.0,
            "best_value_min": min(best), "best_value_max": max(best),
        })  # fmt: skip
    return out


def plot(rows: list[dict[str, Any]], model: str, out: Path) -> Path:
    """Best FID against trials: each sampler's mean over seeds, with the range of the seeds shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    samplers = sorted({r["sampler"] for r in rows if r["model"] == model and r["seed"] != "all"})
    for sampler in samplers:
        curves = [r["curve"] for r in rows if r["model"] == model and r["sampler"] == sampler and r["seed"] != "all"]
        n = min(len(c) for c in curves)
        points = [[c[i] for c in curves if c[i] is not None] for i in range(n)]
        xs = [i + 1 for i in range(n) if points[i]]
        mean = [statistics.mean(p) for p in points if p]
        line = ax.plot(xs, mean, label=f"{sampler} ({len(curves)} seeds)")[0]
        ax.fill_between(xs, [min(p) for p in points if p], [max(p) for p in points if p], alpha=0.15,
                        color=line.get_color())  # fmt: skip
    ax.set_xlabel("trials")
    ax.set_ylabel("best FID so far (lower is better)")
    ax.set_yscale("log")
    ax.set_title(f"{model}: best FID found at equal budget")
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "a tiny model, two short trials per study: a smoke check, not a result")
    p.add_argument("--model", default="cgan", help="image-generation model to tune (default cgan)")
    p.add_argument("--data", default="builtin:mnist-5k")
    p.add_argument("--samplers", nargs="+", default=["random", "tpe", "cmaes"],
                   choices=["random", "tpe", "cmaes", "gp"])  # fmt: skip
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--trials", type=int, default=16, help="trials per study (the equal budget)")
    p.add_argument("--trial-steps", type=int, default=300, help="training steps of every trial")
    p.add_argument("--eval-n", type=int, default=1000, help="samples for each trial's FID")
    p.add_argument("--plot", type=Path, default=None, help="write the best-FID-vs-trials figure here")
    args = p.parse_args(argv)
    if args.quick:
        args.trials, args.trial_steps, args.eval_n, args.seeds = 2, 20, 200, args.seeds[:1]
    common.set_threads(args.threads)
    name = "tuning-quick" if args.quick else "tuning"
    commit, out = common.git_commit(), None
    with common.runs_folder(args.runs_dir) as runs:
        for sampler in args.samplers:
            for seed in args.seeds:
                row = study_row(args.model, sampler, seed, args, runs)
                row |= {"load_average": common.load_average(), "commit": commit}
                print({k: v for k, v in row.items() if k != "curve"})
                out = common.save_rows(name, [row], MODULE, argv, row_key, args.out_dir)
    path = common.results_path(name, args.out_dir)
    import json

    rows = [r for r in json.loads(path.read_text(encoding="utf-8"))["results"] if r["seed"] != "all"]
    out = common.save_rows(name, summary_rows(rows), MODULE, argv, row_key, args.out_dir)
    for r in summary_rows(rows):
        spread = f"{r['best_value']} ± {r['best_value_std']}"
        print(f"{r['model']} {r['sampler']}: best FID {spread} over seeds {r['seeds']}")
    if args.plot:
        print(f"wrote {plot(rows, args.model, args.plot)}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
