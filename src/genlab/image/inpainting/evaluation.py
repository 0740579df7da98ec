"""Evaluation of inpainting models: fill seeded holes in whole photos and score them against the originals.

Protocol: each clean photo gets one mask of ``--mask-kind`` (box, stroke or mixed: each half of the time,
:func:`~genlab.image.restoration.degrade.random_mask`) drawn from a generator seeded with ``--seed``, in
the order of the photos, so every model and baseline fills the same holes. The masked photo is
filled at full size (tiled), rounded to 8 bits, and scored on every channel:

* ``psnr_hole``: PSNR over the missing pixels only (the known ones are kept exactly, so the whole-image
  PSNR would mostly measure the hole's size); a perfect fill is capped at 100 dB;
* ``ssim_whole``: SSIM of the whole completed photo (Gaussian window 11, σ 1.5), which also sees how
  the fill joins its surroundings.

Both are means over the photos. Baseline, scored the same way: biharmonic inpainting (Damelin & Hoang
2018, scikit-image's ``inpaint_biharmonic``), the smooth classical fill.

The photos are ``--ref`` (a folder, one file, or builtin:photos), else the photos held out when the
model was trained (recorded with the model).

References:
    S. B. Damelin and N. S. Hoang, "On Surface Completion and Image Inpainting by Biharmonic Functions:
    Numerical Aspects", International Journal of Mathematics and Mathematical Sciences, 2018.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

from genlab.__about__ import __version__
from genlab.core.errors import BadInputError
from genlab.core.evaluation import EvalContext, register_metric, weights_field
from genlab.core.optional import require
from genlab.image.inpainting.model import TASK
from genlab.image.restoration.degrade import quantize, random_mask
from genlab.image.restoration.evaluation import PhotoEvalRequest, reference_photos
from genlab.image.restoration.quality import ssim

#: PSNR of a perfect fill (the MSE is floored at 1e-10)
MAX_PSNR = 100.0


class InpaintingEvalRequest(PhotoEvalRequest):
    """Options of ``genlab eval`` for inpainting models."""

    mask_kind: Literal["box", "stroke", "mixed"] = Field(
        "mixed", description="holes to fill: one box, free-form strokes, or mixed (box or strokes per photo, ½ each)"
    )
    seed: int = Field(0, description="seed of the masks (one per photo, drawn in the order of the photos)")
    tile: int = Field(512, ge=16, description="pixels per tile when filling large photos")


@dataclass
class Reference:
    """The clean photos (C, H, W) in [0, 1] in the model's colour, their masks (1, H, W) and masked inputs."""

    source: str
    clean: list[torch.Tensor]
    masks: list[torch.Tensor]

    @property
    def inputs(self) -> list[torch.Tensor]:
        return [x * (1 - m) for x, m in zip(self.clean, self.masks, strict=True)]

    def protocol(self) -> dict[str, Any]:
        hole = float(np.mean([float(m.mean()) for m in self.masks])) if self.masks else 0.0
        return {"reference": self.source, "n_reference": len(self.clean), "mean_hole_fraction": round(hole, 4)}


def load_reference(ctx: EvalContext) -> Reference:
    """The reference photos and one seeded mask of ``mask_kind`` for each."""
    photos, source = reference_photos(ctx)
    if any(min(p.shape[-2:]) < 11 for p in photos):
        raise BadInputError("reference photos must be at least 11 pixels on each side for SSIM")
    gen = torch.Generator().manual_seed(ctx.request.seed)
    masks = [random_mask(p.shape[-2], p.shape[-1], ctx.request.mask_kind, gen) for p in photos]
    return Reference(source, photos, masks)


def draw_filled(ctx: EvalContext) -> list[torch.Tensor]:
    """The model's completions of the masked reference photos, rounded to 8 bits."""
    ref, tile = ctx.reference, ctx.request.tile
    return [
        quantize(ctx.model.restore(x.unsqueeze(0), m.unsqueeze(0), tile=tile)[0])
        for x, m in zip(ref.inputs, ref.masks, strict=True)
    ]


def model_context(task, model, request: InpaintingEvalRequest) -> EvalContext:
    return EvalContext(model, task, request, draw_samples=draw_filled, load_reference=load_reference)


def model_protocol(ctx: EvalContext) -> dict[str, Any]:
    request = ctx.request
    protocol = {
        **ctx.reference.protocol(),
        "model": ctx.model.registry_name,
        "mask_kind": request.mask_kind,
        "mask_seed": request.seed,
        "masks": "genlab random_mask per photo, drawn in photo order; 1 = missing",
        "tile": request.tile,
    }
    protocol |= weights_field(ctx.model)
    return protocol | {"color": ctx.model.config.color, "genlab_version": __version__}


def biharmonic_fill(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``image`` (C, H, W) with the pixels under ``mask`` (1, H, W) filled by biharmonic inpainting, in [0, 1]."""
    require("skimage", "image")
    from skimage.restoration import inpaint_biharmonic

    holes = mask[0].numpy() > 0.5
    if not holes.any():
        return image.clone()
    array = image.permute(1, 2, 0).double().numpy()
    filled = inpaint_biharmonic(array, holes, channel_axis=-1)
    return torch.from_numpy(np.ascontiguousarray(filled)).permute(2, 0, 1).float().clamp(0, 1)


def baselines(ctx: EvalContext) -> dict[str, EvalContext]:
    """Biharmonic inpainting of the same holes, rounded to 8 bits."""
    ref = ctx.reference
    outs = [quantize(biharmonic_fill(x, m)) for x, m in zip(ref.inputs, ref.masks, strict=True)]
    note = "skimage.restoration.inpaint_biharmonic per photo, all channels, 8-bit"
    return {"biharmonic": ctx.derive("biharmonic", samples=outs, protocol={"baseline_biharmonic": note})}


def psnr_hole(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """PSNR (dB, peak 1) over the pixels where ``mask`` (1, H, W) is 1, every channel; a perfect fill
    gives :data:`MAX_PSNR`, an empty mask raises a BadInputError."""
    holes = (mask > 0.5).expand_as(target)
    if not holes.any():
        raise BadInputError("a reference mask has no missing pixel to score")
    mse = (output.double() - target.double())[holes].pow(2).mean()
    return float(10 * torch.log10(1 / mse.clamp_min(1e-10)))


def _protocol(ctx: EvalContext) -> dict[str, Any]:
    return {
        "psnr_hole_ssim_whole": "mean over photos; output rounded to 8 bits; every channel; PSNR over the missing "
        f"pixels only (capped at {MAX_PSNR:g} dB); SSIM of the whole photo, Gaussian window 11, σ 1.5"
    }


@register_metric(
    "image/psnr_hole", task=TASK, outputs=("psnr_hole",), needs=("samples", "reference"), default=True,
    on_baselines=True, protocol=_protocol,
)  # fmt: skip
def psnr_hole_metric(ctx: EvalContext) -> dict[str, float]:
    """Peak signal-to-noise ratio over the filled (missing) pixels (dB, mean over photos; higher is better)."""
    ref = ctx.reference
    values = [psnr_hole(o, c, m) for o, c, m in zip(ctx.samples, ref.clean, ref.masks, strict=True)]
    return {"psnr_hole": round(float(np.mean(values)), 4)}


@register_metric(
    "image/ssim_whole", task=TASK, outputs=("ssim_whole",), needs=("samples", "reference"), default=True,
    on_baselines=True, protocol=_protocol,
)  # fmt: skip
def ssim_whole_metric(ctx: EvalContext) -> dict[str, float]:
    """Structural similarity of the whole completed photos (mean over photos; 1 = identical)."""
    pairs = zip(ctx.samples, ctx.reference.clean, strict=True)
    values = torch.cat([ssim(out, ref) for out, ref in pairs])
    return {"ssim_whole": round(float(values.mean()), 4)}
