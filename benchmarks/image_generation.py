"""Image-generation benchmark: every generator under fixed CPU budgets, scored with one protocol.

For each dataset (MNIST and Fashion-MNIST from ``--data-dir``; ``builtin:mnist-5k`` when they are
absent) and each wall-clock budget, every model in :data:`MODELS` is trained with
``genlab.train(..., max_minutes=budget)`` and evaluated against the test split with
``n`` generated samples: FID, KID, precision, recall (shipped LeNet features), label accuracy
for conditional models, training images/s and sampling images/s. The closed-form baselines
(``gaussian``, ``gmm``) and the floor (train vs test split) are scored the same way.

Writes ``benchmarks/results/image_generation.json`` and renders
``docs/benchmarks/image-generation.md`` with the tables and sample grids. ``--quick`` runs
tiny budgets on one dataset with few samples (a smoke check; results go to
``image_generation_quick.*`` and leave the docs alone), as does ``--out-dir``.

    python -m benchmarks.image_generation --data-dir ../shared/data          # 10 and 30 minutes per model
    python -m benchmarks.image_generation --quick
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import time
from pathlib import Path
from typing import Any

import genlab
from benchmarks import common
from genlab.image.evaluation import generate

MODULE = "benchmarks.image_generation"

#: Gradient-trained generators, in table order.
MODELS = ["vae", "cvae", "dcgan", "cgan", "wgan-gp", "ddpm", "flow"]
#: Overrides per model: the diffusion models are trained label-conditional (so guidance and label accuracy
#: apply) and write no intermediate grids (100 guided samples cost ~30 s of the budget on a CPU).
MODEL_OVERRIDES = {m: ["model.conditional=true", "train.sample_every=0"] for m in ("ddpm", "flow")}
#: Sampling speed is timed on at most this many images, and for at most this many seconds.
SPEED_IMAGES, SPEED_SECONDS = 2000, 30.0
#: Closed-form pixel baselines (fitted once per dataset, no budget).
BASELINES = ["gaussian", "gmm"]
DATASETS = ["mnist", "fashion-mnist"]
FALLBACK_DATASET = "builtin:mnist-5k"
BUDGETS = [10.0, 30.0]
METRICS = ["fid", "kid", "precision", "recall"]
DOC = common.ROOT / "docs" / "benchmarks" / "image-generation.md"


def available_datasets(names: list[str], data_dir: str | None) -> list[str]:
    """The requested datasets found on disk; the offline built-in when none is."""
    return common.idx_datasets_on_disk(names, data_dir) or [FALLBACK_DATASET]


def evaluate_run(run: Path, model: str, n: int, data_dir: str | None, baselines: bool) -> dict[str, Any]:
    """genlab.evaluate with the benchmark's metrics, plus sampling speed."""
    pipe = genlab.load(run)
    metrics = METRICS + (["label_accuracy"] if pipe.model.conditional else [])
    result = genlab.evaluate(run, metrics, n=n, seed=0, data_dir=data_dir, baselines=baselines)
    result["images_per_s_sampling"] = sampling_speed(pipe.model, min(n, SPEED_IMAGES))
    if getattr(pipe.model, "prior_fitted", False):  # a VAE with a gmm prior: the same weights scored under N(0, I)
        result["metrics"] |= standard_prior_scores(pipe.model, n, data_dir)
    return result


def standard_prior_scores(model, n: int, data_dir: str | None) -> dict[str, float]:
    """FID and KID of a VAE with a fitted ``gmm`` prior when its latents are drawn from N(0, I) instead, as
    ``fid_standard_prior``/``kid_standard_prior``: what the mixture changes, on the same weights."""
    from genlab.core.registry import TASKS

    standard = copy.deepcopy(model)
    standard.prior_weights.zero_()  # an unfitted mixture: sample_latent falls back to N(0, I)
    options = {"n": n, "seed": 0} | ({"data_dir": data_dir} if data_dir else {})
    metrics = TASKS.get(model.task).evaluate(standard, ["fid", "kid"], options)["metrics"]
    return {"fid_standard_prior": metrics["fid"], "kid_standard_prior": metrics["kid"]}


def sampling_speed(model, n: int, batch: int = 100) -> float:
    """Images/s of seeded sampling in batches of ``batch``, over ``n`` images or ``SPEED_SECONDS``, whichever
    comes first (diffusion models sample slowly on a CPU)."""
    generate(model, min(batch, 8), seed=1)  # warm-up
    done, t0 = 0, time.perf_counter()
    while done < n and time.perf_counter() - t0 < SPEED_SECONDS:
        done += len(generate(model, min(batch, n - done), seed=1 + done))
    return done / (time.perf_counter() - t0)


def row(model: str, dataset: str, budget: float | None, result: dict[str, Any], extra: dict[str, Any]) -> dict:
    """One flat results row (:func:`common.stamp` adds the command and the machine)."""
    p = result.get("protocol", {})
    out = {"model": model, "dataset": dataset, "budget_minutes": budget}
    out |= {k: round(v, 5) for k, v in result["metrics"].items() if isinstance(v, float)}
    out |= {k: p.get(k) for k in ("n_generated", "n_reference", "reference", "extractor", "extractor_sha256")}
    return out | extra


def bench_dataset(dataset: str, args, runs_dir: Path) -> list[dict[str, Any]]:
    """Baselines, floor and every model at every budget on one dataset."""
    rows = []
    overrides = [f"data.data_dir={args.data_dir}"] if args.data_dir else []
    train_kw = {"runs_dir": runs_dir, "progress": False, "overrides": overrides}
    for i, name in enumerate(BASELINES if args.baselines else []):
        run_name = f"{name}-{_slug(dataset)}"
        with common.Stopwatch() as fit:
            res = genlab.train("image-generation", model=name, data=dataset, name=run_name, **train_kw)
        result = evaluate_run(res.run.path, name, args.n, args.data_dir, baselines=i == 0)
        speed = {
            "fit_seconds": round(fit.seconds, 1),
            "images_per_s_sampling": round(result["images_per_s_sampling"], 1),
        }
        rows.append(row(name, dataset, None, result, speed))
        print(_line(rows[-1]), flush=True)
        if i == 0:
            floor = {**result, "metrics": result["baselines"]["floor"]}
            rows.insert(len(rows) - 1, row("floor (train vs test)", dataset, None, floor, {}))  # floor first
            print(_line(rows[-2]), flush=True)
    for budget in args.budgets:
        for model in args.models:
            name = f"{model}-{_slug(dataset)}-{budget:g}m"
            kw = {**train_kw, "overrides": train_kw["overrides"] + MODEL_OVERRIDES.get(model, []) + args.overrides}
            res = genlab.train("image-generation", model=model, data=dataset, name=name, max_minutes=budget, **kw)
            result = evaluate_run(res.run.path, model, args.n, args.data_dir, baselines=False)
            extra = {
                **({"overrides": args.overrides} if args.overrides else {}),
                "steps": res.steps,
                "images_per_s_training": round(common.training_images_per_s(res), 1),
                "images_per_s_sampling": round(result["images_per_s_sampling"], 1),
            }
            rows.append(row(model, dataset, budget, result, extra))
            if args.publish:
                _keep_grid(res.run.path, name)
            print(_line(rows[-1]), flush=True)
    return rows


def _slug(dataset: str) -> str:
    return dataset.replace("builtin:", "").replace(":", "-")


def _keep_grid(run: Path, name: str) -> None:
    grid = run / "samples" / "final.png"
    if grid.is_file():
        target = DOC.parent / "image-generation" / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(grid, target)


def _line(r: dict[str, Any]) -> str:
    keys = ("fid", "kid", "precision", "recall", "label_accuracy", "images_per_s_training", "images_per_s_sampling")
    return f"{r['model']:22s} {r['dataset']:18s} {r['budget_minutes']!s:>6} " + " ".join(
        f"{k}={r[k]:.4g}" for k in keys if r.get(k) is not None
    )


def render(rows: list[dict[str, Any]], path: Path, generated_at: str, quick: bool, source: str) -> None:
    """Markdown tables, one per dataset, with the sample grids of the trained models."""
    cols = ["n_generated", "fid", "kid", "precision", "recall", "label_accuracy", "fid_standard_prior", "steps"]
    cols += ["images_per_s_training", "images_per_s_sampling", "torch_threads", "commit"]
    lines = [
        "# Image generation benchmark",
        "",
        f"Generated by `python -m {MODULE}` at {generated_at}"
        + (" (**--quick smoke run: tiny budgets, not a result**)" if quick else "")
        + f"; numbers from `benchmarks/results/{source}`. Protocol: n generated vs n test images,",
        "features of the shipped LeNet classifier of the dataset (see docs/evaluation.md). Lower FID/KID is better.",
        "FID depends on n (it is biased upwards at small n), so compare FIDs at equal n only; KID is unbiased.",
        "`torch_threads` 1: two benchmark jobs shared the 2-core machine, one core each. A budget is wall-clock",
        "time, so rows measured on different CPUs (`cpu` column) differ in the work their budget bought.",
    ]
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        subset = [r for r in rows if r["dataset"] == dataset]
        first = subset[0]
        lines += [
            "",
            f"## {dataset}",
            "",
            f"n generated vs n images of {first.get('reference')} (n per row), "
            f"extractor {first.get('extractor')} (sha256 {str(first.get('extractor_sha256'))[:12]}…)",
            "",
        ]
        lines += ["| model | budget (min) | " + " | ".join(cols) + " | cpu |", "|---|---|" + "---|" * (len(cols) + 1)]
        for r in subset:
            cells = [_cell(r.get(c)) for c in cols] + [_short_cpu(r.get("cpu"))]
            budget = "—" if r["budget_minutes"] is None else f"{r['budget_minutes']:g}"
            lines.append(f"| {r['model']} | {budget} | " + " | ".join(cells) + " |")
        names = sorted(f"{r['model']}-{_slug(dataset)}-{r['budget_minutes']:g}m" for r in subset if r["budget_minutes"])
        grids = [path.parent / "image-generation" / f"{n}.png" for n in names] if not quick else []
        for g in (g for g in grids if g.is_file()):
            lines += ["", f"**{g.stem}**", "", f"![{g.stem}](image-generation/{g.name})"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _short_cpu(name: str | None) -> str:
    """'Intel(R) Xeon(R) Processor' -> 'Intel Xeon'; rows from before the cpu was recorded show nothing."""
    return " ".join(w for w in (name or "").replace("(R)", "").replace("(TM)", "").split() if w != "Processor")


def _cell(v) -> str:
    return "" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)


def row_key(r: dict[str, Any]) -> tuple:
    """A row is identified by (model, dataset, budget_minutes, n_generated), so the benchmark can be run
    piecewise (``--models cgan --budgets 10``) and each run adds to or replaces its own rows only."""
    return r["model"], r["dataset"], r["budget_minutes"], r.get("n_generated")


TABLE_ORDER = {m: i for i, m in enumerate(["floor (train vs test)", *BASELINES, *MODELS])}


def table_order(r: dict[str, Any]) -> tuple:
    """Rows by dataset, then n (largest first), budget and model (floor and baselines first)."""
    return r["dataset"], -(r.get("n_generated") or 0), r["budget_minutes"] or 0, TABLE_ORDER.get(r["model"], 99)


def main(argv: list[str] | None = None) -> None:
    """Command line: train, evaluate, merge the rows into the results file and render the docs page."""
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "tiny budgets, one dataset, few samples (smoke check)")
    p.add_argument("--data-dir", default=None, help="folder with mnist/ and fashion-mnist/ (default $GENLAB_DATA_DIR)")
    p.add_argument("--models", nargs="+", default=MODELS)
    p.add_argument("--datasets", nargs="+", default=DATASETS)
    p.add_argument("--budgets", nargs="+", type=float, default=BUDGETS, help="minutes per model")
    p.add_argument("--n", type=int, default=10_000, help="generated and reference samples")
    p.add_argument("--no-baselines", dest="baselines", action="store_false", help="skip the floor, gaussian and gmm")
    p.add_argument("--render-only", action="store_true", help="re-render the docs page from the results file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override for every trained model; recorded in the rows")  # fmt: skip
    args = p.parse_args(argv)
    # the docs page and its sample grids come from full runs into benchmarks/results only
    args.publish = not args.quick and args.out_dir is None
    if args.render_only:
        out = common.results_path("image_generation", args.out_dir)
        doc = json.loads(out.read_text(encoding="utf-8"))
        page = DOC if args.publish else out.with_suffix(".md")
        render(doc["results"], page, doc["generated_at"], False, out.name)
        print(f"wrote {page}")
        return
    common.set_threads(args.threads)
    if args.quick:
        args.budgets, args.n = [0.1], 500
    datasets = available_datasets(args.datasets, args.data_dir)
    if args.quick:
        datasets = datasets[:1]
    with common.runs_folder(args.runs_dir) as runs_dir:
        rows = [r for d in datasets for r in bench_dataset(d, args, runs_dir)]
    name = "image_generation_quick" if args.quick else "image_generation"
    peak = round(common.matmul_peak_gflops(), 1)
    extra = {"quick": args.quick, "matmul_gflops": peak}
    out = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir, order=table_order, **extra)
    saved = json.loads(out.read_text(encoding="utf-8"))
    doc = DOC if args.publish else out.with_suffix(".md")
    render(saved["results"], doc, saved["generated_at"], args.quick, out.name)
    print(f"wrote {out} and {doc}")


if __name__ == "__main__":
    main()
