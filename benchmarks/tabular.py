"""Tabular benchmark: every synthesiser on Adult, breast cancer and diabetes — SDMetrics' quality, ML efficacy,
privacy (DCR, membership inference), fit time and sampling speed on this CPU; DP-SGD rows at several ε.

    python -m benchmarks.tabular --quick                                   # smoke check, tiny budgets
    python -m benchmarks.tabular --datasets adult --models copula tvae ctgan tab-ddpm marginals --budget 1
    python -m benchmarks.tabular --datasets adult --models tvae --dp-epsilons 1 3 10 --epochs 20

Data: ``adult`` trains on UCI Adult's 32,561 training rows (``../shared/data/tabular/adult``, or any folder
given with ``--data-dir``) and holds out its 16,281 test rows; ``breast-cancer`` and ``diabetes`` (from
scikit-learn) are split 70/30 with seed 0. Each model is fitted by ``genlab.train`` (``--budget`` minutes for
the neural models; the copula and the marginals fit in closed form); ``fit_seconds`` is the wall time of that
call, reading, typing and encoding the table included. The model then draws as many rows as the training
table has (``rows_per_s``: rows per second of that draw, decoding included), which are scored by genlab's
report (:mod:`genlab.tabular.report`):

* ``quality`` (with ``column_shapes`` and ``column_pair_trends``): SDMetrics' Quality Report definitions
  (KS/TV complements; correlation/contingency similarity), synthetic vs the real training rows;
* ``ml_efficacy``: a gradient-boosted model trained on the synthetic rows and tested on the real holdout
  (binary F1 of the positive class for Adult's ``income`` and the ``diagnosis``; R² for ``progression``),
  beside ``ml_efficacy_real``, the same model trained on the real training rows;
* ``dcr_median``: median distance of a synthetic row to its closest real training row, and
  ``mia_auroc``: AUC of a distance-based membership-inference attack (0.5: no leak).

DP rows (``--dp-epsilons``) train the model with DP-SGD for ``--epochs`` epochs at each target ε (δ = 1e-5);
``dp_epsilon`` is the ε the accountant reports as spent. The independent-marginals model is the trivial
baseline. ``--seed`` seeds the fit, the scored draw and the efficacy classifier (rows are keyed by it, so
several seeds of one recipe sit side by side). ``--stratify-target`` draws the scored rows of the classification
datasets keeping the target's training shares, each class's rows conditioned on it (``sampling:
"stratified"``; otherwise ``"joint"``).
Writes ``benchmarks/results/tabular.json`` (``--quick``: ``tabular-quick.json``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import genlab
from benchmarks import common

MODULE = "benchmarks.tabular"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DATASETS = {"adult": "income", "breast-cancer": "diagnosis", "diabetes": "progression"}
CLASSIFICATION = ("adult", "breast-cancer")  # categorical targets: what --stratify-target applies to
NEURAL = ("tvae", "ctgan", "tab-ddpm")


def row_key(r: dict[str, Any]) -> tuple:
    return (r["model"], r["dataset"], r.get("budget_minutes"), r.get("dp_target_epsilon"), str(r.get("overrides")),
            r.get("sample_steps"), r.get("sampling", "joint"), r.get("seed", 0))  # fmt: skip


def load_split(dataset: str, data_dir: str | None, quick: bool):
    """(train, holdout) raw tables of ``dataset``."""
    from genlab.tabular import data

    if dataset == "adult":
        train, holdout = data.load_adult("train", data_dir), data.load_adult("test", data_dir)
    else:
        table = data.load_breast_cancer_table() if dataset == "breast-cancer" else data.load_diabetes_table()
        order = np.random.default_rng(0).permutation(len(table))
        cut = int(round(0.7 * len(table)))
        train, holdout = table.iloc[np.sort(order[:cut])], table.iloc[np.sort(order[cut:])]
    if quick:
        train, holdout = train.iloc[:2000], holdout.iloc[:1000]
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def score(pipe, train, holdout, target: str, seed: int = 0, stratify: str | None = None) -> dict[str, Any]:
    """Draw as many rows as ``train`` has (``stratify``: keeping that column's training shares) and score them
    with the report pipeline (module docstring)."""
    from genlab.tabular.pipelines import TabularReportPipeline

    out = TabularReportPipeline(pipe.model).report(train, holdout, target, seed=seed, stratify=stratify)
    report = out.report
    s, e, p = report["summary"], report.get("efficacy", {}), report["protocol"]
    return {
        "quality": _round(s["quality"]),
        "column_shapes": _round(s["column_shapes"]),
        "column_pair_trends": _round(s["column_pair_trends"]),
        "ml_efficacy": _round(s.get("ml_efficacy")),
        "ml_efficacy_real": _round(s.get("ml_efficacy_real")),
        "ml_metric": e.get("metric"),
        "dcr_median": _round(s.get("dcr_median")),
        "dcr_holdout_median": _round(s.get("dcr_holdout_median")),
        "mia_auroc": _round(s.get("mia_auroc")),
        "rows_per_s": report["model"]["sampling_rows_per_s"],
        "n_train": p["rows_real"],
        "n_holdout": p["rows_holdout"],
    }


def _round(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(float(x), digits)


def fit_row(args, runs_dir: Path, dataset: str, model: str, files: tuple[Path, Path], dp: float | None) -> dict:
    """Fit ``model`` on ``dataset`` (timed), then score it."""
    train_csv, _ = files
    name = f"{dataset}-{model}" + (f"-dp{dp:g}" if dp else f"-{args.budget:g}m")
    options: dict[str, Any] = {"threads": args.threads, "progress": False, "seed": args.seed}
    budget = None if model in ("copula", "marginals") else args.budget
    if dp:
        options.update(epochs=args.epochs, dp={"epsilon": dp, "delta": 1e-5})
    t0 = time.perf_counter()
    result = genlab.train(
        "tabular-synthesis", model, str(train_csv), name, runs_dir=runs_dir, max_minutes=budget if not dp else None,
        overrides=list(args.overrides), **{k: v for k, v in options.items() if v is not None},
    )  # fmt: skip
    fit_seconds = time.perf_counter() - t0
    pipe = genlab.load(result.run.path)
    train, holdout = args.tables[dataset]
    stratify = DATASETS[dataset] if args.stratify_target and dataset in CLASSIFICATION else None
    row = {
        "model": model,
        "dataset": dataset,
        "budget_minutes": budget,
        **score(pipe, train, holdout, DATASETS[dataset], seed=args.seed, stratify=stratify),
        "sampling": "stratified" if stratify else "joint",
        "dp_epsilon": None,
        "fit_seconds": round(fit_seconds, 2),
        "steps": result.steps,
        "seed": args.seed,
    }
    if hasattr(pipe.model.config, "reverse_steps"):  # diffusion: the reverse steps the rows were drawn with
        row["sample_steps"] = pipe.model.config.reverse_steps
    privacy = pipe.meta.get("privacy")
    if dp:
        row |= {"dp_target_epsilon": dp, "dp_epsilon": privacy and round(privacy["epsilon"], 4),
                "dp_delta": privacy and privacy["delta"], "epochs": args.epochs}  # fmt: skip
    return row


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "tiny budgets and tables: a smoke check, not a result")
    p.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    p.add_argument("--models", nargs="+", default=["marginals", "copula", "tvae", "ctgan", "tab-ddpm"])
    p.add_argument("--budget", type=float, default=1.0, help="training minutes of each neural model")
    p.add_argument("--dp-epsilons", type=float, nargs="*", default=[], help="DP rows at these target ε")
    p.add_argument("--epochs", type=int, default=20, help="epochs of the DP runs")
    p.add_argument("--data-dir", default=str(SHARED / "tabular"), help="folder holding adult/")
    p.add_argument(
        "--stratify-target",
        action="store_true",
        help="draw the scored rows keeping the target's training shares (classification datasets)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the fit and of the scored draw (rows keyed by it)")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="config override for every run")
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    if args.quick:
        args.budget, args.epochs = 0.1, 1
    commit = common.git_commit()
    rows = []
    with common.runs_folder(args.runs_dir) as runs_dir:
        args.tables = {}
        for dataset in args.datasets:
            train, holdout = load_split(dataset, args.data_dir, args.quick)
            args.tables[dataset] = (train, holdout)
            files = (runs_dir / f"{dataset}-train.csv", runs_dir / f"{dataset}-holdout.csv")
            runs_dir.mkdir(parents=True, exist_ok=True)
            train.to_csv(files[0], index=False)
            holdout.to_csv(files[1], index=False)
            for model in args.models:
                if not args.dp_epsilons or model in ("copula", "marginals"):
                    rows.append(fit_row(args, runs_dir, dataset, model, files, None))
                    print({k: rows[-1][k] for k in ("model", "dataset", "quality", "ml_efficacy", "fit_seconds")})
                if model in NEURAL:
                    for eps in args.dp_epsilons:
                        rows.append(fit_row(args, runs_dir, dataset, model, files, eps))
                        print({k: rows[-1].get(k) for k in ("model", "dataset", "dp_epsilon", "quality")})
    for r in rows:
        r |= {"threads": torch.get_num_threads(), "load_average": common.load_average(), "commit": commit}
        if r.get("budget_minutes") or r.get("dp_target_epsilon"):
            r["overrides"] = list(args.overrides)
    name = "tabular-quick" if args.quick else "tabular"
    out = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
