"""Image editing with a trained diffusion or flow model: SDEdit image-to-image and RePaint inpainting.

* :func:`img2img` — SDEdit (Meng et al. 2022): noise the input to the time point a fraction
  ``strength`` of the way from clean to pure noise, then run the sampler from there. Low
  strength keeps the input's layout; strength 1 ignores it.
* :func:`inpaint` — RePaint (Lugmayr et al. 2022): sample as usual, but after every step
  replace the known region by the input noised to the same time point; to let the generated
  region agree with the known one, the trajectory repeatedly jumps back ``jump_length``
  steps (re-noising with the forward process) and re-samples, ``resamples`` times per jump.

Both work for ``image/ddpm`` (any diffusion sampler) and ``image/flow`` (Euler or Heun).
Masks are float (B or 1, 1, H, W) with 1 where pixels are to be generated and 0 where the input is kept.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch

from genlab.core.errors import BadInputError
from genlab.nn.diffusion.samplers import sample_loop


def _noise(shape: torch.Size, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    return torch.randn(shape, generator=generator, dtype=like.dtype).to(like.device)


@torch.no_grad()
def img2img(
    model,
    images: torch.Tensor,
    strength: float = 0.6,
    labels: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    **options: Any,
) -> torch.Tensor:
    """SDEdit: ``images`` (B, C, H, W) in [-1, 1] → edited images; runs ≈ strength · steps sampler steps.

    ``options`` are the sampling options of ``model.generate`` (sampler, steps, guidance_scale, eta).
    """
    if not 0 < strength <= 1:
        raise BadInputError(f"--strength must be in (0, 1], got {strength}", "0.3 keeps most of the input, 0.8 little")
    images = images.to(model.device)
    sampler, predict = model.prepare_sampling(labels, **options)
    points = sampler.time_points()
    n = len(points) - 1
    start = n - max(1, round(strength * n))
    x = model.path.q_sample(images, points[start], _noise(images.shape, generator, images))
    return sample_loop(sampler, predict, x, generator, start=start).clamp(-1, 1)


def repaint_moves(num_steps: int, jump_length: int, resamples: int) -> list[tuple[int, int]]:
    """RePaint's walk over grid indices 0 (noise) … num_steps (clean) as (from, to) moves.

    A move to ``from + 1`` is a sampler step; a move back by ``jump_length`` is a re-noising
    jump. At every index that is a multiple of ``jump_length`` the walk jumps back
    ``resamples - 1`` times, so that stretch is sampled ``resamples`` times in all.
    """
    if jump_length < 1 or resamples < 1:
        raise BadInputError("jump_length and resamples must be at least 1", "RePaint uses jump_length=10, resamples=10")
    moves: list[tuple[int, int]] = []
    jumps: dict[int, int] = defaultdict(int)
    i = 0
    while i < num_steps:
        moves.append((i, i + 1))
        i += 1
        if i < num_steps and i % jump_length == 0 and jumps[i] < resamples - 1:
            jumps[i] += 1
            moves.append((i, i - jump_length))
            i -= jump_length
    return moves


@torch.no_grad()
def inpaint(
    model,
    images: torch.Tensor,
    mask: torch.Tensor,
    labels: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    jump_length: int = 5,
    resamples: int = 4,
    **options: Any,
) -> torch.Tensor:
    """RePaint: fill the pixels where ``mask`` is 1 so they agree with the kept pixels of ``images``.

    ``images`` (B, C, H, W) in [-1, 1]; ``mask`` (B or 1, 1, H, W) in {0, 1}; returns (B, C, H, W)
    with the kept pixels equal to the input. ``options``: sampler, steps, guidance_scale, eta.
    """
    images = images.to(model.device)
    mask = mask.to(device=model.device, dtype=images.dtype)
    if mask.shape[-2:] != images.shape[-2:]:
        raise BadInputError(f"mask is {tuple(mask.shape[-2:])} but the images are {tuple(images.shape[-2:])}")
    sampler, predict = model.prepare_sampling(labels, **options)
    points = sampler.time_points()
    n = len(points) - 1
    path = model.path

    def known(i: int) -> torch.Tensor:
        return images if i == n else path.q_sample(images, points[i], _noise(images.shape, generator, images))

    x = mask * _noise(images.shape, generator, images) + (1 - mask) * known(0)
    sampler.reset()
    for i, j in repaint_moves(n, jump_length, resamples):
        if j == i + 1:
            x = sampler.step(predict, x, points[i], points[j], generator)
            x = mask * x + (1 - mask) * known(j)
        else:
            x = path.renoise(x, points[i], points[j], generator)
            sampler.reset()  # a multistep solver's history does not survive a jump
    return (mask * x + (1 - mask) * images).clamp(-1, 1)


def half_mask(side: str, size: int) -> torch.Tensor:
    """A (1, 1, size, size) mask that regenerates one half (left/right/top/bottom) or the centre square."""
    mask = torch.zeros(1, 1, size, size)
    h = size // 2
    regions = {
        "left": (slice(None), slice(0, h)),
        "right": (slice(None), slice(h, None)),
        "top": (slice(0, h), slice(None)),
        "bottom": (slice(h, None), slice(None)),
        "center": (slice(size // 4, size - size // 4), slice(size // 4, size - size // 4)),
    }
    if side not in regions:
        raise BadInputError(f"unknown mask '{side}'", "give a mask image, or one of: " + ", ".join(regions))
    rows, cols = regions[side]
    mask[..., rows, cols] = 1.0
    return mask


MASK_SHAPES = ("left", "right", "top", "bottom", "center")
