"""Training losses of vocoders: the multi-resolution STFT loss, a mel L1, and a multi-resolution discriminator.

**Multi-resolution STFT loss** (Yamamoto, Song & Kim, "Parallel WaveGAN", ICASSP 2020; Arık et al. 2019 for the
spectral convergence term). For each STFT resolution ``m`` (FFT size, hop, window) with magnitudes
``S = |STFT_m(x)|`` of the reference and ``Ŝ = |STFT_m(x̂)|`` of the estimate, over the whole batch:

* spectral convergence ``L_sc = ‖S − Ŝ‖_F / ‖S‖_F`` (dominated by the loud bins: the spectral peaks);
* log-magnitude distance ``L_mag = mean |ln S − ln Ŝ|`` (magnitudes floored at 1e-7; every bin counts, so the
  quiet ones — the noise floor between harmonics, high frequencies — count too);

and the loss is ``(1/M) Σ_m (L_sc + L_mag)``. Several resolutions keep the model from fitting one
time-frequency trade-off at the expense of the others; the defaults are Parallel WaveGAN's (FFT sizes 512, 1024,
2048 with hops 50, 120, 240 and windows 240, 600, 1200). Because a wave has exactly one STFT at each resolution,
matching magnitudes at overlapping frames constrains the phase as well: the loss needs no phase target.

**Mel L1**: ``mean |mel(x̂) − mel(x)|`` of the vocoder's own log-mel analysis (HiFi-GAN, Kong et al. 2020;
Vocos): the model reproduces the features it is given.

**Multi-resolution discriminator** (UnivNet, Jang et al., Interspeech 2021; used by Vocos): one 2-D
convolutional network per STFT resolution reads the compressed magnitude ``ln(1 + |STFT(x)|)`` as a picture
(time × frequency), strided along frequency, and returns a map of real/fake scores and its hidden features.
The generator is trained against it with an adversarial loss of :mod:`genlab.nn.adversarial` and feature
matching (Larsen et al. 2016; MelGAN, Kumar et al. 2019): ``mean_l |D_l(x̂) − D_l(x)|`` over its hidden layers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from genlab.audio.features import stft

MAGNITUDE_FLOOR = 1e-7


def stft_magnitude(wave: torch.Tensor, n_fft: int, hop_length: int, win_length: int) -> torch.Tensor:
    """``|STFT(wave)|`` (B, n_fft // 2 + 1, frames) of waves (B, samples) (periodic Hann window, frames centred)."""
    return stft(wave, n_fft, hop_length, win_length).abs()


def multi_resolution_stft_loss(
    estimate: torch.Tensor, reference: torch.Tensor, resolutions: list[tuple[int, int, int]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(spectral convergence, log-magnitude L1), each averaged over ``resolutions`` ((n_fft, hop, win) triples),
    of waves (B, samples) (module docstring)."""
    convergence, log_distance = estimate.new_zeros(()), estimate.new_zeros(())
    for n_fft, hop, win in resolutions:
        est = stft_magnitude(estimate, n_fft, hop, win).clamp_min(MAGNITUDE_FLOOR)
        ref = stft_magnitude(reference, n_fft, hop, win).clamp_min(MAGNITUDE_FLOOR)
        convergence = convergence + torch.linalg.vector_norm(ref - est) / torch.linalg.vector_norm(ref).clamp_min(1e-5)
        log_distance = log_distance + (ref.log() - est.log()).abs().mean()
    return convergence / len(resolutions), log_distance / len(resolutions)


class SpectrogramDiscriminator(nn.Module):
    """One resolution of the multi-resolution discriminator: waves (B, samples) → (score map (B, T', F'),
    hidden features) (module docstring)."""

    def __init__(self, resolution: tuple[int, int, int], channels: int = 32):
        super().__init__()
        self.resolution = tuple(resolution)
        kernel, pad = (3, 9), (1, 4)  # (time, frequency)
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(1, channels, kernel, padding=pad)),
            *(weight_norm(nn.Conv2d(channels, channels, kernel, stride=(1, 2), padding=pad)) for _ in range(3)),
            weight_norm(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1))),
        ])  # fmt: skip
        self.out = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = torch.log1p(stft_magnitude(wave, *self.resolution))  # (B, F, T)
        x = x.transpose(1, 2).unsqueeze(1)  # (B, F, T) -> (B, 1, T, F)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            features.append(x)
        return self.out(x).flatten(1), features


class MultiResolutionDiscriminator(nn.Module):
    """One :class:`SpectrogramDiscriminator` per STFT resolution."""

    def __init__(self, resolutions: list[tuple[int, int, int]], channels: int = 32):
        super().__init__()
        self.discriminators = nn.ModuleList(SpectrogramDiscriminator(r, channels) for r in resolutions)

    def forward(self, wave: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        """(scores (B, ·), features) of every resolution."""
        return [d(wave) for d in self.discriminators]


def feature_matching(fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]]) -> torch.Tensor:
    """Mean over discriminators and layers of ``mean |D_l(x̂) − D_l(x)|`` (the real features are targets)."""
    terms = [(f - r.detach()).abs().mean() for fs, rs in zip(fake, real, strict=True)
             for f, r in zip(fs, rs, strict=True)]  # fmt: skip
    return torch.stack(terms).mean()
