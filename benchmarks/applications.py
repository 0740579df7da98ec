"""Applications benchmark → ``benchmarks/results/applications.json``.

**Augmentation rows** (``--rows augmentation``): does a conditional generator's synthetic data help a classifier
trained on little real data? ``genlab benchmark-augmentation`` (:mod:`genlab.image.augment`) on MNIST: a LeNet
trained on ``k`` real images per class (a seeded draw from MNIST's 60,000 training images) alone, and with 500
generated images per class added, the same number of Adam steps in both arms, scored on MNIST's 10,000 test
images; ``k`` = 10, 50, 100, three seeds each. Two generators, two protocols:

* ``pooled`` — a cGAN trained ``--gen-minutes`` on ``builtin:mnist-5k`` (5,000 MNIST training images): the
  classifier sees ``k`` images per class, the generator saw more. This is augmentation with a generator trained
  elsewhere; it transfers that data's knowledge, which is why it can help.
* ``strict`` (``k`` = 10 only) — for each seed, a cGAN trained ``--gen-minutes`` on exactly the classifier's
  100 real images: nothing beyond them enters.

Each protocol runs without a filter and with the confidence filter (judge: the real-only classifier of the same
``k`` and seed, threshold 0.9). Rows: ``dataset``, ``real_per_class``, ``accuracy_real``, ``accuracy_augmented``
(means over seeds), ``accuracy_gain`` (points, mean of the seeds' gains), ``std`` (of the gains), plus the
protocol, filter and generator.

**Anomaly rows** (``--rows anomaly``): the one-class protocol of the GANomaly/OCGAN tables on MNIST (and
Fashion-MNIST with ``--anomaly-data``): each class in turn is normal, a detector trains on that class of the
training split (``--anomaly-minutes`` for the trained ones; patch k-NN is closed form) and is scored by AUROC on the
whole test split (that class normal, the nine others anomalous). Rows per detector and dataset: ``model``,
``dataset``, ``mean_auroc``, ``auroc_per_class``, ``seconds`` (train + score, all classes). On
``builtin:textures-defects`` (one row per detector and texture): image ``auroc``, ``pixel_auroc`` and ``pro``.

    python -m benchmarks.applications --threads 1 --runs-dir runs/bench-apps
    python -m benchmarks.applications --quick          # smoke check: tiny budgets, digits instead of MNIST
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from benchmarks import common

MODULE = "benchmarks.applications"
ANOMALY_DOC = common.ROOT / "docs" / "anomaly.md"
AUGMENTATION_DOC = common.ROOT / "docs" / "augmentation.md"


def row_key(r: dict[str, Any]) -> tuple:
    return (r["rows"], r.get("protocol"), r.get("filter"), r.get("dataset"), r.get("real_per_class"), r.get("model"),
            r.get("category"))  # fmt: skip


def anomaly_rows(args: argparse.Namespace, runs: Path, emit: Callable[[dict[str, Any]], None]) -> None:
    """One-class AUROC per class and mean for each detector; image and pixel metrics on the texture set."""
    import time

    import genlab

    classes = [0, 1] if args.quick else list(range(10))
    minutes = 0.05 if args.quick else args.anomaly_minutes
    for data in args.anomaly_data:
        for model in args.detectors:
            began, per_class = time.perf_counter(), []
            for k in classes:
                options = {"normal_class": k, "data_dir": args.data_dir} | ({"max_images": 300} if args.quick else {})
                trained = genlab.train("anomaly", model, f"builtin:{data}-oneclass", f"{model}-{data}-{k}",
                                       runs_dir=runs, max_minutes=None if model == "patch-knn" else minutes,
                                       progress=False, threads=args.threads, data_options=options)  # fmt: skip
                scored = genlab.evaluate(trained.run.path, "auroc", data_dir=args.data_dir, save=False,
                                         n=args.anomaly_eval_n)  # fmt: skip
                per_class.append(round(float(scored["metrics"]["auroc"]), 4))
                print(model, data, k, per_class[-1])
            emit({"rows": "anomaly", "model": model, "dataset": f"{data} one-class",
                         "mean_auroc": round(sum(per_class) / len(per_class), 4), "auroc_per_class": per_class,
                         "classes": classes, "train_minutes_per_class": None if model == "patch-knn" else minutes,
                         "test_images": args.anomaly_eval_n or "all",
                         "seconds": round(time.perf_counter() - began, 1)})  # fmt: skip
    for category in [] if args.quick else args.textures:
        for model in args.detectors:
            began = time.perf_counter()
            budget = None if model == "patch-knn" else minutes
            trained = genlab.train("anomaly", model, "builtin:textures-defects", f"{model}-tex-{category}",
                                   runs_dir=runs, max_minutes=budget, progress=False, threads=args.threads,
                                   data_options={"category": category})  # fmt: skip
            m = genlab.evaluate(trained.run.path, "auroc,pixel-auroc,pro", save=False)["metrics"]
            emit({"rows": "anomaly", "model": model, "dataset": "textures-defects", "category": category,
                  "auroc": m.get("auroc"), "pixel_auroc": m.get("pixel_auroc"), "pro": m.get("pro"),
                  "seconds": round(time.perf_counter() - began, 1)})  # fmt: skip


def augmentation_rows(args: argparse.Namespace, runs: Path, emit: Callable[[dict[str, Any]], None]) -> None:
    import genlab
    from genlab.image.augment import AugmentationStudyPipeline

    data = "builtin:digits" if args.quick else "mnist"
    pool = "builtin:digits" if args.quick else "builtin:mnist-5k"
    size = {"image_size": 16} if args.quick else {"image_size": 28}
    tiny = {"g_width": 8, "d_width": 8} if args.quick else {}
    minutes = 0.1 if args.quick else args.gen_minutes
    study = {"data": data, "seeds": 1 if args.quick else 3, "steps": 20 if args.quick else args.steps,
             "synthetic_per_class": 20 if args.quick else 500, "data_dir": args.data_dir}  # fmt: skip
    counts = [5] if args.quick else [10, 50, 100]
    if "pooled" in args.protocols:
        pooled = genlab.train("image-generation", "cgan", pool, "aug-cgan-pooled", runs_dir=runs,
                              max_minutes=minutes, progress=False, threads=args.threads, data_options=size,
                              model_options=tiny)  # fmt: skip
        model = genlab.load(pooled.run.path).model
        for filt in ("none", "confidence"):
            report = AugmentationStudyPipeline(model)(real_per_class=counts, filter=filt, **study).report
            for r in _rows(report, "pooled", filt, pooled):
                emit(r)
    if "strict" not in args.protocols:
        return
    k = counts[0]
    strict: dict[str, list[dict[str, Any]]] = {"none": [], "confidence": []}
    for seed in range(study["seeds"]):
        trained = _strict_generator(k, seed, data, size, tiny, minutes, args, runs)
        model = genlab.load(trained.run.path).model
        for filt in strict:
            one = AugmentationStudyPipeline(model)(
                real_per_class=[k], filter=filt, first_seed=seed, **{**study, "seeds": 1}
            )
            strict[filt] += one.report["runs"]
    for filt, runs_ in strict.items():
        emit(_summarise(runs_, data, k, "strict", filt, minutes))


def _strict_generator(k: int, seed: int, data: str, size: dict, tiny: dict, minutes: float, args, runs: Path):
    """A cGAN trained on the same k images per class the study's seed-``seed`` classifier sees."""
    import genlab
    from genlab.image.augment import balanced_draw, study_splits
    from genlab.image.io import to_pil

    x, y, *_ = study_splits(data, size["image_size"], 1, args.data_dir)  # the study's own training split
    sx, sy = balanced_draw(x, y, k, seed)
    folder = runs / f"strict-data-k{k}-s{seed}"  # named by k and seed: a re-run resumes the run trained on it
    if not folder.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=f"{folder.name}-", dir=runs))
        for i, (pic, label) in enumerate(zip(to_pil(sx), sy.tolist(), strict=True)):
            (staging / str(label)).mkdir(exist_ok=True)
            pic.save(staging / str(label) / f"{i}.png")
        staging.replace(folder)
    return genlab.train("image-generation", "cgan", str(folder), f"aug-cgan-strict-k{k}-s{seed}", runs_dir=runs,
                        max_minutes=minutes, progress=False, threads=args.threads, seed=seed,
                        data_options={**size, "channels": 1, "val_fraction": 0.0}, model_options=tiny)  # fmt: skip


def _rows(report: dict[str, Any], protocol: str, filt: str, trained: Any) -> list[dict[str, Any]]:
    return [
        {"rows": "augmentation", "protocol": protocol, "filter": filt, "generator": "cgan",
         "generator_data": report["generator_data"].get("source"), "generator_minutes": round(trained.minutes, 2),
         "generator_steps": trained.steps, **s, "classifier_steps": report["protocol"]["steps"],
         "synthetic_per_class": report["protocol"]["synthetic_per_class"], "test": report["protocol"]["test"],
         "runs": [r for r in report["runs"] if r["real_per_class"] == s["real_per_class"]]}
        for s in report["summary"]
    ]  # fmt: skip


def _summarise(runs: list[dict[str, Any]], data: str, k: int, protocol: str, filt: str, minutes: float) -> dict:
    import statistics

    real = [r["accuracy_real"] for r in runs]
    aug = [r["accuracy_augmented"] for r in runs]
    gains = [100 * (a - b) for a, b in zip(aug, real, strict=True)]
    sd = statistics.stdev if len(runs) > 1 else (lambda v: 0.0)
    return {"rows": "augmentation", "protocol": protocol, "filter": filt, "generator": "cgan",
            "generator_data": f"the same {k} real images per class", "generator_minutes": minutes,
            "dataset": data, "real_per_class": k, "accuracy_real": statistics.mean(real),
            "accuracy_real_std": sd(real), "accuracy_augmented": statistics.mean(aug),
            "accuracy_augmented_std": sd(aug), "accuracy_gain": statistics.mean(gains), "std": sd(gains),
            "seeds": len(runs), "runs": runs}  # fmt: skip


def render(path: Path) -> None:
    """Rewrite the measured tables of docs/anomaly.md and docs/augmentation.md from the results file ``path``."""
    import json

    doc = json.loads(path.read_text(encoding="utf-8"))
    rows, commits = doc["results"], sorted({str(r.get("commit")) for r in doc["results"]})
    oneclass = [r for r in rows if r["rows"] == "anomaly" and "auroc_per_class" in r]
    classes = " | ".join(str(k) for k in range(10))
    lines = [f"| detector | data | mean AUROC | {classes} | train / class | test images | seconds |",
             "|---|---|---|" + "---|" * 13]  # fmt: skip
    for r in sorted(oneclass, key=lambda r: (r["dataset"] != "mnist one-class", r["dataset"], -r["mean_auroc"])):
        best = max(x["mean_auroc"] for x in oneclass if x["dataset"] == r["dataset"])
        mean = f"**{r['mean_auroc']:.3f}**" if r["mean_auroc"] == best else f"{r['mean_auroc']:.3f}"
        budget = "closed form" if r["train_minutes_per_class"] is None else f"{r['train_minutes_per_class']:g} min"
        per_class = " | ".join(f"{a:.3f}" for a in r["auroc_per_class"])
        tested = r.get("test_images", "all")
        name = f"`{r['model']}` | {r['dataset']}"
        lines.append(f"| {name} | {mean} | {per_class} | {budget} | {tested} | {r['seconds']:.0f} |")
    texture = [r for r in rows if r["rows"] == "anomaly" and r.get("category")]
    lines += ["", "| detector | texture | image AUROC | pixel AUROC | PRO | seconds |", "|---|---|---|---|---|---|"]
    for r in sorted(texture, key=lambda r: (r["category"], r["model"])):
        lines.append(f"| `{r['model']}` | {r['category']} | {r['auroc']:.3f} | {r['pixel_auroc']:.3f} | "
                     f"{r['pro']:.3f} | {r['seconds']:.0f} |")  # fmt: skip
    lines += ["", f"Rows of `benchmarks/results/{path.name}` (commits {', '.join(commits)})."]
    if oneclass or texture:
        common.replace_between(ANOMALY_DOC, "<!-- anomaly-table:start -->", "<!-- anomaly-table:end -->", lines)
    augmentation = [r for r in rows if r["rows"] == "augmentation"]
    lines = ["| protocol | filter | real / class | real only | real + synthetic | gain (points) | seeds |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    order = {"pooled": 0, "strict": 1}
    filters = {"none": 0, "confidence": 1}
    for r in sorted(augmentation, key=lambda r: (order.get(r["protocol"], 2), filters.get(r["filter"], 2),
                                                 r["real_per_class"])):  # fmt: skip
        seeds = r.get("seeds") or len(r.get("runs", []))
        lines.append(f"| {r['protocol']} | {r['filter']} | {r['real_per_class']} | "
                     f"{100 * r['accuracy_real']:.1f} ± {100 * r.get('accuracy_real_std', 0):.1f} | "
                     f"{100 * r['accuracy_augmented']:.1f} ± {100 * r.get('accuracy_augmented_std', 0):.1f} | "
                     f"{r['accuracy_gain']:+.2f} ± {r['std']:.2f} | {seeds} |")  # fmt: skip
    if augmentation:
        lines += ["", f"Rows of `benchmarks/results/{path.name}` (commits {', '.join(commits)})."]
        common.replace_between(AUGMENTATION_DOC, "<!-- augmentation-table:start -->",
                               "<!-- augmentation-table:end -->", lines)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "tiny budgets on builtin:digits: a smoke check, not a result")
    p.add_argument("--rows", nargs="+", default=["augmentation", "anomaly"], choices=["augmentation", "anomaly"])
    p.add_argument("--detectors", nargs="+", default=["patch-knn", "vae"],
                   choices=["patch-knn", "vae", "f-anogan", "ddpm-recon"])  # fmt: skip
    p.add_argument("--anomaly-data", nargs="+", default=["mnist"], choices=["mnist", "fashion-mnist"])
    p.add_argument("--textures", nargs="*", default=["brick", "grass", "gravel"], help="texture categories")
    p.add_argument("--anomaly-minutes", type=float, default=1.0, help="training budget per class of each detector")
    p.add_argument(
        "--anomaly-eval-n",
        type=int,
        default=None,
        help="score a seeded subset of this many test images per class (default: the whole test split)",
    )
    p.add_argument("--gen-minutes", type=float, default=10.0, help="training budget of each generator")
    p.add_argument("--steps", type=int, default=600, help="classifier Adam steps in each arm")
    p.add_argument("--protocols", nargs="+", default=["pooled", "strict"], choices=["pooled", "strict"],
                   help="augmentation protocols to run")  # fmt: skip
    p.add_argument("--data-dir", default=None, help="folder of standard datasets (MNIST IDX files)")
    p.add_argument("--render-only", action="store_true", help="re-render the docs tables from the results file")
    args = p.parse_args(argv)
    if args.render_only:
        render(common.results_path("applications", args.out_dir))
        return
    common.set_threads(args.threads)
    commit = common.git_commit()
    name = "applications-quick" if args.quick else "applications"

    def emit(row: dict[str, Any]) -> None:
        """Stamp ``row`` and save it at once: an interrupted run keeps every row it finished."""
        row |= {"threads": torch.get_num_threads(), "load_average": common.load_average(), "commit": commit}
        print(row)
        print(f"wrote {common.save_rows(name, [row], MODULE, argv, row_key, args.out_dir)}")

    with common.runs_folder(args.runs_dir) as runs:
        if "augmentation" in args.rows:
            augmentation_rows(args, runs, emit)
        if "anomaly" in args.rows:
            anomaly_rows(args, runs, emit)
    if not args.quick and args.out_dir is None:
        render(common.results_path(name))


if __name__ == "__main__":
    main()
