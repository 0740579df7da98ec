"""Diffusion and flow sampling benchmark: speed and quality per sampler and step count, accuracy vs guidance.

    python -m benchmarks.diffusion --quick      # smoke check: tiny batch, 10 steps
    python -m benchmarks.diffusion              # untrained 28×28 models: images/s at 10/25/50/250 steps
    python -m benchmarks.diffusion --model runs/image-generation/ddpm-mnist   # + accuracy at guidance 0/1/2/4
    python -m benchmarks.diffusion --model RUN --no-speed --n 200 --threads 1 --out-name diffusion-cpu-accuracy
    python -m benchmarks.diffusion --model RUN --no-speed --no-accuracy --no-peer --n 500 \
        --quality ddim:10 ddim:25 dpm++2m:10 --data-dir DATA      # FID/KID vs steps on one trained model
    python -m benchmarks.diffusion --model RUN --no-speed --no-accuracy --no-peer --tune-guidance --n 1000 \
        --data-dir DATA --threads 1 --out-name diffusion-cpu-guidance-tuning   # sampling defaults chosen on validation

Speed rows time ``model.generate`` (the whole sampling loop) for a batch, best of ``--repeats``
after a warm-up; ``network_evals`` counts UNet calls (Heun makes 2 per step but the last;
guidance doubles the batch). Without ``--model`` the models are untrained with the default
config for 28×28×1 images (speed does not depend on the weights). When ``diffusers`` is
installed the peer of docs/ANCHORS, ``UNet2DModel`` with blocks (32, 64, 64) and
``DDIMScheduler``, is timed the same way in the same process, so the two are comparable
even on a busy machine.

With ``--model`` of a conditional run on 28×28 grayscale MNIST or Fashion-MNIST images, the
shipped classifier of that dataset (``genlab.image.extractors``) labels the generated images;
``label_accuracy`` is the share classified as the label they were generated for.

``--quality SAMPLER:STEPS ...`` scores ``--n`` samples of the trained model at each point with
the protocol of ``benchmarks.image_generation`` (test split as reference, the dataset's
LeNet features): FID, KID, precision, recall, label accuracy and sampling images/s, so steps
can be weighed against quality on the same weights and the same starting noise;
``--quality-guidance 1 1.5 2`` scores every point at each guidance scale.

``--tune-guidance`` runs the sweep of ``genlab tune-guidance`` (:mod:`genlab.image.diffusion.tuning`:
validation split, ``--tune-n`` images per candidate, ``--tune-minutes``) on a copy of the run and then
scores the defaults and the choice on the test split with the ``--quality`` protocol (``--n`` images):
rows with ``reference`` "validation split" are the sweep, ``role`` tells default, chosen and the rest.

The scores come from :mod:`genlab.image.evaluation` (``generate``, ``sample_metrics``,
``label_accuracy``): ``genlab.evaluate`` takes no sampler, step count or guidance scale.

Writes ``benchmarks/results/diffusion.json`` (``--quick``: ``diffusion-quick.json``); a row
replaces the earlier one of the same model, sampler, steps, guidance and size.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import torch

import genlab
from benchmarks import common
from genlab.core.registry import MODELS

MODULE = "benchmarks.diffusion"

SAMPLERS = {"image/ddpm": ["ddim", "dpm++2m", "ddpm"], "image/flow": ["euler", "heun"]}


def network_evals(sampler: str, steps: int) -> int:
    """UNet calls of one sampling run (a guided call on a doubled batch counts once)."""
    return 2 * steps - 1 if sampler == "heun" else steps


def untrained(name: str, device: str):
    cls = MODELS.get(name)
    return cls(cls.config_class.build({"image_size": 28, "channels": 1})).to(device).eval()


def speed_rows(model, label: str, dataset: str, steps_list: list[int], batch: int, repeats: int) -> list[dict]:
    """images/s of every sampler of the model's family at each step count."""
    rows = []
    params = sum(p.numel() for p in model.parameters())
    for sampler in SAMPLERS[model.registry_name]:
        for steps in steps_list:

            def run(s=sampler, k=steps, b=batch):
                return model.generate(b, generator=torch.Generator().manual_seed(0), sampler=s, steps=k)

            # a short warm-up runs the same kernels
            seconds = common.best_time(run, repeats, warmup=lambda s=sampler: run(s, 3))
            evals = network_evals(sampler, steps)
            rows.append(
                {"model": label, "dataset": dataset, "budget_minutes": None,
                 "sampler": sampler, "steps": steps, "batch_size": batch, "params": params,
                 "guidance_scale": model.config.guidance_scale if model.conditional else None,
                 "network_evals": evals, "images_per_s": round(batch / seconds, 3),
                 "seconds_per_network_eval": round(seconds / evals, 4)}
            )  # fmt: skip
            print(f"{label:>12} {sampler:>8} {steps:>4} steps: {batch / seconds:8.2f} images/s", flush=True)
    return rows


def diffusers_peer_rows(steps_list: list[int], batch: int, repeats: int, device: str) -> list[dict]:
    """The ANCHORS.md peer: diffusers UNet2DModel (32, 64, 64) + DDIMScheduler, timed like ours."""
    from benchmarks.peers import diffusers_ddim

    try:
        unet, scheduler = diffusers_ddim.build(device)
    except ImportError:
        print("diffusers not installed: no peer rows")
        return []
    rows = []
    for steps in steps_list:

        def run(k=steps):
            return diffusers_ddim.sample(unet, scheduler, batch, k)

        seconds = common.best_time(run, repeats, warmup=lambda: run(3))
        rows.append(
            {"model": "diffusers UNet2DModel (peer)", "dataset": "untrained", "budget_minutes": None,
             "sampler": "ddim", "steps": steps, "batch_size": batch,
             "params": sum(p.numel() for p in unet.parameters()), "network_evals": steps,
             "images_per_s": round(batch / seconds, 3), "seconds_per_network_eval": round(seconds / steps, 4)}
        )  # fmt: skip
        print(f"{'diffusers':>12} {'ddim':>8} {steps:>4} steps: {batch / seconds:8.2f} images/s", flush=True)
    return rows


def run_budget(run: Path) -> float | None:
    """``train.max_minutes`` of a training run (None for a bare model folder or a step-limited run)."""
    return common.run_config(run)["train"].get("max_minutes") if (run / "config.yaml").is_file() else None


def accuracy_rows(model, run: Path, args, guidances: list[float]) -> list[dict]:
    """label_accuracy of ``args.n`` generated images (labels cycling 0–9) at each guidance scale.

    The images are scored by the shipped classifier of the run's data (``default_extractor``).
    """
    from genlab.image.evaluation import generate, label_accuracy
    from genlab.image.extractors import default_extractor, get_extractor

    c = model.config
    if not (model.conditional and c.image_size == 28 and c.channels == 1 and c.num_classes == 10):
        print("accuracy needs a conditional model of 28×28 grayscale images (10 classes): skipped")
        return []
    provenance = model.provenance
    dataset = provenance.data.get("source", "mnist")
    extractor = get_extractor(default_extractor(dataset, c.image_size, c.channels))
    budget = run_budget(run)
    rows = []
    for scale in guidances:
        options = {"sampler": args.sampler, "steps": args.steps, "guidance_scale": scale}
        images = generate(model, args.n, args.seed, args.batch, **options)
        accuracy = label_accuracy(model, args.n, extractor, {}, args.seed, images=images)
        rows.append(
            {"model": model.registry_name, "dataset": dataset, "budget_minutes": budget,
             "train_steps": provenance.steps,
             "sampler": args.sampler, "steps": args.steps, "guidance_scale": scale, "n": args.n,
             "label_accuracy": round(accuracy, 4)}
        )  # fmt: skip
        print(f"guidance {scale}: label accuracy {accuracy:.3f} on {args.n} {dataset} images", flush=True)
    return rows


QUALITY_METRICS = ["fid", "kid", "precision", "recall"]


def parse_sampler_steps(spec: str) -> tuple[str, int]:
    """``"ddim:25"`` → ("ddim", 25)."""
    sampler, _, steps = spec.partition(":")
    if not steps.isdigit() or int(steps) < 1:
        raise SystemExit(f"--quality takes SAMPLER:STEPS (e.g. ddim:25), got {spec!r}")
    return sampler, int(steps)


def quality_rows(model, run: Path, args) -> list[dict]:
    """FID, KID, precision, recall (and label accuracy) of ``args.n`` samples per SAMPLER:STEPS.

    The protocol of ``benchmarks.image_generation``: ``args.n`` test images of the training
    data as reference, the dataset's LeNet features. Every point starts from the same noise
    (same seed) and labels cycle through the classes, so points differ only by sampler and steps.
    """
    from genlab.image.evaluation import generate, label_accuracy, resolve_reference, sample_metrics
    from genlab.image.extractors import default_extractor, get_extractor

    cfg, provenance = model.config, model.provenance
    ref = resolve_reference(model, None, cfg.image_size, cfg.channels, args.n, args.data_dir, args.seed)
    extractor = get_extractor(default_extractor(ref.source, cfg.image_size, cfg.channels))
    guidances = (args.quality_guidance or [None]) if model.conditional else [None]
    budget = run_budget(run)
    rows = []
    for guidance, spec in itertools.product(guidances, args.quality):
        sampler, steps = parse_sampler_steps(spec)
        with common.Stopwatch() as sampling:
            fake = generate(model, args.n, args.seed, sampler=sampler, steps=steps, guidance_scale=guidance)
        seconds = sampling.seconds
        values = sample_metrics(ref.images, fake, QUALITY_METRICS, extractor, args.seed)
        if model.conditional and extractor.num_classes == cfg.num_classes:
            values["label_accuracy"] = label_accuracy(model, args.n, extractor, {}, args.seed, images=fake)
        rows.append(
            {"model": model.registry_name, "dataset": provenance.data.get("source", "?"),
             "budget_minutes": budget, "train_steps": provenance.steps,
             "sampler": sampler, "steps": steps, "network_evals": network_evals(sampler, steps),
             "guidance_scale": guidance if guidance is not None else cfg.guidance_scale if model.conditional else None,
             "n": args.n, "reference": ref.source, "extractor": extractor.name,
             **{k: round(v, 4) for k, v in values.items()}, "images_per_s": round(args.n / seconds, 3)}
        )  # fmt: skip
        shown = " ".join(f"{k}={v:.4g}" for k, v in values.items() if not k.endswith("_std"))
        scale = "" if guidance is None else f", guidance {guidance:g}"
        print(f"{sampler:>8} {steps:>4} steps{scale}: {shown} ({args.n / seconds:.2f} images/s)", flush=True)
    return rows


def tuning_rows(run: Path, args) -> list[dict]:
    """``--tune-guidance``: the sweep of ``genlab tune-guidance`` (validation split, ``--tune-n`` images per
    candidate, ``--tune-minutes``) on a copy of the run, then the defaults and the choice scored on the test split
    (``--n`` images, the ``--quality`` protocol) to see whether the choice carries over to held-out data."""
    import shutil
    import tempfile

    from genlab.core.runs import resolve_model_dir
    from genlab.image.diffusion.tuning import GuidanceSweep, tune_run

    model_dir = resolve_model_dir(run)
    model = genlab.load(model_dir, device=args.device).model
    cfg, provenance = model.config, model.provenance
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / model_dir.parent.name
        copy.mkdir()
        shutil.copy2(model_dir.parent / "config.yaml", copy / "config.yaml")
        shutil.copytree(model_dir, copy / "model")
        options = GuidanceSweep(n=args.tune_n, max_minutes=args.tune_minutes, seed=args.seed)
        record = tune_run(copy, options, data_dir=args.data_dir)
    common_fields = {"model": model.registry_name, "dataset": provenance.data.get("source", "?"),
                     "budget_minutes": run_budget(run), "train_steps": provenance.steps,
                     "sampler": cfg.sampler}  # fmt: skip
    rows = []
    for r in record["candidates"]:
        role = "default" if r == record["default"] else "chosen" if r == record["chosen"] else "candidate"
        if r == record["default"] == record["chosen"]:
            role = "default = chosen"
        rows.append({**common_fields, "steps": r["steps"], "guidance_scale": r["guidance"], "n": record["n"],
                     "reference": "validation split", "extractor": record["extractor"], "fid": r["fid"],
                     "kid": r["kid"], "role": role, "sweep_seconds": r["seconds"],
                     "sweep_minutes": record["minutes"]})  # fmt: skip
    rows += [{**common_fields, "steps": s["steps"], "guidance_scale": s["guidance"], "n": record["n"],
              "reference": "validation split", "role": "skipped for time"} for s in record["skipped"]]  # fmt: skip
    default, chosen = record["default"], record["chosen"]
    scored = (("default", default), ("chosen", chosen)) if chosen != default else (("default = chosen", chosen),)
    for role, r in scored:
        scale = [r["guidance"]] if r["guidance"] is not None else None
        test = argparse.Namespace(
            **{**vars(args), "quality": [f"{cfg.sampler}:{r['steps']}"], "quality_guidance": scale}
        )
        rows += [{**q, "role": role} for q in quality_rows(model, run, test)]
    return rows


def row_key(r: dict[str, Any]) -> tuple:
    """What a row measured: the model (and its training), the sampler settings, the sample size and reference."""
    fields = ("model", "dataset", "budget_minutes", "train_steps", "sampler", "steps", "guidance_scale")
    return tuple(r.get(k) for k in (*fields, "batch_size", "n", "reference"))


def main(argv: list[str] | None = None) -> None:
    """Command line: the chosen speed, accuracy and quality rows, merged into the results file."""
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n")[0])
    common.add_common_arguments(p, "smoke check: batch 8, 10 steps, 1 repeat, 50 digits", runs=False)
    p.add_argument("--model", type=Path, help="run or model directory; default: untrained ddpm and flow (speed only)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--steps-list", type=int, nargs="+", default=[10, 25, 50, 250])
    p.add_argument("--guidances", type=float, nargs="+", default=[0.0, 1.0, 2.0, 4.0])
    p.add_argument("--sampler", default="ddim", help="sampler of the accuracy rows")
    p.add_argument("--steps", type=int, default=25, help="steps of the accuracy rows")
    p.add_argument("--n", type=int, default=1000, help="digits per guidance scale")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--quality",
        nargs="+",
        default=[],
        metavar="SAMPLER:STEPS",
        help="with --model: FID/KID/precision/recall of --n samples at each point, e.g. ddim:10 ddim:25",
    )
    p.add_argument(
        "--quality-guidance",
        type=float,
        nargs="+",
        default=None,
        help="guidance scale(s) of --quality; every point is scored at each (default: the model's)",
    )
    p.add_argument("--tune-guidance", action="store_true",
                   help="with --model: the validation sweep of `genlab tune-guidance` (on a copy of the run), then "
                   "its defaults and its choice on the test split (--n images)")  # fmt: skip
    p.add_argument("--tune-n", type=int, default=300, help="images per candidate of --tune-guidance")
    p.add_argument("--tune-minutes", type=float, default=10.0, help="time bound of the --tune-guidance sweep")
    p.add_argument("--no-accuracy", action="store_true", help="with --model: skip the accuracy-vs-guidance rows")
    p.add_argument("--data-dir", default=None, help="folder of the reference datasets (for --quality)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--no-peer", action="store_true", help="skip the diffusers peer rows")
    p.add_argument("--no-speed", action="store_true", help="with --model: accuracy rows only")
    p.add_argument("--out-name", default="diffusion", help="results file name, without .json")
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    if args.quick:
        args.batch, args.repeats, args.steps_list, args.n = 8, 1, [10], 50

    rows: list[dict[str, Any]] = []
    if args.model is not None:
        model = genlab.load(args.model, device=args.device).model
        dataset = model.provenance.data.get("source", "?")
        if not args.no_speed:
            rows += speed_rows(model, model.registry_name, dataset, args.steps_list, args.batch, args.repeats)
        if not args.no_accuracy:
            rows += accuracy_rows(model, args.model, args, args.guidances)
        if args.quality:
            rows += quality_rows(model, args.model, args)
        if args.tune_guidance:
            rows += tuning_rows(args.model, args)
    else:
        for name in SAMPLERS:
            model = untrained(name, args.device)
            rows += speed_rows(model, name, "untrained", args.steps_list, args.batch, args.repeats)
    if not args.no_peer:
        rows += diffusers_peer_rows(args.steps_list, args.batch, args.repeats, args.device)
    name = f"{args.out_name}-quick" if args.quick else args.out_name
    path = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir, device=args.device)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
