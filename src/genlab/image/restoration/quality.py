"""Full-reference image quality: PSNR and SSIM, with the super-resolution conventions.

SR papers score the luma channel only (``y_channel``: ITU-R BT.601 Y in the MATLAB ``rgb2ycbcr``
range 16–235) after cropping ``crop_border`` pixels (the scale factor) from every side and rounding
the output to 8 bits. Images are float tensors in [0, 1], (C, H, W) or (B, C, H, W); the scores are
per image. SSIM is torchmetrics' (Gaussian window 11, σ 1.5, K1 0.01, K2 0.03: Wang et al. 2004).
"""

from __future__ import annotations

import torch

from genlab.core.errors import BadInputError
from genlab.image.restoration.color import rgb_to_y


def _prepare(
    output: torch.Tensor, target: torch.Tensor, y_channel: bool, crop_border: int
) -> tuple[torch.Tensor, torch.Tensor]:
    if output.shape != target.shape:
        raise BadInputError(
            f"output is {tuple(output.shape)} but the reference is {tuple(target.shape)}",
            "compare images of the same size (crop the reference to a multiple of the scale)",
        )
    out = output.unsqueeze(0) if output.dim() == 3 else output
    ref = target.unsqueeze(0) if target.dim() == 3 else target
    out, ref = out.double(), ref.double()
    if y_channel:
        out, ref = rgb_to_y(out), rgb_to_y(ref)
    if crop_border:
        if min(out.shape[-2:]) <= 2 * crop_border:
            raise BadInputError(f"image of {tuple(out.shape[-2:])} is too small to crop {crop_border} pixels per side")
        out = out[..., crop_border:-crop_border, crop_border:-crop_border]
        ref = ref[..., crop_border:-crop_border, crop_border:-crop_border]
    return out, ref


def psnr(output: torch.Tensor, target: torch.Tensor, y_channel: bool = False, crop_border: int = 0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image (B,), peak 1; identical images give ``inf``."""
    out, ref = _prepare(output, target, y_channel, crop_border)
    mse = (out - ref).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(1.0 / mse)).float()


def ssim(output: torch.Tensor, target: torch.Tensor, y_channel: bool = False, crop_border: int = 0) -> torch.Tensor:
    """Structural similarity per image (B,) (mean over channels), data range 1."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    out, ref = _prepare(output, target, y_channel, crop_border)
    if min(out.shape[-2:]) < 11:
        raise BadInputError(f"SSIM needs images of at least 11×11 pixels, got {tuple(out.shape[-2:])}")
    # float32: the same value to ~1e-7 as float64, whose CPU convolutions are 20× slower
    values = structural_similarity_index_measure(out.float(), ref.float(), data_range=1.0, reduction="none")
    return values.float()
