"""Evaluation of restoration models: PSNR and SSIM of restored photos against the clean ones.

The protocol of the super-resolution papers (e.g. Shi et al. 2016; Ledig et al. 2017): each clean
photo is cropped to a multiple of the scale, shrunk with the bicubic kernel of the training data
(:func:`~genlab.image.restoration.degrade.downscale`), restored at full size (tiled), rounded to 8 bits,
and scored on the luma channel with ``scale`` border pixels cropped. For denoising (Zhang et al.
2017): Gaussian noise of σ (seeded) is added, the result restored and scored on the whole image.
Every score is the mean over the photos. Baselines scored the same way: bicubic upscaling of the
same low-resolution inputs, or the noisy input itself.

The photos are ``--ref`` (a folder, one file, or builtin:photos), else the photos held out when
the model was trained (recorded with the model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field

from genlab.__about__ import __version__
from genlab.core.config import Config
from genlab.core.errors import BadInputError
from genlab.core.evaluation import EvalContext, register_metric, weights_field
from genlab.image.restoration.data import BUILTIN, builtin_photos, load_photos, read_photo
from genlab.image.restoration.degrade import add_noise, bicubic_resize, downscale, modcrop, quantize
from genlab.image.restoration.quality import psnr, ssim

TASKS = ("super-resolution", "denoising")


class PhotoEvalRequest(Config):
    """The eval options of every task scored on clean photos: which photos (:func:`reference_photos`)."""

    ref: str | None = Field(
        None, description="clean photos to score on: a folder, an image file or builtin:photos "
        "(default: the photos held out when the model was trained)",
    )  # fmt: skip
    n: int | None = Field(None, ge=1, description="score at most this many photos")


class RestorationEvalRequest(PhotoEvalRequest):
    """Options of ``genlab eval`` for super-resolution and denoising models."""

    y_channel: bool | None = Field(
        None, description="score the luma (BT.601 Y) of colour images (default: yes for super-resolution)"
    )
    crop_border: int | None = Field(
        None, ge=0, description="pixels cropped from each side before scoring (default: the scale; 0 for denoising)"
    )
    sigma: float | None = Field(None, ge=0, le=255, description="denoising: noise σ (default: the model's)")
    tile: int = Field(256, ge=16, description="input pixels per tile when restoring large photos")
    seed: int = Field(0, description="seed of the added noise")


@dataclass
class Reference:
    """The clean photos (each (C, H, W) in [0, 1], in the model's colour) and their degraded inputs."""

    source: str
    clean: list[torch.Tensor]
    inputs: list[torch.Tensor]

    def protocol(self) -> dict[str, Any]:
        return {"reference": self.source, "n_reference": len(self.clean)}


def is_sr(model) -> bool:
    return model.task == "super-resolution"


def settings(ctx: EvalContext) -> dict[str, Any]:
    """The scoring settings after defaults: y_channel, crop_border, sigma."""
    model, request = ctx.model, ctx.request
    scale = model.output_scale
    sigma = request.sigma if request.sigma is not None else getattr(model.config, "sigma", None)
    return {
        "y_channel": is_sr(model) if request.y_channel is None else request.y_channel,
        "crop_border": (scale if is_sr(model) else 0) if request.crop_border is None else request.crop_border,
        "sigma": None if is_sr(model) else sigma,
    }


def reference_photos(ctx: EvalContext) -> tuple[list[torch.Tensor], str]:
    """The clean photos of ``--ref`` (at most ``--n``) or of the model's held-out split, in the model's colour,
    and where they come from."""
    model, request = ctx.model, ctx.request
    color = model.config.color
    if request.ref:
        photos, _, _ = load_photos(request.ref, color, request.n)
        return photos, request.ref
    data = model.provenance.data
    names = data.get("val_images") or []
    if not names:
        raise BadInputError(
            "no reference photos: the model records no held-out photos",
            "pass --ref with clean photos the model has not seen (a folder, a file or builtin:photos)",
        )
    if data.get("source") == BUILTIN and not data.get("val_source"):
        everything, all_names = builtin_photos(color)
        photos = [everything[all_names.index(n)] for n in names]
    else:
        photos = [read_photo(n, color) for n in names]
    return photos[: request.n], f"held-out photos of {data.get('val_source') or data.get('source')}"


def load_reference(ctx: EvalContext) -> Reference:
    """The clean photos of ``--ref`` or of the model's held-out split, and their degraded inputs."""
    model, request = ctx.model, ctx.request
    photos, source = reference_photos(ctx)
    scale = model.output_scale
    clean = [modcrop(p, scale) for p in photos]
    if any(min(p.shape[-2:]) < 11 * scale for p in clean):
        raise BadInputError(f"reference photos must be at least {11 * scale} pixels on each side for SSIM")
    if is_sr(model):
        inputs = [downscale(p, scale) for p in clean]
    else:
        gen = torch.Generator().manual_seed(request.seed)
        sigma = settings(ctx)["sigma"]
        if sigma is None:
            raise BadInputError("no noise level: the model records none", "pass --sigma")
        inputs = [add_noise(p, sigma, gen) for p in clean]
    return Reference(source, clean, inputs)


def draw_restored(ctx: EvalContext) -> list[torch.Tensor]:
    """The model's restorations of the reference inputs, rounded to 8 bits."""
    return [quantize(ctx.model.restore(x.unsqueeze(0), tile=ctx.request.tile)[0]) for x in ctx.reference.inputs]


def model_context(task, model, request: RestorationEvalRequest) -> EvalContext:
    return EvalContext(model, task, request, draw_samples=draw_restored, load_reference=load_reference)


def model_protocol(ctx: EvalContext) -> dict[str, Any]:
    protocol = {**ctx.reference.protocol(), **settings(ctx), "model": ctx.model.registry_name}
    if is_sr(ctx.model):
        protocol |= {"scale": ctx.model.output_scale, "degradation": "bicubic (antialiased, a=-0.5), 8-bit"}
    else:
        protocol |= {"noise": "additive white Gaussian, not clipped", "noise_seed": ctx.request.seed}
    protocol |= weights_field(ctx.model)
    return protocol | {"color": ctx.model.config.color, "genlab_version": __version__}


def baselines(ctx: EvalContext) -> dict[str, EvalContext]:
    """SR: bicubic upscaling of the same inputs; denoising: the noisy input itself."""
    ref = ctx.reference
    if is_sr(ctx.model):
        s = ctx.model.output_scale
        outs = [quantize(bicubic_resize(x, (x.shape[-2] * s, x.shape[-1] * s))) for x in ref.inputs]
        return {"bicubic": ctx.derive("bicubic", samples=outs, protocol={"baseline_bicubic": "same kernel"})}
    outs = [quantize(x) for x in ref.inputs]
    return {"noisy_input": ctx.derive("noisy_input", samples=outs, protocol={"baseline_noisy_input": "8-bit"})}


def _mean_score(ctx: EvalContext, fn) -> float:
    s = settings(ctx)
    pairs = zip(ctx.samples, ctx.reference.clean, strict=True)
    values = [fn(out, ref, s["y_channel"], s["crop_border"]) for out, ref in pairs]
    return round(float(torch.cat(values).mean()), 4)


def _protocol(ctx: EvalContext) -> dict[str, Any]:
    return {"psnr_ssim": "mean over photos; output rounded to 8 bits; SSIM: Gaussian window 11, σ 1.5"}


@register_metric(
    "image/psnr", task=TASKS, outputs=("psnr",), needs=("samples", "reference"), default=True, on_baselines=True,
    protocol=_protocol,
)  # fmt: skip
def psnr_metric(ctx: EvalContext) -> dict[str, float]:
    """Peak signal-to-noise ratio of the restored photos (dB, mean over photos; higher is better)."""
    return {"psnr": _mean_score(ctx, psnr)}


@register_metric(
    "image/ssim", task=TASKS, outputs=("ssim",), needs=("samples", "reference"), default=True, on_baselines=True,
    protocol=_protocol,
)  # fmt: skip
def ssim_metric(ctx: EvalContext) -> dict[str, float]:
    """Structural similarity of the restored photos (mean over photos; 1 = identical)."""
    return {"ssim": _mean_score(ctx, ssim)}
