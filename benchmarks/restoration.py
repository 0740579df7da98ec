"""Restoration benchmark: super-resolution on Set5 and Gaussian denoising on held-out photos.

    python -m benchmarks.restoration --quick                               # smoke check, tiny budgets
    python -m benchmarks.restoration --part sr --models espcn --scales 3 --budget 60
    python -m benchmarks.restoration --part denoise --models dncnn --sigmas 25 --budget 90 --threads 1

Super-resolution: each model trains with ``genlab train super-resolution`` for ``--budget`` CPU
minutes on the luma of ``denoise-train`` (Train400: 400 grayscale 180×180 photos; the DnCNN training
set, not Set5), then ``genlab.evaluate`` scores it on Set5 with the papers' protocol: HR cropped to a
multiple of the scale, bicubic (antialiased) downscaling, Y channel, ``scale`` border pixels cropped
(``psnr_y``, ``ssim_y``). ``psnr_rgb`` upscales the colour photos through the pipeline (the model on
Y, bicubic on Cb/Cr). The bicubic baseline is scored the same way.

Denoising: ``denoise-train`` is split by name — every 10th photo is held out (40 photos, never
trained on), the other 360 train. Each model trains for ``--budget`` minutes at each σ and is scored on
the held-out photos with seeded noise; the noisy input, scikit-image's NL-means (σ known) and, when
the ``bm3d`` package is installed, BM3D are scored on the same noisy photos (grayscale ``psnr``, ``ssim``). ``bm3d`` is
licensed for non-commercial use only: it is never a dependency of genlab, only an optional baseline here.

``megapixels_per_s`` is output megapixels per second of restoring one 512×512 input (best of 3), at
the run's thread count. Writes ``benchmarks/results/restoration.json`` (``--quick``:
``restoration-quick.json``); a row replaces the earlier one of the same model, dataset, scale, σ and budget.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import genlab
from benchmarks import common

MODULE = "benchmarks.restoration"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

#: Published Set5 Y-PSNR (dB): bicubic and ESPCN from Shi et al. 2016 (table 2, ImageNet training),
#: SRResNet from Ledig et al. 2017 (table 2, ×4)
PUBLISHED_SR = {
    "bicubic": {2: 33.66, 3: 30.39, 4: 28.42},
    "espcn": {3: 33.13},
    "srresnet": {4: 32.05},
}
#: Published BSD68 grayscale PSNR (dB), Zhang et al. 2017 (table 2): BM3D and DnCNN-S
PUBLISHED_DENOISE = {"bm3d": {15: 31.07, 25: 28.57, 50: 25.62}, "dncnn": {15: 31.73, 25: 29.23, 50: 26.23}}


def row_key(r: dict[str, Any]) -> tuple:
    return r["model"], r["dataset"], r.get("scale"), r.get("sigma"), r.get("budget_minutes"), str(r.get("overrides"))


def megapixels_per_s(restore, channels: int, scale: int = 1, size: int = 512) -> float:
    """Output megapixels per second of ``restore`` on one ``size``² input, best of 3 after a warm-up."""
    x = torch.rand(1, channels, size, size)
    seconds = common.best_time(lambda: restore(x), repeats=3, warmup=lambda: restore(x))
    return round((size * scale) ** 2 / 1e6 / seconds, 3)


def held_out_split(folder: Path, work: Path) -> tuple[Path, Path]:
    """(train, test) folders of links: every 10th photo by name is held out."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png")
    train, test = work / "train", work / "test"
    for d in (train, test):
        d.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(files):
        (test if i % 10 == 9 else train).joinpath(f.name).symlink_to(f.resolve())
    return train, test


def train(task: str, model: str, data: Path, name: str, args, runs_dir: Path, overrides: list[str]):
    with common.Stopwatch() as clock:
        res = genlab.train(
            task, model=model, data=str(data), name=name, runs_dir=runs_dir, max_minutes=args.budget,
            max_steps=args.max_steps, progress=False, overrides=overrides,
        )  # fmt: skip
    return res, round(clock.seconds / 60, 2)


# --------------------------------------------------------------------------- super-resolution


def rgb_psnr(pipe, set5: Path, scale: int) -> float:
    """Mean RGB PSNR (border ``scale`` cropped) of the pipeline's upscaling of Set5's bicubic LR photos."""
    from genlab.image.restoration.data import read_photo
    from genlab.image.restoration.degrade import downscale, modcrop, quantize
    from genlab.image.restoration.quality import psnr

    values = []
    for f in sorted(set5.glob("*.png")):
        hr = modcrop(read_photo(f, "rgb"), scale)
        out = quantize(pipe(downscale(hr, scale), tile=256).image)
        values.append(float(psnr(out, hr, crop_border=scale)))
    return round(sum(values) / len(values), 3)


def sr_rows(args, runs_dir: Path) -> list[dict[str, Any]]:
    set5, data = SHARED / "sr" / "set5", SHARED / "denoise-train"
    rows = []
    for scale in args.scales:
        baseline_done = False
        for model in args.models:
            name = f"{model}-x{scale}-{args.budget:g}m"
            overrides = [f"data.scale={scale}"] + (
                ["data.patches_per_epoch=64", "data.val_patches=4"] if args.quick else []
            )
            res, minutes = train("super-resolution", model, data, name, args, runs_dir, overrides + args.overrides)
            result = genlab.evaluate(res.run.path, ref=str(set5), crop_border=scale, y_channel=True)
            pipe = genlab.load(res.run.path)
            m = pipe.model
            common_fields = {"dataset": "set5", "scale": scale, "train_data": "denoise-train (Train400), luma"}
            rows.append({
                "model": model, **common_fields, "budget_minutes": args.budget, "train_minutes": minutes,
                "steps": res.steps, "psnr_y": result["metrics"]["psnr"], "ssim_y": result["metrics"]["ssim"],
                "psnr_rgb": rgb_psnr(pipe, set5, scale),
                "megapixels_per_s": megapixels_per_s(lambda x, m=m: m.restore(x, tile=None), 1, scale),
                "published_psnr_y": PUBLISHED_SR.get(model, {}).get(scale),
            })  # fmt: skip
            if not baseline_done:
                b = result["baselines"]["bicubic"]
                from genlab.image.restoration.degrade import bicubic_resize

                up = lambda x, s=scale: bicubic_resize(x, (x.shape[-2] * s, x.shape[-1] * s))  # noqa: E731
                rows.append({
                    "model": "bicubic", **common_fields, "budget_minutes": None, "train_minutes": 0,
                    "psnr_y": b["psnr"], "ssim_y": b["ssim"], "megapixels_per_s": megapixels_per_s(up, 1, scale),
                    "published_psnr_y": PUBLISHED_SR["bicubic"].get(scale),
                })  # fmt: skip
                baseline_done = True
            print(f"×{scale} {model}: Y-PSNR {rows[-2 if len(rows) > 1 else -1]['psnr_y']}", flush=True)
    return rows


# --------------------------------------------------------------------------- denoising


def nl_means(noisy: torch.Tensor, sigma: float) -> torch.Tensor:
    """scikit-image's non-local means with the true σ (h = 0.8 σ, 5×5 patches, 13×13 search: its docs' example)."""
    from skimage.restoration import denoise_nl_means

    s = sigma / 255
    img = noisy[0].double().numpy()
    out = denoise_nl_means(img, h=0.8 * s, sigma=s, patch_size=5, patch_distance=6, fast_mode=True)
    return torch.from_numpy(out).float().unsqueeze(0)


def bm3d_or_none():
    try:
        import bm3d  # noqa: F401  (optional, non-commercial licence: a benchmark baseline only)
    except ImportError:
        return None

    def run(noisy: torch.Tensor, sigma: float) -> torch.Tensor:
        import bm3d

        return torch.from_numpy(bm3d.bm3d(noisy[0].double().numpy(), sigma_psd=sigma / 255)).float().unsqueeze(0)

    return run


def classical_rows(ctx, sigma: float, budget_fields: dict) -> list[dict[str, Any]]:
    """NL-means (and BM3D when installed) on the evaluation's own noisy photos."""
    from genlab.image.restoration.degrade import quantize
    from genlab.image.restoration.quality import psnr, ssim

    rows = []
    methods = {"nl-means": nl_means, "bm3d": bm3d_or_none()}
    for name, fn in methods.items():
        if fn is None:
            print("bm3d not installed (pip install bm3d; non-commercial licence): no BM3D row")
            continue
        start = time.perf_counter()
        outs = [quantize(fn(x, sigma)) for x in ctx.reference.inputs]
        seconds = time.perf_counter() - start
        pixels = sum(x.shape[-1] * x.shape[-2] for x in ctx.reference.inputs)
        p = [float(psnr(o, c)) for o, c in zip(outs, ctx.reference.clean, strict=True)]
        s = [float(ssim(o, c)) for o, c in zip(outs, ctx.reference.clean, strict=True)]
        rows.append({
            "model": name, **budget_fields, "train_minutes": 0, "psnr": round(sum(p) / len(p), 4),
            "ssim": round(sum(s) / len(s), 4), "megapixels_per_s": round(pixels / 1e6 / seconds, 3),
            "published_psnr_bsd68": PUBLISHED_DENOISE.get(name, {}).get(int(sigma)),
        })  # fmt: skip
    return rows


def denoise_rows(args, runs_dir: Path, work: Path) -> list[dict[str, Any]]:
    from genlab.core.registry import TASKS

    train_dir, test_dir = held_out_split(SHARED / "denoise-train", work)
    rows = []
    for sigma in args.sigmas:
        fields = {"dataset": "denoise-train held-out (40 photos, every 10th)", "sigma": sigma, "color": "gray"}
        for i, model in enumerate(args.models):
            name = f"{model}-s{sigma:g}-{args.budget:g}m"
            overrides = [f"data.sigma={sigma}", "data.val_fraction=0.05"]
            if args.quick:
                overrides += ["data.patches_per_epoch=64", "data.val_patches=4", "model.depth=5", "model.width=16"]
            res, minutes = train("denoising", model, train_dir, name, args, runs_dir, overrides + args.overrides)
            limit = 4 if args.quick else None
            result = genlab.evaluate(res.run.path, ref=str(test_dir), sigma=sigma, n=limit)
            m = genlab.load(res.run.path).model
            rows.append({
                "model": model, **fields, "budget_minutes": args.budget, "train_minutes": minutes, "steps": res.steps,
                "psnr": result["metrics"]["psnr"], "ssim": result["metrics"]["ssim"],
                "megapixels_per_s": megapixels_per_s(lambda x, m=m: m.restore(x, tile=None), 1),
                "published_psnr_bsd68": PUBLISHED_DENOISE.get(model, {}).get(int(sigma)),
            })  # fmt: skip
            print(f"σ={sigma:g} {model}: PSNR {rows[-1]['psnr']}", flush=True)
            if i == 0:  # the baselines, on exactly the photos and noise the model was scored on
                b = result["baselines"]["noisy_input"]
                rows.append({"model": "noisy-input", **fields, "psnr": b["psnr"], "ssim": b["ssim"]})
                task = TASKS.get("denoising")
                request = task.eval_request_class.build({"ref": str(test_dir), "sigma": sigma, "n": limit})
                rows += classical_rows(task.eval_context(m, request), sigma, fields | {"budget_minutes": None})
    return rows


# --------------------------------------------------------------------------- inpainting


def inpaint_rows(args, runs_dir: Path, work: Path) -> list[dict[str, Any]]:
    """Inpainters trained on the 360 training photos of ``denoise-train``, scored on the 40 held-out ones
    (grayscale, seeded mixed box/stroke holes) against scikit-image's biharmonic fill."""
    train_dir, test_dir = work / "train", work / "test"
    if not train_dir.is_dir():
        train_dir, test_dir = held_out_split(SHARED / "denoise-train", work)
    fields = {"dataset": "denoise-train held-out (40 photos, every 10th)", "color": "gray", "mask_kind": "mixed"}
    rows = []
    for i, model in enumerate(args.models):
        overrides = ["data.color=gray", "data.val_fraction=0.05"]
        if args.quick:
            overrides += ["data.patches_per_epoch=64", "data.val_patches=4", "model.width=8", "model.levels=2"]
        res, minutes = train("inpainting", model, train_dir, f"{model}-{args.budget:g}m", args, runs_dir,
                             overrides + args.overrides)  # fmt: skip
        result = genlab.evaluate(res.run.path, ref=str(test_dir), mask_kind="mixed", n=4 if args.quick else None)
        m = genlab.load(res.run.path).model
        hole = torch.zeros(1, 1, 512, 512)
        hole[..., 200:300, 200:300] = 1  # a 100-pixel box in the middle of the 512² input
        speed = megapixels_per_s(lambda x, m=m, hole=hole: m.restore(x, hole, tile=None), 1)
        rows.append({
            "model": model, **fields, "budget_minutes": args.budget, "train_minutes": minutes, "steps": res.steps,
            "psnr_hole": result["metrics"]["psnr_hole"], "ssim_whole": result["metrics"]["ssim_whole"],
            "megapixels_per_s": speed,
        })  # fmt: skip
        print(f"inpainting {model}: hole PSNR {rows[-1]['psnr_hole']}", flush=True)
        if i == 0:
            b = result["baselines"]["biharmonic"]
            rows.append({"model": "biharmonic", **fields, "budget_minutes": None, "train_minutes": 0,
                         "psnr_hole": b["psnr_hole"], "ssim_whole": b["ssim_whole"]})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "tiny budgets and data: a smoke check, not a result")
    p.add_argument("--part", choices=("sr", "denoise", "inpaint", "all"), default="all")
    p.add_argument("--models", nargs="+", default=None, help="models (default: espcn for sr, dncnn for denoise)")
    p.add_argument("--scales", nargs="+", type=int, default=[3], help="super-resolution scales")
    p.add_argument("--sigmas", nargs="+", type=float, default=[25.0], help="denoising noise levels (0–255)")
    p.add_argument("--budget", type=float, default=60.0, help="training minutes per model")
    p.add_argument("--max-steps", type=int, default=None, help="also stop after this many updates (the horizon of "
                   "a cosine schedule: --set model.schedule=cosine)")  # fmt: skip
    p.add_argument("--set", dest="overrides", action="append", default=[], help="config override for every run, "
                   "e.g. model.depth=10 (recorded in the rows)")  # fmt: skip
    args = p.parse_args(argv)
    if not (SHARED / "sr" / "set5").is_dir() or not (SHARED / "denoise-train").is_dir():
        p.error(f"needs Set5 and denoise-train under {SHARED} (../shared/data beside the repository)")
    common.set_threads(args.threads)
    commit = common.git_commit()  # the code the runs start with (the tree may change during hours of training)
    if args.quick:
        args.budget = 0.05
    rows = []
    with common.runs_folder(args.runs_dir) as runs_dir, tempfile.TemporaryDirectory() as work:
        if args.part in ("sr", "all"):
            sr_args = argparse.Namespace(**{**vars(args), "models": args.models or ["espcn"]})
            rows += sr_rows(sr_args, runs_dir)
        if args.part in ("denoise", "all"):
            dn_args = argparse.Namespace(**{**vars(args), "models": args.models or ["dncnn"]})
            rows += denoise_rows(dn_args, runs_dir, Path(work))
        if args.part in ("inpaint", "all"):
            in_args = argparse.Namespace(**{**vars(args), "models": args.models or ["unet-inpaint"]})
            rows += inpaint_rows(in_args, runs_dir, Path(work))
    for r in rows:
        r |= {"threads": torch.get_num_threads(), "load_average": common.load_average(), "commit": commit}
        if r.get("train_minutes"):
            r["overrides"] = list(args.overrides)
            r["max_steps"] = args.max_steps
    name = "restoration-quick" if args.quick else "restoration"
    out = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir, quick=args.quick)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
