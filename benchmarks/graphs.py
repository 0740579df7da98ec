"""Graph-generation benchmark: GraphRNN, GraphVAE and the fitted Erdős–Rényi / SBM baselines on the synthetic
graph families, scored as GraphRNN was — generated graphs vs the held-out test split, MMD of degree, clustering,
4-node orbit counts and normalised-Laplacian spectra — beside the training-set-vs-test-set floor.

    python -m benchmarks.graphs --quick                                           # smoke check
    python -m benchmarks.graphs --datasets community-small --budget 20 --threads 1
    python -m benchmarks.graphs --datasets grid lobster ego-like --models graphrnn erdos-renyi sbm --budget 5

Each dataset is split as GraphRNN split it (shuffled with seed 0, 80 % train, 20 % test;
:func:`genlab.graph.datasets.split_graphs`). Each model is trained by ``genlab.train`` (``--budget`` CPU-minutes
for the neural models, or ``--steps`` steps; the baselines fit in closed form) and evaluated by ``genlab.evaluate``
on ``--n-samples`` generated graphs (seed 0) against the test split. The ``train-vs-test`` row scores the training
graphs themselves: the floor a perfect generator reaches on this split. ``train_minutes`` is the wall time of the
training call. ``--images-dir`` writes a PNG grid of 16 generated graphs per row (``graphs-<dataset>-<model>.png``)
and one of 16 training graphs per dataset (``graphs-<dataset>-train.png``).
Writes ``benchmarks/results/graphs.json`` (``--quick``: ``graphs-quick.json``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

import genlab
from benchmarks import common

MODULE = "benchmarks.graphs"
DATASETS = ("community-small", "ego-like", "lobster", "grid")
MODELS = ("graphrnn", "graphvae", "erdos-renyi", "sbm")
NEURAL = ("graphrnn", "graphvae")
METRICS = ("mmd_degree", "mmd_clustering", "mmd_orbit", "mmd_spectral", "novelty", "uniqueness")


def row_key(r: dict[str, Any]) -> tuple:
    return (r["model"], r["dataset"], r.get("budget_minutes"), r.get("max_steps"), str(r.get("overrides")))


def _round(x: float | None, digits: int = 5) -> float | None:
    return None if x is None else round(float(x), digits)


def fit_row(args, runs_dir: Path, dataset: str, model: str) -> list[dict[str, Any]]:
    """Train ``model`` on ``dataset`` and score it; with it, the train-vs-test floor once per dataset."""
    steps = args.steps if model in NEURAL else None
    budget = args.budget if model in NEURAL and not steps else None
    name = f"{dataset}-{model}" + (f"-{budget:g}m" if budget else "") + (f"-{steps}s" if steps else "")
    overrides = list(args.overrides) if model in NEURAL else []
    t0 = time.perf_counter()
    options = {"threads": args.threads, "progress": False, "seed": 0}
    result = genlab.train(
        "graph-generation", model, f"builtin:{dataset}", name, runs_dir=runs_dir, max_minutes=budget,
        max_steps=steps, overrides=overrides, **{k: v for k, v in options.items() if v is not None},
    )  # fmt: skip
    minutes = (time.perf_counter() - t0) / 60
    report = genlab.evaluate(result.run.path, list(METRICS), n=args.n_samples, seed=0)
    protocol = report["protocol"]
    base = {"dataset": dataset, "n_samples": protocol["n_samples"], "test_graphs": _test_graphs(protocol),
            "train_graphs": protocol["train_graphs"]}  # fmt: skip
    rows = [
        {
            "model": model,
            **base,
            "budget_minutes": budget,
            **{k: _round(report["metrics"][k]) for k in METRICS},
            "train_minutes": round(minutes, 2),
            "steps": result.steps,
            "max_steps": steps,
            "overrides": overrides,
        }
    ]
    if dataset not in args.floors:
        floor = report["baselines"]["train_vs_test"]
        scores = {k: _round(floor[k]) for k in METRICS}
        rows.append({"model": "train-vs-test", **base, "budget_minutes": None, **scores, "train_minutes": 0.0,
                     "steps": 0, "overrides": []})  # fmt: skip
        args.floors.add(dataset)
        if args.images_dir:  # the real graphs beside the generated ones
            from genlab.graph.datasets import split_graphs, synthetic_graphs
            from genlab.graph.pipelines import draw_grid

            train = split_graphs(synthetic_graphs(dataset, seed=0), seed=0)[0]
            Path(args.images_dir).mkdir(parents=True, exist_ok=True)
            draw_grid(train[:16], Path(args.images_dir) / f"graphs-{dataset}-train.png")
    if args.images_dir:
        pipe = genlab.load(result.run.path)
        out = pipe.run(pipe.request(n=16, seed=0))
        path = Path(args.images_dir) / f"graphs-{dataset}-{model}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        out.save(path)
    return rows


def _test_graphs(protocol: dict[str, Any]) -> int | None:
    """The test split's size from the protocol's reference line (``… (20 graphs; …)``)."""
    import re

    found = re.search(r"\((\d+) graphs", protocol.get("reference", ""))
    return int(found.group(1)) if found else None


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "tiny budgets and few samples: a smoke check, not a result")
    p.add_argument("--datasets", nargs="+", choices=DATASETS, default=["community-small"])
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--budget", type=float, default=20.0, help="training minutes of each neural model")
    p.add_argument("--steps", type=int, default=None, help="train the neural models for this many steps instead")
    p.add_argument("--n-samples", type=int, default=1024, help="generated graphs compared with the test split")
    p.add_argument("--images-dir", default=None, help="write a PNG grid of 16 generated graphs per model here")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="model config override (neural)")
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    if args.quick:
        args.budget, args.n_samples = 0.05, 32
    args.floors = set()
    commit = common.git_commit()
    rows: list[dict[str, Any]] = []
    with common.runs_folder(args.runs_dir) as runs_dir:
        for dataset in args.datasets:
            for model in args.models:
                new = fit_row(args, runs_dir, dataset, model)
                for r in new:
                    print({k: r[k] for k in ("model", "dataset", *METRICS[:4], "train_minutes")}, flush=True)
                rows += new
    for r in rows:
        r |= {"threads": torch.get_num_threads(), "load_average": common.load_average(), "commit": commit}
    name = "graphs-quick" if args.quick else "graphs"
    out = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
