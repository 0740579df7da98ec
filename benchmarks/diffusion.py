"""Diffusion and flow sampling benchmark: speed per sampler and step count, label accuracy vs guidance.

    python benchmarks/diffusion.py --quick      # smoke check: tiny batch, 10 steps
    python benchmarks/diffusion.py              # untrained 28×28 models: images/s at 10/25/50/250 steps
    python benchmarks/diffusion.py --model runs/image-generation/ddpm-mnist   # + accuracy at guidance 0/1/2/4
    python benchmarks/diffusion.py --model RUN --no-speed --n 200 --threads 1 --out-name diffusion-cpu-accuracy

Speed rows time ``model.generate`` (the whole sampling loop) for a batch, best of ``--repeats``
after a warm-up; ``network_evals`` counts UNet calls (Heun makes 2 per step but the last;
guidance doubles the batch). Without ``--model`` the models are untrained with the default
config for 28×28×1 images (speed does not depend on the weights). When ``diffusers`` is
installed the peer of docs/ANCHORS, ``UNet2DModel`` with blocks (32, 64, 64) and
``DDIMScheduler``, is timed the same way in the same process, so the two are comparable
even on a busy machine.

With ``--model`` of a conditional run on 28×28 grayscale digits, the shipped MNIST digit
classifier (``genlab.image.classifier``) labels generated digits; ``label_accuracy`` is the
share classified as the label they were generated for.

Writes ``benchmarks/results/diffusion.json`` (``--quick``: ``diffusion-quick.json``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
import common  # noqa: E402

import genlab  # noqa: E402
from genlab.core.registry import MODELS  # noqa: E402
from genlab.core.runs import Run  # noqa: E402

SAMPLERS = {"image/ddpm": ["ddim", "dpm++2m", "ddpm"], "image/flow": ["euler", "heun"]}


def network_evals(sampler: str, steps: int) -> int:
    """UNet calls of one sampling run (a guided call on a doubled batch counts once)."""
    return 2 * steps - 1 if sampler == "heun" else steps


def timed(fn, repeats: int, warmup=None) -> float:
    """Best wall time of ``fn()`` over ``repeats`` runs after one warm-up (``warmup()``, default ``fn()``)."""
    (warmup or fn)()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


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

            seconds = timed(run, repeats, warmup=lambda s=sampler: run(s, 3))  # a short warm-up: same kernels
            evals = network_evals(sampler, steps)
            rows.append(
                {"model": label, "dataset": dataset, "budget_minutes": None, "command": common.command_line(),
                 "sampler": sampler, "steps": steps, "batch_size": batch, "params": params,
                 "guidance_scale": model.config.guidance_scale if model.conditional else None,
                 "network_evals": evals, "images_per_s": round(batch / seconds, 3),
                 "seconds_per_network_eval": round(seconds / evals, 4)}
            )  # fmt: skip
            print(f"{label:>12} {sampler:>8} {steps:>4} steps: {batch / seconds:8.2f} images/s", flush=True)
    return rows


def diffusers_peer_rows(steps_list: list[int], batch: int, repeats: int, device: str) -> list[dict]:
    """The ANCHORS.md peer: diffusers UNet2DModel (32, 64, 64) + DDIMScheduler, timed like ours."""
    try:
        from diffusers import DDIMScheduler, UNet2DModel
    except ImportError:
        print("diffusers not installed: no peer rows")
        return []
    torch.manual_seed(0)
    unet = UNet2DModel(
        sample_size=28, in_channels=1, out_channels=1, block_out_channels=(32, 64, 64), layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    ).to(device).eval()  # fmt: skip
    scheduler = DDIMScheduler(num_train_timesteps=1000)
    rows = []
    for steps in steps_list:

        @torch.no_grad()
        def run(k=steps):
            scheduler.set_timesteps(k)
            x = torch.randn(batch, 1, 28, 28, device=device)
            for t in scheduler.timesteps:
                x = scheduler.step(unet(x, t).sample, t, x).prev_sample
            return x

        seconds = timed(run, repeats, warmup=lambda: run(3))
        rows.append(
            {"model": "diffusers UNet2DModel (peer)", "dataset": "untrained", "budget_minutes": None,
             "command": common.command_line(), "sampler": "ddim", "steps": steps, "batch_size": batch,
             "params": sum(p.numel() for p in unet.parameters()), "network_evals": steps,
             "images_per_s": round(batch / seconds, 3), "seconds_per_network_eval": round(seconds / steps, 4)}
        )  # fmt: skip
        print(f"{'diffusers':>12} {'ddim':>8} {steps:>4} steps: {batch / seconds:8.2f} images/s", flush=True)
    return rows


def digit_classifier():
    """The shipped MNIST classifier, or None (with the reason printed) when it is not available."""
    try:
        from genlab.image.classifier import WEIGHTS_DIR, load_classifier
    except ImportError as e:
        print(f"no digit classifier in genlab.image ({e}): no accuracy rows")
        return None
    path = WEIGHTS_DIR / "mnist-lenet.safetensors"
    if not path.is_file():
        print(f"{path} not found: no accuracy rows")
        return None
    return load_classifier(path)[0]


def accuracy_rows(model, run: Path, args, guidances: list[float]) -> list[dict]:
    """label_accuracy of ``args.n`` generated digits (labels cycling 0–9) at each guidance scale."""
    c = model.config
    if not (model.conditional and c.image_size == 28 and c.channels == 1 and c.num_classes == 10):
        print("accuracy needs a conditional model of 28×28 grayscale digits (10 classes): skipped")
        return []
    classifier = digit_classifier()
    if classifier is None:
        return []
    classifier = classifier.to(model.device)
    meta = getattr(model, "pretrained_meta", {})
    status = Run(run).status() if (run / "config.yaml").is_file() else {}
    rows = []
    for scale in guidances:
        g = torch.Generator().manual_seed(args.seed)
        correct = 0
        for start in range(0, args.n, args.batch):
            labels = torch.arange(start, min(start + args.batch, args.n)) % 10
            images = model.generate(len(labels), labels=labels, generator=g, sampler=args.sampler,
                                    steps=args.steps, guidance_scale=scale)  # fmt: skip
            with torch.no_grad():
                correct += int((classifier(images).argmax(1).cpu() == labels).sum())
        accuracy = correct / args.n
        rows.append(
            {"model": model.registry_name, "dataset": meta.get("data", {}).get("source", "?"),
             "budget_minutes": status.get("minutes"), "command": common.command_line(),
             "train_steps": meta.get("steps"),
             "sampler": args.sampler, "steps": args.steps, "guidance_scale": scale, "n": args.n,
             "label_accuracy": round(accuracy, 4)}
        )  # fmt: skip
        print(f"guidance {scale}: label accuracy {accuracy:.3f} on {args.n} digits", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, help="run or model directory; default: untrained ddpm and flow (speed only)")
    p.add_argument("--quick", action="store_true", help="smoke check: batch 8, 10 steps, 1 repeat, 50 digits")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--steps-list", type=int, nargs="+", default=[10, 25, 50, 250])
    p.add_argument("--guidances", type=float, nargs="+", default=[0.0, 1.0, 2.0, 4.0])
    p.add_argument("--sampler", default="ddim", help="sampler of the accuracy rows")
    p.add_argument("--steps", type=int, default=25, help="steps of the accuracy rows")
    p.add_argument("--n", type=int, default=1000, help="digits per guidance scale")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--no-peer", action="store_true", help="skip the diffusers peer rows")
    p.add_argument("--no-speed", action="store_true", help="with --model: accuracy rows only")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (recorded in the results)")
    p.add_argument("--out-dir", type=Path, default=None, help="where to write the JSON (default benchmarks/results)")
    p.add_argument("--out-name", default="diffusion", help="results file name, without .json")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.batch, args.repeats, args.steps_list, args.n = 8, 1, [10], 50

    rows: list[dict[str, Any]] = []
    if args.model is not None:
        model = genlab.load(args.model, device=args.device).model
        dataset = model.pretrained_meta.get("data", {}).get("source", "?")
        if not args.no_speed:
            rows += speed_rows(model, model.registry_name, dataset, args.steps_list, args.batch, args.repeats)
        rows += accuracy_rows(model, args.model, args, args.guidances)
    else:
        for name in SAMPLERS:
            model = untrained(name, args.device)
            rows += speed_rows(model, name, "untrained", args.steps_list, args.batch, args.repeats)
    if not args.no_peer:
        rows += diffusers_peer_rows(args.steps_list, args.batch, args.repeats, args.device)
    path = common.write_results(
        f"{args.out_name}-quick" if args.quick else args.out_name, rows, out_dir=args.out_dir, device=args.device
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
