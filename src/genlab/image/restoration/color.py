"""RGB ↔ YCbCr in the convention of the super-resolution literature (ITU-R BT.601, MATLAB's
``rgb2ycbcr``/``ycbcr2rgb``): Y in [16, 235] / 255, Cb and Cr in [16, 240] / 255 for RGB in [0, 1].

Models trained on luma (``channels=1`` on colour photos) see Y; at inference the chroma channels are
upscaled with bicubic and the three recombined, as SRCNN and ESPCN do.
"""

from __future__ import annotations

import torch

_TO_YCBCR = torch.tensor(
    [[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], dtype=torch.float64
)
_OFFSET = torch.tensor([16.0, 128.0, 128.0], dtype=torch.float64)


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    """YCbCr (…, 3, H, W) in [0, 1] units of RGB images (…, 3, H, W) in [0, 1]."""
    m = _TO_YCBCR.to(x.device, x.dtype)
    return (torch.einsum("ij,...jhw->...ihw", m, x) + _OFFSET.to(x.device, x.dtype).view(3, 1, 1)) / 255.0


def ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """RGB (…, 3, H, W) in [0, 1] (not clamped) of YCbCr images from :func:`rgb_to_ycbcr`."""
    inv = torch.linalg.inv(_TO_YCBCR).to(x.device, x.dtype)
    return torch.einsum("ij,...jhw->...ihw", inv, x * 255.0 - _OFFSET.to(x.device, x.dtype).view(3, 1, 1))


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """Luma (…, 1, H, W) of RGB images (…, 3, H, W) in [0, 1]; one-channel images pass through unchanged."""
    if x.shape[-3] == 1:
        return x
    w = _TO_YCBCR[0].to(x.device, x.dtype).view(3, 1, 1)
    return ((x * w).sum(-3, keepdim=True) + 16.0) / 255.0
