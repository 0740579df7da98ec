"""The detector contract shared by every ``anomaly/*`` model, and the per-pixel maps the scores are made of.

A detector is a genlab model of task ``anomaly`` with
``score(images, generator=None) -> (scores (N,), heat maps (N, H, W))``: images are float (N, C, H, W) in
[-1, 1] at the model's size; a higher score means more anomalous; the heat map says where, in the image's own
pixels. Scoring runs in batches of :attr:`AnomalyDetector.score_batch_size` under ``torch.no_grad``.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from genlab.core.errors import BadInputError

TASK = "anomaly"
SSIM_WINDOW, SSIM_SIGMA = 11, 1.5  # Wang et al. 2004
SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2  # (K·L)² with L = 1 on the [0, 1] scale


class AnomalyDetector:
    """Mixin of the anomaly models (put it first among the bases): the task, the checks and batching of ``score``."""

    task: ClassVar[str] = TASK
    score_batch_size: ClassVar[int] = 64

    def score(
        self, images: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Anomaly scores (N,) and heat maps (N, H, W) of images (N, C, H, W) in [-1, 1]; higher = more anomalous."""
        images = self.check_images(images)
        scores, maps = [], []
        with torch.no_grad():
            for start in range(0, len(images), self.score_batch_size):
                s, m = self.score_batch(images[start : start + self.score_batch_size].to(self.device), generator)
                scores.append(s.float().cpu())
                maps.append(m.float().cpu())
        return torch.cat(scores), torch.cat(maps)

    def score_batch(self, images: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``score`` of one batch already on the model's device."""
        raise NotImplementedError

    def check_images(self, images: torch.Tensor) -> torch.Tensor:
        """Images of the model's channel count and size, else :class:`BadInputError`."""
        c, s = self.config.channels, self.config.image_size
        if images.ndim != 4 or images.shape[1] != c or images.shape[2] != s or images.shape[3] != s:
            raise BadInputError(
                f"{self.registry_name} scores images of shape (N, {c}, {s}, {s}), got {tuple(images.shape)}",
                "bring the images to the model's size and channels (genlab detect does this for files)",
            )
        if len(images) == 0:
            raise BadInputError("no images to score")
        return images.float()


def squared_error_map(images: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """Per-pixel squared error on the [0, 1] scale, averaged over channels: (N, C, H, W) x2 -> (N, H, W)."""
    return ((images - reconstructions) / 2).pow(2).mean(1)


def _gaussian_window(channels: int, device: torch.device) -> torch.Tensor:
    x = torch.arange(SSIM_WINDOW, dtype=torch.float32, device=device) - SSIM_WINDOW // 2
    g = torch.exp(-(x**2) / (2 * SSIM_SIGMA**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, SSIM_WINDOW, SSIM_WINDOW).contiguous()


def ssim_map(images: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """Local SSIM (Wang et al. 2004; 11×11 Gaussian window, σ = 1.5) per pixel, averaged over channels:
    (N, C, H, W) x2 in [-1, 1] -> (N, H, W), 1 where the two images agree. Borders use reflected padding."""
    x, y = (images + 1) / 2, (reconstructions + 1) / 2
    c = x.shape[1]
    w = _gaussian_window(c, x.device)

    def blur(t: torch.Tensor) -> torch.Tensor:
        pad = SSIM_WINDOW // 2
        return F.conv2d(F.pad(t, (pad,) * 4, mode="reflect"), w, groups=c)

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    ssim = ((2 * mx * my + SSIM_C1) * (2 * cov + SSIM_C2)) / ((mx**2 + my**2 + SSIM_C1) * (vx + vy + SSIM_C2))
    return ssim.mean(1)
