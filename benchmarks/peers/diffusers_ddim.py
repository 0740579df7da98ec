"""diffusers' ``UNet2DModel`` and ``DDIMScheduler``: the peer of genlab's DDIM sampling.

The UNet of the reference figures: 28×28, 1 → 1 channel, blocks (32, 64, 64) with attention in
the middle down and up block, one layer per block (1.11M parameters). diffusers is in the
``dev`` extra; :func:`build` raises ``ImportError`` without it.
"""

from __future__ import annotations

from typing import Any

import torch


def build(device: str = "cpu") -> tuple[Any, Any]:
    """The UNet (random weights: speed does not depend on them) and a 1000-step DDIM scheduler."""
    from diffusers import DDIMScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(
        sample_size=28, in_channels=1, out_channels=1, block_out_channels=(32, 64, 64), layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    ).to(device).eval()  # fmt: skip
    return unet, DDIMScheduler(num_train_timesteps=1000)


@torch.no_grad()
def sample(unet: Any, scheduler: Any, batch: int, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """DDIM sampling of ``batch`` images in ``steps`` steps: the loop of diffusers' ``DDIMPipeline`` (η = 0)."""
    scheduler.set_timesteps(steps)
    device = next(unet.parameters()).device
    x = torch.randn(batch, 1, 28, 28, generator=generator).to(device)
    for t in scheduler.timesteps:
        x = scheduler.step(unet(x, t).sample, t, x).prev_sample
    return x
