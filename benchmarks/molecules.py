"""Molecule benchmark: MOSES metrics of each molecule model after a fixed CPU budget (results/molecules.json).

    python -m benchmarks.molecules --models char-rnn --budget 30 --threads 1
    python -m benchmarks.molecules --models smiles-gpt selfies-gpt --budget 20 --threads 1
    python -m benchmarks.molecules --rows reference          # the training set scored, and the published anchor
    python -m benchmarks.molecules --quick                   # smoke check, tiny budgets

Data: the MOSES 10k samples (``../shared/data/molecules``, or ``--data-dir``): each model trains with
``genlab.train("molecules", model, "moses", max_minutes=budget)`` on the 9,999-molecule training sample
(5% held out for validation loss), then draws ``--n`` strings (10,000; seed 0, temperature 1) scored by
``genlab``'s MOSES metrics (:mod:`genlab.molecule.metrics`): validity, unique@1k/10k, novelty against the
training sample, IntDiv1/2, and FCD/SNN/Frag/Scaf against the 10k test sample (``*_scaffold``: against the
10k scaffold-test sample), filters. ``train_minutes`` is the wall time of the training call.

Reference rows: ``train-sample`` scores the training molecules themselves as if generated (MOSES's "Train"
row: what a perfect memoriser gets, novelty 0); ``moses-charrnn-published`` is MOSES's CharRNN (Polykovskiy
et al. 2020, Front. Pharmacol. 11:565644, Table 2: mean of 3 runs, trained on the 1.58M-molecule training set
on a GPU, 30k samples, full test sets) — the anchor, not comparable number for number: our models see 10k
molecules for minutes on one CPU thread, and FCD/SNN/Scaf against a 10k sample differ from those against the
full test set (the ``train-sample`` row shows by how much for a perfect model).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

import genlab
from benchmarks import common

MODULE = "benchmarks.molecules"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MODELS = ("char-rnn", "smiles-gpt", "selfies-gpt", "mol-vae")
DISTRIBUTION = ("fcd", "snn", "frag", "scaf")
DOCS_IMAGES = common.ROOT / "docs" / "images"

#: MOSES CharRNN, Polykovskiy et al. 2020 (Front. Pharmacol. 11:565644), Table 2 (mean of three runs).
MOSES_CHARRNN = {
    "validity": 0.975, "uniqueness_1k": 1.0, "uniqueness_10k": 0.999, "novelty": 0.842,
    "internal_diversity": 0.856, "internal_diversity_2": 0.850, "filters": 0.994,
    "fcd": 0.073, "snn": 0.601, "frag": 1.000, "scaf": 0.924,
    "fcd_scaffold": 0.520, "snn_scaffold": 0.565, "frag_scaffold": 0.998, "scaf_scaffold": 0.110,
}  # fmt: skip


def row_key(r: dict[str, Any]) -> tuple:
    return (r["model"], r["dataset"], r.get("budget_minutes"), r.get("temperature", 1.0))


def _round(values: dict[str, Any], digits: int = 4) -> dict[str, Any]:
    return {k: round(float(v), digits) if isinstance(v, float) else v for k, v in values.items()}


def score(model: Any, data_dir: str, n: int, temperature: float = 1.0) -> dict[str, Any]:
    """MOSES metrics of ``model`` against the test sample, and the distribution metrics against scaffold-test."""
    from genlab.core.registry import TASKS

    task = TASKS.get("molecules")
    t0 = time.perf_counter()
    options = {"n": n, "seed": 0, "data_dir": data_dir, "temperature": temperature}
    test = task.evaluate(model, None, options)
    scaffold = task.evaluate(model, list(DISTRIBUTION), {**options, "ref": "moses:test_scaffolds"})
    p = test["protocol"]
    return {
        **_round(test["metrics"]),
        **{f"{k}_scaffold": round(float(v), 4) for k, v in scaffold["metrics"].items()},
        "temperature": temperature,
        "n_samples": p["n_samples"],
        "n_valid": p["n_valid"],
        "eval_seconds": round(time.perf_counter() - t0, 1),
    }


def train_row(args, runs_dir: Path, model: str) -> dict[str, Any]:
    """Train ``model`` for the budget on the MOSES training sample, then score it."""
    name = f"{model}-{args.budget:g}m"
    if args.rescore:  # a finished run of this benchmark, scored again (e.g. at another --temperature)
        return rescore_row(args, runs_dir / "molecules" / name, model)
    t0 = time.perf_counter()
    result = genlab.train(
        "molecules", model, "moses", name, runs_dir=runs_dir, max_minutes=args.budget,
        data_options={"data_dir": args.data_dir}, overrides=list(args.overrides),
        threads=args.threads, progress=False, seed=0, sample_every=0,
    )  # fmt: skip
    minutes = (time.perf_counter() - t0) / 60
    pipe = genlab.load(result.run.path)
    row = {
        "model": model,
        "dataset": "moses-10k",
        "budget_minutes": args.budget,
        **score(pipe.model, args.data_dir, args.n, args.temperature),
        "train_minutes": round(minutes, 2),
        "steps": result.steps,
        "parameters": sum(p.numel() for p in pipe.model.parameters()),
        "overrides": list(args.overrides),
    }
    if not args.quick:
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        pipe.run(pipe.request(n=30, seed=0)).save(DOCS_IMAGES / f"molecules-{model}.png")
    return row


def rescore_row(args, run: Path, model: str) -> dict[str, Any]:
    """Score the finished run ``run`` again at ``--temperature``; training facts are read from the run."""
    import csv

    pipe = genlab.load(run)
    last = list(csv.DictReader((run / "metrics.csv").open()))[-1]
    return {
        "model": model,
        "dataset": "moses-10k",
        "budget_minutes": args.budget,
        **score(pipe.model, args.data_dir, args.n, args.temperature),
        "train_minutes": round(float(last["time_s"]) / 60, 2),
        "steps": pipe.model.provenance.steps,
        "parameters": sum(p.numel() for p in pipe.model.parameters()),
        "overrides": list(args.overrides),
    }


def reference_rows(args) -> list[dict[str, Any]]:
    """The training sample scored as if generated, and MOSES's published CharRNN row."""
    from genlab.molecule import metrics
    from genlab.molecule.data import load_moses

    train = load_moses("train", args.data_dir).smiles
    test = load_moses("test", args.data_dir).smiles
    scaffold = load_moses("test_scaffolds", args.data_dir).smiles
    if args.quick:
        train, test, scaffold = train[:300], test[:300], scaffold[:300]
    model = metrics.fcd_model()
    values: dict[str, Any] = {
        "validity": 1.0,
        "uniqueness_1k": metrics.unique_at_k(train, 1000),
        "uniqueness_10k": metrics.unique_at_k(train, 10000),
        "novelty": metrics.novelty(train, train),
        "internal_diversity": metrics.internal_diversity(train, 1),
        "internal_diversity_2": metrics.internal_diversity(train, 2),
        "filters": metrics.filters(train),
    }
    for suffix, ref in (("", test), ("_scaffold", scaffold)):
        values |= {
            f"fcd{suffix}": metrics.fcd(train, ref, model),
            f"snn{suffix}": metrics.snn(train, ref),
            f"frag{suffix}": metrics.frag_similarity(train, ref),
            f"scaf{suffix}": metrics.scaf_similarity(train, ref),
        }
    own = {"model": "train-sample", "dataset": "moses-10k", "budget_minutes": None, **_round(values)}
    own |= {"n_samples": len(train), "note": "the training molecules scored as if generated (MOSES's Train row)"}
    anchor = {"model": "moses-charrnn-published", "dataset": "moses-full", "budget_minutes": None, **MOSES_CHARRNN}
    anchor["source"] = "Polykovskiy et al. 2020, Front. Pharmacol. 11:565644, Table 2 (CharRNN, mean of 3 runs)"
    return [own, anchor]


TABLE_START, TABLE_END = (
    "<!-- results table: from benchmarks/results/molecules.json -->",
    "<!-- end of results table -->",
)
COLUMNS = ("temperature", "validity", "uniqueness_1k", "uniqueness_10k", "novelty", "internal_diversity", "fcd",
           "snn", "frag", "scaf", "fcd_scaffold", "scaf_scaffold", "filters", "train_minutes")  # fmt: skip


def docs_table(results: Path, page: Path) -> None:
    """Rewrite the results table of ``page`` (between its markers) from the results file."""
    import json

    rows = json.loads(results.read_text(encoding="utf-8"))["results"]
    order = {"moses-charrnn-published": 0, "train-sample": 1}
    rows = sorted(rows, key=lambda r: (order.get(r["model"], 2), r["model"]))
    lines = ["| model | budget (min) | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    for r in rows:
        cells = ["–" if r.get(k) is None else f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in COLUMNS]
        lines.append(f"| {r['model']} | {r.get('budget_minutes') or '–'} | " + " | ".join(cells) + " |")
    common.replace_between(page, TABLE_START, TABLE_END, lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "tiny budgets and sample counts: a smoke check, not a result")
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--rows", nargs="+", choices=("models", "reference"), default=["models", "reference"])
    p.add_argument("--budget", type=float, default=30.0, help="training minutes of each model")
    p.add_argument("--n", type=int, default=10000, help="strings sampled for the metrics")
    p.add_argument("--data-dir", default=str(SHARED), help="folder holding molecules/moses_*10k.csv")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="config override for every run")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature of the scored samples")
    p.add_argument("--rescore", action="store_true", help="score the runs in --runs-dir again instead of training")
    p.add_argument("--docs", type=Path, default=None, help="only rewrite this page's results table from the file")
    args = p.parse_args(argv)
    if args.docs:
        docs_table(common.results_path("molecules", args.out_dir), args.docs)
        return
    common.set_threads(args.threads)
    if args.quick:
        args.budget, args.n = 0.2, 200
    rows: list[dict[str, Any]] = []
    with common.runs_folder(args.runs_dir) as runs_dir:
        if "models" in args.rows:
            for model in args.models:
                rows.append(train_row(args, runs_dir, model))
                print({k: rows[-1].get(k) for k in ("model", "validity", "uniqueness_1k", "novelty", "fcd")})
    if "reference" in args.rows:
        rows += reference_rows(args)
    commit = common.git_commit()
    for r in rows:
        r |= {"threads": torch.get_num_threads(), "load_average": common.load_average(), "commit": commit}
    name = "molecules-quick" if args.quick else "molecules"
    out = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
