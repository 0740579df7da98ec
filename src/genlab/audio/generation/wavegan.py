"""WaveGAN (Donahue, McAuley & Puckette 2019): a GAN that generates raw waveforms with 1-D convolutions.

WaveGAN flattens DCGAN (Radford et al. 2016) to one dimension: 5×5 kernels with stride 2 become
length-25 kernels with stride 4, so each layer multiplies (generator) or divides (critic) the length
by 4, and the paper's 16384 samples are 16 · 4⁵. With width d (``model_size``, the paper's 64) and
k stages for a window of ``base · 4^k`` samples (base 16 or 32; :func:`~.base.strided_stages`):

* generator: [z, e(y)] → dense → (d·2^(k-1) channels, base samples) → ReLU → k transposed 1-D convs
  (kernel 25, stride 4, padding 11, output padding 1: exactly ×4 in length), halving the channels each
  time down to d, the last one to 1 channel, with ReLU between them and tanh at the end;
* critic: k strided 1-D convs (kernel 25, stride 4, padding 11: exactly ÷4), 1 → d → 2d → … → d·2^(k-1)
  channels, each followed by LeakyReLU(0.2) and, except the last, by **phase shuffle**; the flattened
  features go through a linear map (a projection head with labels). No batch normalisation, as in the
  paper: the gradient penalty wants a critic that treats every clip on its own.

Phase shuffle (paper, section 3.3) shifts each clip's feature maps in time by a random integer
in [−n, n] (n = 2), filling the edge by reflection, so the critic cannot key on the periodic
artefacts of the generator's strided transposed convolutions. It acts in training mode only.

The training recipe (WGAN-GP, 5 critic steps per generator step, λ = 10, Adam 1e-4, β = (0.5, 0.9))
and the conditioning live in :mod:`genlab.audio.generation.base`.

References:
    C. Donahue, J. McAuley and M. Puckette, "Adversarial Audio Synthesis", ICLR 2019.
    A. Radford, L. Metz and S. Chintala, "Unsupervised Representation Learning with Deep Convolutional
    Generative Adversarial Networks", ICLR 2016.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.audio.generation.base import AudioGAN, AudioGANConfig, LatentInput, ProjectionHead, strided_stages
from genlab.core.model import register_model
from genlab.nn.layers import maybe_spectral_norm

KERNEL, STRIDE, PADDING = 25, 4, 11  # (L − 1)·4 − 22 + 25 + 1 = 4L and ⌊(L + 22 − 25)/4⌋ + 1 = L/4


class WaveGANConfig(AudioGANConfig):
    """``audio/wavegan``: the paper's networks and recipe; only the width defaults to 16 (the paper: 64)."""

    phase_shuffle: int = Field(2, ge=0, le=16, description="largest shift n of phase shuffle in the critic (0: off)")


class PhaseShuffle(nn.Module):
    """Shift each clip's features (B, C, L) by its own random integer in [−n, n] along time, reflecting at the
    edges (Donahue et al. 2019); the identity at n = 0 and in eval mode. Shape is kept."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.n == 0 or not self.training:
            return x
        b, c, length = x.shape
        shifts = torch.randint(-self.n, self.n + 1, (b,), device=x.device)
        padded = F.pad(x, (self.n, self.n), mode="reflect")  # (B, C, L + 2n)
        # out[t] = x[t − s]: read the padded map at t − s + n
        index = torch.arange(length, device=x.device)[None, :] + self.n - shifts[:, None]  # (B, L)
        return padded.gather(2, index[:, None, :].expand(b, c, length))

    def extra_repr(self) -> str:
        return f"n={self.n}"


class WaveGANGenerator(nn.Module):
    """z (B, latent_dim) [+ labels (B,)] → waveforms (B, 1, window) in [-1, 1]."""

    def __init__(self, config: WaveGANConfig, num_classes: int, who: str = "WaveGAN"):
        super().__init__()
        self.base, stages = strided_stages(config.window, STRIDE, (16, 32), who)
        d = config.model_size
        widths = [d * 2 ** (stages - 1 - i) for i in range(stages)]  # k = 5, d = 64: [1024, 512, 256, 128, 64]
        self.input = LatentInput(config.latent_dim, num_classes, config.label_dim)
        self.project = nn.Linear(self.input.features, widths[0] * self.base)
        outs = [*widths[1:], 1]
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(a, b, KERNEL, STRIDE, padding=PADDING, output_padding=1)
            for a, b in zip(widths, outs, strict=True)
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.project(self.input(z, labels)).view(z.shape[0], -1, self.base)  # (B, d·2^(k-1), base)
        for up in self.ups:
            h = up(F.relu(h))  # (B, C, L) -> (B, C/2, 4L)
        return torch.tanh(h)


class WaveGANDiscriminator(nn.Module):
    """Waveforms (B, 1, window) [+ labels (B,)] → critic scores (B,)."""

    def __init__(self, config: WaveGANConfig, num_classes: int, who: str = "WaveGAN"):
        super().__init__()
        base, stages = strided_stages(config.window, STRIDE, (16, 32), who)
        d = config.model_size
        widths = [d * 2**i for i in range(stages)]  # k = 5, d = 64: [64, 128, 256, 512, 1024]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip([1, *widths[:-1]], widths, strict=True)):
            conv = nn.Conv1d(a, b, KERNEL, STRIDE, padding=PADDING)
            layers += [maybe_spectral_norm(conv, config.spectral_norm), nn.LeakyReLU(0.2)]
            if i < stages - 1:
                layers.append(PhaseShuffle(config.phase_shuffle))
        self.features = nn.Sequential(*layers)
        self.head = ProjectionHead(widths[-1] * base, num_classes, config.spectral_norm)

    def forward(self, waves: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(waves).flatten(1)  # (B, 1, window) -> (B, d·2^(k-1), base) -> (B, d·2^(k-1)·base)
        return self.head(h, labels)


@register_model("audio/wavegan")
class WaveGAN(AudioGAN):
    """``audio/wavegan``: WaveGAN with WGAN-GP; ``conditional=true`` adds labels (embedding in G, projection in D)."""

    config_class: ClassVar[type[WaveGANConfig]] = WaveGANConfig
    description: ClassVar[str] = "WaveGAN: 1-D convolutional GAN on raw waveforms (Donahue et al. 2019)"
    config: WaveGANConfig

    def __init__(self, config: WaveGANConfig):
        super().__init__(config)
        who = self.registry_name or type(self).__name__
        self.generator = WaveGANGenerator(config, self.label_classes, who)
        self.discriminator = WaveGANDiscriminator(config, self.label_classes, who)

    def synthesize(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Clips (B, clip_samples) in [-1, 1] for latents z (B, latent_dim) [and labels (B,)]."""
        return self.generator(z, labels)[:, 0, : self.config.clip_samples]  # (B, 1, window) -> (B, clip_samples)

    def to_waves(self, output: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return output  # already waves: nothing is drawn after the generator

    def to_critic_input(self, waves: torch.Tensor) -> torch.Tensor:
        return waves[:, None]  # (B, window) -> (B, 1, window)
