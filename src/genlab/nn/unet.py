"""A time- and class-conditioned UNet for diffusion, flow matching and restoration models.

The layout follows DDPM (Ho et al. 2020) and its improved variants (Nichol & Dhariwal 2021):
a sinusoidal embedding of the time (or noise level) goes through an MLP and sets a
scale and shift inside every residual block; each resolution level has residual blocks
with GroupNorm and SiLU, optionally followed by multi-head self-attention; a middle block (residual,
attention, residual) sits at the lowest resolution; the decoder mirrors the encoder and
concatenates its skip connections. An optional class embedding is added to the time
embedding; its extra index ``num_classes`` is the "null" label used for classifier-free
guidance (Ho & Salimans 2022).

Level ``i`` works at ``image_size / 2**i`` pixels with ``base_channels * channel_mult[i]``
channels, so 28×28 images with ``channel_mult=(1, 2, 2)`` use 28 → 14 → 7.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import nn

from genlab.core.config import Config
from genlab.core.errors import ConfigError


class UNetConfig(Config):
    """Size of a :class:`UNet`; model configs inherit these fields."""

    base_channels: int = Field(32, ge=4, le=1024, description="channels of the first level")
    channel_mult: tuple[int, ...] = Field(
        (1, 2, 2), description="channels of level i = base_channels · channel_mult[i]"
    )
    num_res_blocks: int = Field(1, ge=1, le=8, description="residual blocks per level in the encoder")
    attention_levels: tuple[int, ...] = Field(
        (2,), description="levels (0 = full resolution) with self-attention after each block; the middle always has it"
    )
    attention_head_dim: int = Field(32, ge=4, le=512, description="channels per attention head")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout inside residual blocks")

    @field_validator("channel_mult")
    @classmethod
    def _positive_mults(cls, mult: tuple[int, ...]) -> tuple[int, ...]:
        if not mult or any(m < 1 for m in mult):
            raise ValueError("channel_mult needs at least one positive multiplier, e.g. [1, 2, 2]")
        return mult


def check_unet_fits(config: UNetConfig, image_size: int, who: str = "the UNet") -> None:
    """Raise ConfigError when ``image_size`` cannot be halved ``len(channel_mult) - 1`` times or levels are wrong."""
    levels = len(config.channel_mult)
    factor = 2 ** (levels - 1)
    if image_size % factor:
        fits = [n for n in range(1, 7) if image_size % 2 ** (n - 1) == 0]
        raise ConfigError(
            f"{who}: {levels} resolution levels halve the image {levels - 1} times, "
            f"but {image_size} is not divisible by {factor}",
            f"use a channel_mult with at most {max(fits)} entries for {image_size}×{image_size} images, "
            "or an image size divisible by " + str(factor),
        )
    bad = [lvl for lvl in config.attention_levels if not 0 <= lvl < levels]
    if bad:
        raise ConfigError(
            f"{who}: attention level {bad[0]} does not exist (channel_mult has {levels} levels)",
            f"use levels between 0 and {levels - 1}, e.g. attention_levels=[{levels - 1}]",
        )


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of (B,) float times -> (B, dim): [cos(t·f_k), sin(t·f_k)], f_k = max_period^(-k/half)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]  # (B, 1) * (1, half) -> (B, half)
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


def group_norm(channels: int, max_groups: int = 32) -> nn.GroupNorm:
    """GroupNorm with at most ``max_groups`` groups of at least 4 channels (when ``channels`` allows)."""
    return nn.GroupNorm(math.gcd(max_groups, max(1, channels // 4)), channels)


def zero_module(module: nn.Module) -> nn.Module:
    """Zero a layer's parameters: a residual branch ending in it starts as the identity."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """GN → SiLU → conv3×3 → GN·(1 + scale) + shift → SiLU → dropout → conv3×3, plus a skip path.

    The embedding sets the scale and shift after the second GroupNorm ("scale-shift norm",
    Dhariwal & Nichol 2021): an embedding added before a normalisation would be partly
    (with one channel per group, wholly) removed by it.
    """

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = group_norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.emb_proj = nn.Linear(emb_dim, 2 * out_channels)
        self.norm2 = group_norm(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero_module(nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb_proj(F.silu(emb))[:, :, None, None].chunk(2, dim=1)  # (B, 2C) -> 2 × (B, C, 1, 1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Multi-head self-attention over the H·W positions of a feature map, with a residual connection."""

    def __init__(self, channels: int, head_dim: int = 32):
        super().__init__()
        self.heads = max(1, channels // head_dim)
        while channels % self.heads:  # heads must split the channels evenly
            self.heads -= 1
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = zero_module(nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w)
        # (B, 3, heads, C/heads, HW) -> 3 × (B, heads, HW, C/heads); contiguous, because the CPU attention
        # kernel is several times slower on the strided views (~190 vs ~50 ms per call for 8-channel heads)
        q, k, v = qkv.transpose(-1, -2).contiguous().unbind(1)
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(-1, -2).reshape(b, c, h, w)  # (B, heads, HW, C/heads) -> (B, C, H, W)
        return x + self.proj(out)


class Downsample(nn.Module):
    """A stride-2 3×3 conv: (B, C, H, W) -> (B, C, H/2, W/2)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest-neighbour 2× then a 3×3 conv: (B, C, H, W) -> (B, C, 2H, 2W)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _Level(nn.Module):
    """Residual blocks of one resolution, each optionally followed by attention."""

    def __init__(self, blocks: list[ResBlock], attention: list[nn.Module]):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.attention = nn.ModuleList(attention)


class UNet(nn.Module):
    """``forward(x (B, C_in, H, W), t (B,) float, labels (B,) long | None) -> (B, C_out, H, W)``.

    ``num_classes > 0`` adds a class embedding with ``num_classes + 1`` rows; label
    ``num_classes`` is the null (unconditional) label. The output convolution starts at
    zero, so an untrained network predicts 0.
    """

    def __init__(
        self, config: UNetConfig, in_channels: int, out_channels: int, num_classes: int = 0, image_size: int = 32
    ):
        super().__init__()
        check_unet_fits(config, image_size)
        ch = config.base_channels
        emb_dim = 4 * ch
        self.num_classes = num_classes
        self.base_channels = ch
        self.time_mlp = nn.Sequential(nn.Linear(ch, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.class_embedding = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None
        self.conv_in = nn.Conv2d(in_channels, ch, 3, padding=1)

        widths = [ch * m for m in config.channel_mult]
        levels = len(widths)

        def attn(level: int, width: int) -> nn.Module:
            use = level in config.attention_levels
            return SelfAttention(width, config.attention_head_dim) if use else nn.Identity()

        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips, width = [ch], ch
        for i, w in enumerate(widths):
            blocks, attns = [], []
            for _ in range(config.num_res_blocks):
                blocks.append(ResBlock(width, w, emb_dim, config.dropout))
                attns.append(attn(i, w))
                width = w
                skips.append(width)
            self.down.append(_Level(blocks, attns))
            self.downsample.append(Downsample(width) if i < levels - 1 else nn.Identity())
            if i < levels - 1:
                skips.append(width)

        self.mid_block1 = ResBlock(width, width, emb_dim, config.dropout)
        self.mid_attention = SelfAttention(width, config.attention_head_dim)
        self.mid_block2 = ResBlock(width, width, emb_dim, config.dropout)

        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, w in reversed(list(enumerate(widths))):
            blocks, attns = [], []
            for _ in range(config.num_res_blocks + 1):
                blocks.append(ResBlock(width + skips.pop(), w, emb_dim, config.dropout))
                attns.append(attn(i, w))
                width = w
            self.up.append(_Level(blocks, attns))
            self.upsample.append(Upsample(width) if i > 0 else nn.Identity())

        self.norm_out = group_norm(width)
        self.conv_out = zero_module(nn.Conv2d(width, out_channels, 3, padding=1))

    def embed(self, t: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Time (and class) embedding (B, 4·base_channels)."""
        emb = self.time_mlp(timestep_embedding(t, self.base_channels))
        if self.class_embedding is not None:
            if labels is None:  # no label given: the null class, i.e. the unconditional model
                labels = torch.full((t.shape[0],), self.num_classes, dtype=torch.long, device=t.device)
            emb = emb + self.class_embedding(labels)
        return emb

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.embed(t, labels)
        h = self.conv_in(x)
        skips = [h]
        for level, down in zip(self.down, self.downsample, strict=True):
            for block, attention in zip(level.blocks, level.attention, strict=True):
                h = attention(block(h, emb))
                skips.append(h)
            if not isinstance(down, nn.Identity):
                h = down(h)
                skips.append(h)
        h = self.mid_block2(self.mid_attention(self.mid_block1(h, emb)), emb)
        for level, up in zip(self.up, self.upsample, strict=True):
            for block, attention in zip(level.blocks, level.attention, strict=True):
                h = attention(block(torch.cat([h, skips.pop()], dim=1), emb))  # concat along channels
            h = up(h)
        return self.conv_out(F.silu(self.norm_out(h)))
