"""SpecGAN (Donahue, McAuley & Puckette 2019): a DCGAN on normalised log-magnitude spectrograms, inverted
to audio with Griffin-Lim.

**The picture.** A window of ``window_samples`` samples (zero-padded clip) is turned into a log-magnitude
spectrogram ``S = log(max(|STFT(x)|, 1e-4))`` (periodic Hann window of ``n_fft`` samples, hop ``n_fft/2``,
centred frames; :func:`genlab.audio.features.stft`), keeping ``F = n_fft/2`` frequency bins (the Nyquist bin
is dropped) and ``T = window/hop`` frames (the last, centred past the end, too). The paper's 16 kHz
setting, n_fft 256 (16 ms) and hop 128 (8 ms) on 16384 samples, gives 128 × 128; the default here keeps
the 16 ms window (n_fft = the power of 2 nearest 16 ms: 128 at 8 kHz), so one second at 8 kHz (8192
samples) gives 64 × 128. Each frequency bin f is normalised by the mean μ_f and standard deviation σ_f
of its log magnitudes over the training set, clipped to ``clip_std`` = 3 standard deviations and scaled
into [−1, 1]:

    X[f, t] = clip((S[f, t] − μ_f) / σ_f, −3, 3) / 3.

μ and σ are buffers of the model (filled by the task from every training clip before training, and
saved with the weights), so sampling needs nothing else.

**The networks.** DCGAN's (Radford et al. 2016) as the paper uses them, with width d = ``model_size``
(the paper's 64) and k stages from a base grid whose short side is 4: generator [z, e(y)] → dense →
(d·2^(k-1), F/2^k, T/2^k) → ReLU → k transposed 2-D convs (5×5, stride 2) halving the channels down to
d, then to 1, ReLU between, tanh last; critic: k 2-D convs (5×5, stride 2), 1 → d → … → d·2^(k-1),
LeakyReLU(0.2), no batch normalisation and no phase shuffle, then a linear (projection) head. WGAN-GP
training and conditioning as in :mod:`genlab.audio.generation.base`.

**Back to audio.** A generated X is mapped back, ``S = 3σ_f·X + μ_f``, ``|STFT| = exp(S)``, the dropped
Nyquist bin and last frame set to 0, and :meth:`SpecGAN.vocoder` turns the magnitude into a wave: fast
Griffin-Lim (Perraudin et al. 2013; :func:`genlab.audio.features.griffin_lim`) with ``griffin_lim_iters``
iterations (the paper: 16) from a seeded random phase. A neural vocoder can replace it by overriding
:meth:`~SpecGAN.vocoder` (magnitudes (B, n_fft/2 + 1, T + 1) → waves (B, window)).

References:
    C. Donahue, J. McAuley and M. Puckette, "Adversarial Audio Synthesis", ICLR 2019.
    A. Radford, L. Metz and S. Chintala, "Unsupervised Representation Learning with Deep Convolutional
    Generative Adversarial Networks", ICLR 2016.
    N. Perraudin, P. Balazs and P. L. Søndergaard, "A fast Griffin-Lim algorithm", WASPAA 2013.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import nn

from genlab.audio.features import griffin_lim, stft
from genlab.audio.generation.base import AudioGAN, AudioGANConfig, LatentInput, ProjectionHead
from genlab.core.errors import ConfigError
from genlab.core.model import register_model
from genlab.nn.layers import maybe_spectral_norm

LOG_FLOOR = 1e-4  # magnitudes below this count as silence (zero padding): log(1e-4) ≈ −9.2
MIN_STD = 1e-2  # a bin that never varies (always silent) is not blown up by its tiny σ
KERNEL, STRIDE, PADDING = 5, 2, 2  # ×2 / ÷2 exactly with output_padding=1 in the generator
STATS_DECIMALS = 5


class SpecGANConfig(AudioGANConfig):
    """``audio/specgan``: the paper's networks, spectrogram and recipe; only the width defaults to 16 (paper: 64)."""

    n_fft: int | None = Field(
        None,
        ge=16,
        le=4096,
        description="FFT size, a power of 2; the hop is n_fft/2 (None: the power of 2 nearest a 16 ms window, "
        "128 at 8 kHz, 256 at 16 kHz as in the paper)",
    )
    clip_std: float = Field(3.0, gt=0, le=10, description="normalised log magnitudes are clipped to ± this many σ")
    griffin_lim_iters: int = Field(32, ge=1, le=1000, description="Griffin-Lim iterations of the vocoder (paper: 16)")
    spec_mean: list[float] | None = Field(
        None, description="mean log magnitude of each frequency bin over the training clips; set from the data"
    )
    spec_std: list[float] | None = Field(
        None, description="standard deviation of each bin's log magnitude over the training clips; set from the data"
    )

    @field_validator("n_fft")
    @classmethod
    def _power_of_two(cls, value: int | None) -> int | None:
        if value is not None and value & (value - 1):
            raise ValueError(f"n_fft must be a power of 2 (64, 128, 256), got {value}")
        return value

    @property
    def fft_size(self) -> int:
        """``n_fft``, or the power of 2 nearest 16 ms at the sample rate."""
        if self.n_fft is not None:
            return self.n_fft
        return 1 << max(4, round(math.log2(self.sample_rate * 0.016)))

    @property
    def hop_length(self) -> int:
        return self.fft_size // 2

    @property
    def spectrogram_shape(self) -> tuple[int, int]:
        """(frequency bins F, frames T) of the pictures the networks work on."""
        return self.fft_size // 2, self.window // self.hop_length


def grid_plan(shape: tuple[int, int], who: str) -> tuple[tuple[int, int], int]:
    """(base grid, stages): halve (F, T) until the short side is 4; both sides must be powers of 2 ≥ 8."""
    f, t = shape
    if min(f, t) < 8 or f & (f - 1) or t & (t - 1):
        raise ConfigError(
            f"{who} cannot work on {f} × {t} spectrograms",
            "use n_fft and window_samples that give at least 8 bins and 8 frames (n_fft ≥ 16, window ≥ 4·n_fft)",
        )
    stages = int(math.log2(min(f, t))) - 2
    return (f >> stages, t >> stages), stages


class SpecGANGenerator(nn.Module):
    """z (B, latent_dim) [+ labels (B,)] → normalised spectrograms (B, 1, F, T) in [-1, 1]."""

    def __init__(self, config: SpecGANConfig, num_classes: int, who: str = "SpecGAN"):
        super().__init__()
        self.base, stages = grid_plan(config.spectrogram_shape, who)
        d = config.model_size
        widths = [d * 2 ** (stages - 1 - i) for i in range(stages)]  # k = 5, d = 64: [1024, 512, 256, 128, 64]
        self.input = LatentInput(config.latent_dim, num_classes, config.label_dim)
        self.project = nn.Linear(self.input.features, widths[0] * self.base[0] * self.base[1])
        outs = [*widths[1:], 1]
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(a, b, KERNEL, STRIDE, padding=PADDING, output_padding=1)
            for a, b in zip(widths, outs, strict=True)
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.project(self.input(z, labels)).view(z.shape[0], -1, *self.base)  # (B, d·2^(k-1), F/2^k, T/2^k)
        for up in self.ups:
            h = up(F.relu(h))  # (B, C, h, w) -> (B, C/2, 2h, 2w)
        return torch.tanh(h)


class SpecGANDiscriminator(nn.Module):
    """Normalised spectrograms (B, 1, F, T) [+ labels (B,)] → critic scores (B,)."""

    def __init__(self, config: SpecGANConfig, num_classes: int, who: str = "SpecGAN"):
        super().__init__()
        base, stages = grid_plan(config.spectrogram_shape, who)
        d = config.model_size
        widths = [d * 2**i for i in range(stages)]
        layers: list[nn.Module] = []
        for a, b in zip([1, *widths[:-1]], widths, strict=True):
            conv = nn.Conv2d(a, b, KERNEL, STRIDE, padding=PADDING)
            layers += [maybe_spectral_norm(conv, config.spectral_norm), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.head = ProjectionHead(widths[-1] * base[0] * base[1], num_classes, config.spectral_norm)

    def forward(self, spectrograms: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(spectrograms).flatten(1), labels)  # (B, C, F/2^k, T/2^k) flattened


def log_magnitude(waves: torch.Tensor, n_fft: int, shape: tuple[int, int]) -> torch.Tensor:
    """Log magnitudes (B, F, T) of waves (B, window): the first F bins and T frames of the centred STFT."""
    f, t = shape
    return torch.log(stft(waves, n_fft, n_fft // 2).abs()[..., :f, :t].clamp_min(LOG_FLOOR))


@register_model("audio/specgan")
class SpecGAN(AudioGAN):
    """``audio/specgan``: SpecGAN with WGAN-GP and a Griffin-Lim vocoder; ``conditional=true`` adds labels."""

    config_class: ClassVar[type[SpecGANConfig]] = SpecGANConfig
    synthesis_output: ClassVar[str] = "log_magnitude"
    description: ClassVar[str] = "SpecGAN: DCGAN on log spectrograms + Griffin-Lim (Donahue et al. 2019)"
    config: SpecGANConfig

    def __init__(self, config: SpecGANConfig):
        super().__init__(config)
        who = self.registry_name or type(self).__name__
        bins = config.spectrogram_shape[0]
        for name, values in (("spec_mean", config.spec_mean), ("spec_std", config.spec_std)):
            if values is not None and len(values) != bins:
                raise ConfigError(
                    f"{who}: {name} has {len(values)} values but the spectrograms have {bins} frequency bins",
                    "drop spec_mean/spec_std: they are measured on the training data",
                )
        self.generator = SpecGANGenerator(config, self.label_classes, who)
        self.discriminator = SpecGANDiscriminator(config, self.label_classes, who)
        ready = config.spec_mean is not None and config.spec_std is not None
        mean = torch.tensor(config.spec_mean) if ready else torch.zeros(bins)
        std = torch.tensor(config.spec_std) if ready else torch.ones(bins)
        self.register_buffer("spec_mean", mean.float())
        self.register_buffer("spec_std", std.float().clamp_min(MIN_STD))
        self.register_buffer("stats_ready", torch.tensor(int(ready), dtype=torch.uint8))

    # --- normalisation ----------------------------------------------------------
    def spectrogram(self, waves: torch.Tensor) -> torch.Tensor:
        """Log magnitudes (B, F, T) of waves (B, window)."""
        return log_magnitude(waves, self.config.fft_size, self.config.spectrogram_shape)

    def normalize(self, log_mag: torch.Tensor) -> torch.Tensor:
        """Log magnitudes (B, F, T) → normalised, clipped pictures (B, 1, F, T) in [-1, 1]."""
        c = self.config.clip_std
        z = (log_mag - self.spec_mean[:, None]) / self.spec_std[:, None]
        return (z.clamp(-c, c) / c).unsqueeze(1)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised pictures (B, 1, F, T) → log magnitudes (B, F, T) (the inverse of :meth:`normalize`
        inside the clipping range)."""
        return x[:, 0] * self.config.clip_std * self.spec_std[:, None] + self.spec_mean[:, None]

    @classmethod
    def statistics(cls, config: SpecGANConfig, waves: Iterable[torch.Tensor]) -> dict[str, list[float]]:
        """``{"spec_mean", "spec_std"}``: per-bin mean and standard deviation of the log magnitudes of all
        frames of ``waves`` (batches (B, samples), zero-padded or cut to the window)."""
        shape, n_fft, window = config.spectrogram_shape, config.fft_size, config.window
        total = torch.zeros(shape[0], dtype=torch.float64)
        squares = torch.zeros(shape[0], dtype=torch.float64)
        count = 0
        for batch in waves:
            batch = F.pad(batch, (0, max(0, window - batch.shape[-1])))[:, :window]
            s = log_magnitude(batch.float(), n_fft, shape).double()  # (B, F, T)
            total += s.sum(dim=(0, 2))
            squares += s.pow(2).sum(dim=(0, 2))
            count += s.shape[0] * s.shape[2]
        if count == 0:
            raise ConfigError("no clips to measure spectrogram statistics on", "train on a non-empty dataset")
        mean = total / count
        std = (squares / count - mean.pow(2)).clamp_min(0).sqrt()
        return {
            "spec_mean": [round(float(v), STATS_DECIMALS) for v in mean],
            "spec_std": [round(float(v), STATS_DECIMALS) for v in std],
        }

    def _fit_statistics_once(self, waves: torch.Tensor) -> None:
        """Without statistics from the data (a model built outside ``genlab train``), estimate them from the
        first training batch."""
        if bool(self.stats_ready):
            return
        warnings.warn(
            "SpecGAN has no spectrogram statistics of its training data: estimating them from this batch "
            "(genlab train measures them on every training clip)",
            stacklevel=3,
        )
        stats = self.statistics(self.config, [waves.detach().cpu()])
        with torch.no_grad():
            self.spec_mean.copy_(torch.tensor(stats["spec_mean"]))
            self.spec_std.copy_(torch.tensor(stats["spec_std"]).clamp_min(MIN_STD))
            self.stats_ready.fill_(1)

    # --- generator output ↔ waves -----------------------------------------------
    def to_critic_input(self, waves: torch.Tensor) -> torch.Tensor:
        return self.normalize(self.spectrogram(waves))

    def synthesize(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Log magnitudes (B, F, T) for latents z (B, latent_dim) [and labels (B,)]: the generator's picture
        mapped back through the training statistics (:meth:`denormalize`)."""
        return self.denormalize(self.generator(z, labels))

    def to_waves(self, output: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Log magnitudes (B, F, T) → waves (B, window) through :meth:`vocoder` (Griffin-Lim, seeded by
        ``generator``)."""
        magnitude = output.exp()  # (B, F, T)
        magnitude = F.pad(magnitude, (0, 1, 0, 1))  # the dropped Nyquist bin and last frame: (B, F + 1, T + 1)
        return self.vocoder(magnitude, generator)

    def vocoder(self, magnitude: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Magnitudes (B, n_fft/2 + 1, T + 1) → waves (B, window): fast Griffin-Lim from a seeded random phase.

        The hook a neural vocoder overrides; ``generator`` seeds what it draws."""
        c = self.config
        return griffin_lim(
            magnitude, c.fft_size, c.hop_length, n_iter=c.griffin_lim_iters, length=c.window, generator=generator
        )

    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        self._fit_statistics_once(self.padded(batch[0].to(self.device, torch.float32)))
        return super().training_losses(batch, group)
