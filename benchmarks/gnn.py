"""GNN benchmark: GCN, GAT and GIN node classification over several seeded splits, and the speed of the graph MMDs.

    python -m benchmarks.gnn --quick                     # smoke check: two splits, two epochs
    python -m benchmarks.gnn --threads 1                 # karate and a planted-partition graph, 10 splits each

Node classification: each model is trained by ``genlab.train`` with its default recipe (10 epochs of 20
full-graph steps: Kipf & Welling's 200 steps) on each of ``--seeds`` per-class splits (``split_seed`` and
training seed = the split index; 25 % of the labelled nodes held out for test, 10 % for validation) and
scored by ``genlab.evaluate`` on the held-out test nodes. Each row gives the mean and standard deviation of
test ``accuracy`` over the splits, beside the two baselines ``genlab eval`` reports on the same splits
(``majority_class_accuracy``, ``label_propagation_accuracy``: the harmonic function of the training labels),
and ``train_seconds`` (mean wall time of a ``genlab.train`` call). Data:

* ``karate`` — Zachary's karate club (34 nodes, labels ``club``), featureless: one-hot node identities.
* ``planted-partition`` — a stochastic block model generated here with seed 0: 4 classes × 100 nodes,
  edge probability 0.06 within a class and 0.01 across (about 3 of a node's 8.9 expected neighbours belong
  to other classes), featureless: one-hot node identities.

Metric speed (``model: "graph_mmds"``): the wall time of :func:`genlab.graph.metrics.graph_mmds` (degree,
clustering, orbit, spectral) of 1024 community-small graphs against the 20-graph community-small test set,
and of novelty + uniqueness of the same 1024 graphs against the 80 training graphs.
Writes ``benchmarks/results/gnn.json`` (``--quick``: ``gnn-quick.json``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import networkx as nx
import torch

import genlab
from benchmarks import common

MODULE = "benchmarks.gnn"
MODELS = ("gcn", "gat", "gin")


def planted_partition(path: Path) -> Path:
    """Write the 400-node, 4-class stochastic block model (seed 0) as GraphML with node attribute ``label``."""
    g = nx.stochastic_block_model([100] * 4, [[0.06 if i == j else 0.01 for j in range(4)] for i in range(4)], seed=0)
    for _, d in g.nodes(data=True):
        d["label"] = f"class{d.pop('block')}"
    g.graph = {}
    nx.write_graphml(g, str(path))
    return path


def node_row(args: argparse.Namespace, runs_dir: Path, dataset: str, source: str, model: str) -> dict[str, Any]:
    accuracy, majority, propagation, seconds = [], [], [], []
    for seed in range(args.seeds):
        start = time.perf_counter()
        result = genlab.train(
            "node-classification", model, source, f"{dataset}-{model}-{seed}", epochs=args.epochs, seed=seed,
            runs_dir=runs_dir, progress=False, sample_every=0, data_options={"split_seed": seed},
        )  # fmt: skip
        seconds.append(time.perf_counter() - start)
        scores = genlab.evaluate(result.run.path, save=False)
        accuracy.append(scores["metrics"]["accuracy"])
        majority.append(scores["baselines"]["majority_class"]["accuracy"])
        propagation.append(scores["baselines"]["label_propagation"]["accuracy"])
    n_test = scores["protocol"]["n_reference"]
    return {
        "model": model, "dataset": dataset, "budget_minutes": None, "epochs": args.epochs, "splits": args.seeds,
        "n_test_nodes": n_test, "accuracy": round(statistics.mean(accuracy), 4),
        "accuracy_std": round(statistics.pstdev(accuracy), 4),
        "majority_class_accuracy": round(statistics.mean(majority), 4),
        "label_propagation_accuracy": round(statistics.mean(propagation), 4),
        "train_seconds": round(statistics.mean(seconds), 2),
    }  # fmt: skip


def metric_rows(quick: bool) -> list[dict[str, Any]]:
    from genlab.graph import datasets, metrics

    train, test = datasets.split_graphs(datasets.synthetic_graphs("community-small", seed=0), seed=0)
    n = 64 if quick else 1024
    generated = datasets.community_small(seed=1, n_graphs=n)
    start = time.perf_counter()
    mmds = metrics.graph_mmds(test, generated)
    mmd_seconds = time.perf_counter() - start
    start = time.perf_counter()
    novel, unique = metrics.novelty(generated, train), metrics.uniqueness(generated)
    iso_seconds = time.perf_counter() - start
    return [
        {"model": "graph_mmds", "dataset": "community-small", "budget_minutes": None, "n_generated": n,
         "n_reference": len(test), "seconds": round(mmd_seconds, 3), **{k: round(v, 5) for k, v in mmds.items()}},
        {"model": "novelty_uniqueness", "dataset": "community-small", "budget_minutes": None, "n_generated": n,
         "n_reference": len(train), "seconds": round(iso_seconds, 3), "novelty": novel, "uniqueness": unique},
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "two splits of two epochs and 64 graphs: a smoke check, not a result")
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--datasets", nargs="+", choices=["karate", "planted-partition"],
                   default=["karate", "planted-partition"])  # fmt: skip
    p.add_argument("--seeds", type=int, default=10, help="seeded splits per model and dataset")
    p.add_argument("--epochs", type=int, default=10, help="epochs of 20 full-graph steps")
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    if args.quick:
        args.seeds, args.epochs = 2, 2
    rows = []
    with common.runs_folder(args.runs_dir) as runs_dir:
        runs_dir.mkdir(parents=True, exist_ok=True)
        sources = {"karate": "builtin:karate", "planted-partition": str(planted_partition(runs_dir / "sbm.graphml"))}
        for dataset in args.datasets:
            for model in args.models:
                rows.append(node_row(args, runs_dir, dataset, sources[dataset], model))
                print({k: rows[-1][k] for k in ("model", "dataset", "accuracy", "accuracy_std", "train_seconds")})
    rows += metric_rows(args.quick)
    print(rows[-2:])
    commit = common.git_commit()
    for r in rows:
        r |= {"threads": torch.get_num_threads(), "load_average": common.load_average(), "commit": commit}
    name = "gnn-quick" if args.quick else "gnn"
    path = common.save_rows(name, rows, MODULE, argv, key=lambda r: (r["model"], r["dataset"]), out_dir=args.out_dir)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
