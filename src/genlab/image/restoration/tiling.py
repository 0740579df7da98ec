"""Tiled inference: run an image-to-image network on a photo of any size in bounded memory.

The input is cut into tiles of ``tile`` pixels that overlap by ``overlap`` pixels on each side;
each tile is processed alone and only its centre (without the overlap) is kept. When ``overlap``
is at least the network's receptive-field radius, every kept output pixel saw exactly the input it
would have seen untiled, so the result equals the untiled one (up to float rounding) — without seams.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genlab.core.errors import BadInputError


def _starts(length: int, tile: int) -> list[int]:
    """Start offsets of the kept (core) regions: every ``tile`` pixels."""
    return list(range(0, length, tile))


def tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tile: int = 256,
    overlap: int = 16,
    scale: int = 1,
    out_channels: int | None = None,
) -> torch.Tensor:
    """``fn`` applied to ``x`` (B, C, H, W) tile by tile; ``fn`` maps (B, C, h, w) to (B, C', h·scale, w·scale).

    ``tile`` is the side of each kept core region (input pixels); ``overlap`` the context added around
    it on each side (clipped at the image border, where the network pads as it would untiled).
    The output is assembled on the input's device, so only one tile's activations live at a time.
    """
    if tile < 1 or overlap < 0:
        raise BadInputError(f"tile must be ≥ 1 and overlap ≥ 0, got tile={tile}, overlap={overlap}")
    b, _, h, w = x.shape
    if h <= tile and w <= tile:
        return fn(x)
    out = None
    for top in _starts(h, tile):
        for left in _starts(w, tile):
            bottom, right = min(top + tile, h), min(left + tile, w)
            t0, l0 = max(top - overlap, 0), max(left - overlap, 0)
            t1, l1 = min(bottom + overlap, h), min(right + overlap, w)
            piece = fn(x[:, :, t0:t1, l0:l1])
            if out is None:
                channels = out_channels or piece.shape[1]
                out = torch.empty(b, channels, h * scale, w * scale, dtype=piece.dtype, device=x.device)
            core = piece[:, :, (top - t0) * scale : (bottom - t0) * scale, (left - l0) * scale : (right - l0) * scale]
            out[:, :, top * scale : bottom * scale, left * scale : right * scale] = core.to(x.device)
    return out
