"""``audio/unet-mask``: a small 2-D U-Net that predicts a bounded magnitude mask of the noisy STFT.

The noisy wave ``y`` (B, samples) goes through the STFT (periodic Hann window of ``win_ms``, hop ``hop_ms``:
512 / 128 samples at 16 kHz), giving ``Y`` (B, F, T). The network reads the log-magnitude ``log max(|Y|, 1e-5)``,
normalised per frequency by a BatchNorm (a fixed affine map at inference), as a one-channel picture over
(frequency, time) and returns one logit per bin; the mask is ``M = max_gain · sigmoid(logit)`` in
``[0, max_gain]`` (1 by default: the model only attenuates). The estimate keeps the noisy phase:
``Ŝ = M · Y`` and ``ŝ = iSTFT(Ŝ)`` at the input's length. Masking the mixture's spectrogram with a U-Net
follows Jansson et al. 2017 (singing-voice separation); the U-Net is that of Ronneberger et al. 2015.

With ``mask="complex"`` the network also reads the noisy phase, as the two channels ``cos ∠Y`` and
``sin ∠Y``, and returns two numbers ``(a, b)`` per bin: a complex ratio mask (Williamson et al. 2016) bounded
like DCCRN's (Hu et al. 2020), ``M = max_gain · tanh(|a + jb|) · (a + jb)/|a + jb|``, which can also turn
the phase of a bin. A magnitude mask cannot do better than the noisy phase; at 0 dB that phase error is a
large part of what is left.

The U-Net has ``levels`` resolution levels; level ``l`` works at 1/2^l of the frequency and time resolution
with ``min(base_channels · 2^l, max_channels)`` channels. Each level has two [conv 3×3 → BatchNorm →
LeakyReLU(0.2)] layers; levels are joined by 2×2 average pooling on the way down and by nearest-neighbour
upsampling plus the skip connection (concatenated) on the way up; a 1×1 convolution gives the logits. The
frequency axis and the time axis are zero-padded (after the input normalisation) to multiples of
``2^(levels-1)`` and cropped back.

Training loss: the negative scale-invariant SDR of the estimated waveform against the clean one (Le Roux et
al. 2019, :func:`~genlab.audio.signal_metrics.si_sdr_batch`), plus ``spectral_weight`` times the relative L1
distance of the STFT magnitudes ``‖|STFT ŝ| − |STFT s|‖₁ / ‖|STFT s|‖₁`` — SI-SDR ignores the output's level,
the magnitude term pins it.

**Receptive field** (what exact chunked inference needs, :mod:`genlab.audio.enhancement.streaming`): every 3×3
convolution at level ``l`` reaches ``2^l`` frames to each side, every pooling and every upsampling between
levels ``l`` and ``l + 1`` shifts by at most ``2^(l+1)`` frames, so an output frame depends on input frames
within ``R = 2·Σ_{l<L} 2^l + 2·Σ_{l<L-1} 2^(l+1) + 2·Σ_{l<L-1} 2^l`` frames (:attr:`UNetMask.receptive_frames`;
72 frames, 0.58 s at the default 4 levels and 8 ms hop). Nothing in the network looks further: no
normalisation over time at inference (BatchNorm uses its running statistics), no recurrence, no attention.

**Test-time shifts** (``enhance(wave, shifts=S)``): the enhancement is the mean of the model's output for ``S``
copies of the input delayed by ``d_k = round(k·(P + hop)/S)`` samples, ``k < S``, ``P = hop · 2^(levels-1)`` the
period of the network's pooling grid, each copy's output advanced back by ``d_k``. The delays spread over a
period of the pooling grid and a hop at once, so the copies differ in the phase of the STFT frames against the
signal as well as in that of the pooling grid; their errors differ and partly average out. Averaging outputs
over shifted inputs is the "shift trick" of Défossez et al. 2019 (who draw random shifts; these are fixed, for
reproducibility). A copy is delayed by prepending the reflection of its first ``d_k`` samples
(:func:`reflect_delay`), not zeros: digital silence reads as the log floor, far below anything trained on, and
through the receptive field it spoils the frames after it (a copy delayed with zeros scores far below the
undelayed one). It costs ``S`` passes.

References:
    A. Défossez, N. Usunier, L. Bottou and F. Bach, "Music Source Separation in the Waveform Domain",
    arXiv:1911.13254, 2019.
    O. Ronneberger, P. Fischer and T. Brox, "U-Net: Convolutional Networks for Biomedical Image Segmentation",
    MICCAI 2015.
    A. Jansson, E. Humphrey, N. Montecchio, R. Bittner, A. Kumar and T. Weyde, "Singing Voice Separation with
    Deep U-Net Convolutional Networks", ISMIR 2017.
    J. Le Roux, S. Wisdom, H. Erdogan and J. R. Hershey, "SDR – half-baked or well done?", ICASSP 2019.
    D. S. Williamson, Y. Wang and D. Wang, "Complex Ratio Masking for Monaural Speech Separation", IEEE/ACM
    TASLP 24(3), 2016.
    Y. Hu et al., "DCCRN: Deep Complex Convolution Recurrent Network for Phase-Aware Speech Enhancement",
    Interspeech 2020.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.audio.features import istft, stft
from genlab.audio.signal_metrics import si_sdr_batch
from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel, ModelConfig, OptimizerSpec, register_model

TASK = "audio-denoising"
LOG_FLOOR = 1e-5  # magnitudes below this (−100 dBFS per bin) read as this in the log-magnitude
MAX_SHIFTS = 64  # test-time shifts allowed (each one is a pass of the network)
COMPLEX_START = 1.376  # initial real logit of a complex mask: tanh(1.376) = 0.88, the magnitude mask's σ(2)


class UNetMaskConfig(ModelConfig):
    """STFT front end, U-Net size, mask bound and loss of the masking enhancer; the rate is set from the data."""

    sample_rate: int = Field(
        16000, ge=8000, le=48000, description="rate of the audio the model enhances (Hz); set from the data"
    )
    win_ms: float = Field(32.0, gt=1, le=128, description="STFT window, ms (the FFT size is the next power of 2)")
    hop_ms: float = Field(8.0, gt=0.5, le=64, description="STFT hop, ms (a quarter of the window is usual)")
    base_channels: int = Field(12, ge=2, le=256, description="channels of the first U-Net level")
    levels: int = Field(
        4, ge=1, le=6, description="U-Net resolution levels (levels − 1 halvings of frequency and time)"
    )
    max_channels: int = Field(96, ge=2, le=1024, description="channels of a level are capped at this")
    max_gain: float = Field(1.0, ge=1.0, le=4.0, description="upper bound of the mask (1: the model only attenuates)")
    mask: Literal["magnitude", "complex"] = Field(
        "magnitude",
        description="magnitude: a real mask on the noisy STFT, the noisy phase kept; complex: a bounded complex "
        "ratio mask that also corrects the phase (the network reads the noisy phase too)",
    )
    spectral_weight: float = Field(
        1.0, ge=0, le=100, description="weight of the relative STFT-magnitude L1 term added to −SI-SDR (0: SI-SDR only)"
    )
    lr: float = Field(1e-3, gt=0, le=1, description="Adam learning rate")
    schedule: Literal["constant", "cosine"] = Field(
        "constant",
        description="learning rate over the run: constant (a --max-minutes budget alone will do) or cosine decay "
        "to 0 (over the run's steps, or its --max-minutes)",
    )

    @property
    def win_length(self) -> int:
        """Window length in samples."""
        return max(2, int(round(self.sample_rate * self.win_ms / 1000)))

    @property
    def n_fft(self) -> int:
        """FFT size: the window length rounded up to a power of 2 (512 for 32 ms at 16 kHz)."""
        return 1 << (self.win_length - 1).bit_length()

    @property
    def hop_length(self) -> int:
        """Hop between frames in samples (128 for 8 ms at 16 kHz)."""
        return max(1, int(round(self.sample_rate * self.hop_ms / 1000)))

    @property
    def widths(self) -> list[int]:
        """Channels of each level."""
        return [min(self.base_channels * 2**level, self.max_channels) for level in range(self.levels)]


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two [conv 3×3 → BatchNorm → LeakyReLU(0.2)] layers."""
    layers: list[nn.Module] = []
    for cin in (in_channels, out_channels):
        layers += [nn.Conv2d(cin, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels)]
        layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


class MaskUNet(nn.Module):
    """Log-magnitude (B, F, T) [and phase channels (B, 2, F, T)] → mask logits (B, out_channels, F, T): a U-Net
    over (frequency, time) (module docstring)."""

    def __init__(
        self, n_freq: int, widths: list[int], in_channels: int = 1, initial_logits: tuple[float, ...] = (2.0,)
    ):
        super().__init__()
        self.input_norm = nn.BatchNorm1d(n_freq)  # per-frequency statistics of the log-magnitude
        self.down = nn.ModuleList(conv_block(in_channels if i == 0 else widths[i - 1], w) for i, w in enumerate(widths))
        self.up = nn.ModuleList(conv_block(widths[i + 1] + widths[i], widths[i]) for i in range(len(widths) - 1))
        self.out = nn.Conv2d(widths[0], len(initial_logits), 1)
        nn.init.zeros_(self.out.weight)
        with torch.no_grad():  # start close to passing the input through (σ(2) = 0.88; tanh(1.376) = 0.88)
            self.out.bias.copy_(torch.tensor(initial_logits))
        self.multiple = 2 ** (len(widths) - 1)

    def forward(self, log_magnitude: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        _, n_freq, n_frames = log_magnitude.shape
        x = self.input_norm(log_magnitude).unsqueeze(1)  # (B, F, T) -> (B, 1, F, T)
        if extra is not None:
            x = torch.cat([x, extra], dim=1)
        m = self.multiple
        x = F.pad(x, (0, -n_frames % m, 0, -n_freq % m))  # (B, C, F', T'), multiples of 2^(levels-1)
        skips = []
        for i, block in enumerate(self.down):
            x = block(F.avg_pool2d(x, 2) if i else x)
            skips.append(x)
        for i in reversed(range(len(self.up))):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = self.up[i](torch.cat([x, skips[i]], dim=1))
        return self.out(x)[:, :, :n_freq, :n_frames]


def reflect_delay(wave: torch.Tensor, delay: int) -> torch.Tensor:
    """Waves (..., samples) delayed by ``delay`` samples: preceded by the mirror image of their start (sample
    ``-i`` reads sample ``i``, folding back and forth over the wave when ``delay`` exceeds its length)."""
    if delay == 0:
        return wave
    length = wave.shape[-1]
    if length == 1:
        index = torch.zeros(delay, dtype=torch.long)
    else:
        period = 2 * (length - 1)
        index = torch.arange(delay, 0, -1) % period  # i for sample -i, folded over a period of the mirror
        index = torch.where(index < length, index, period - index)
    return torch.cat([wave[..., index.to(wave.device)], wave], dim=-1)


@register_model("audio/unet-mask")
class UNetMask(GenerativeModel):
    """Speech enhancer: STFT → log-magnitude → U-Net → bounded magnitude mask on the noisy STFT → iSTFT."""

    config_class = UNetMaskConfig
    task: ClassVar[str] = TASK
    description: ClassVar[str] = "speech denoiser: a U-Net predicting a magnitude or complex mask of the noisy STFT"
    config: UNetMaskConfig

    def __init__(self, config: UNetMaskConfig):
        super().__init__(config)
        complex_mask = config.mask == "complex"
        self.net = MaskUNet(config.n_fft // 2 + 1, config.widths, in_channels=3 if complex_mask else 1,
                            initial_logits=(COMPLEX_START, 0.0) if complex_mask else (2.0,))  # fmt: skip

    # --- geometry -------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def frame_multiple(self) -> int:
        """Chunks of frames must start at multiples of this for the pooling grid to line up (2^(levels-1))."""
        return self.net.multiple

    @property
    def receptive_frames(self) -> int:
        """Input STFT frames on each side that one output frame of the mask can depend on (module docstring)."""
        levels = self.config.levels
        convs = 2 * sum(2**lvl for lvl in range(levels)) + 2 * sum(2**lvl for lvl in range(levels - 1))
        resampling = 2 * sum(2 ** (lvl + 1) for lvl in range(levels - 1))  # one pooling and one upsampling per join
        return convs + resampling

    # --- inference --------------------------------------------------------------------------------
    def spectrum(self, wave: torch.Tensor) -> torch.Tensor:
        """Complex STFT (..., F, T) of waves (..., samples) with the model's window and hop (frames centred)."""
        c = self.config
        return stft(wave, c.n_fft, c.hop_length, c.win_length)

    def waveform(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """Inverse of :meth:`spectrum`: waves (..., length) of complex STFTs (..., F, T)."""
        c = self.config
        return istft(spec, c.n_fft, c.hop_length, c.win_length, length=length)

    def mask(self, spec: torch.Tensor) -> torch.Tensor:
        """The mask (B, F, T) of noisy STFTs (B, F, T): real in [0, max_gain], or complex with a modulus in
        [0, max_gain) (``mask="complex"``)."""
        magnitude = spec.abs()
        log_magnitude = torch.log(magnitude.clamp_min(LOG_FLOOR))
        if self.config.mask == "magnitude":
            return self.config.max_gain * torch.sigmoid(self.net(log_magnitude)[:, 0])
        phasor = torch.where(magnitude > 0, spec / magnitude.clamp_min(1e-12), torch.ones_like(spec))
        logits = self.net(log_magnitude, torch.stack([phasor.real, phasor.imag], dim=1))
        z = torch.complex(logits[:, 0], logits[:, 1])
        modulus = torch.sqrt(logits[:, 0] ** 2 + logits[:, 1] ** 2 + 1e-12)  # smooth at 0, unlike |z|
        return (self.config.max_gain * torch.tanh(modulus) / modulus) * z

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """Enhanced waves (B, samples) of noisy waves (B, samples) at the model's rate."""
        self.check_input(noisy)
        spec = self.spectrum(noisy)
        return self.waveform(self.mask(spec) * spec, noisy.shape[-1])

    def check_input(self, wave: torch.Tensor) -> None:
        if wave.dim() != 2 or wave.shape[-1] == 0:
            raise BadInputError(
                f"{self.registry_name} enhances waves (B, samples), got shape {tuple(wave.shape)}",
                f"pass mono audio at {self.config.sample_rate} Hz (wave.unsqueeze(0) for one wave)",
            )

    def shift_delays(self, shifts: int) -> list[int]:
        """Delays in samples of the copies :meth:`enhance` averages for ``shifts`` test-time shifts: evenly
        spaced over one period of the pooling grid plus one hop (module docstring)."""
        if not isinstance(shifts, int) or not 1 <= shifts <= MAX_SHIFTS:
            raise BadInputError(
                f"shifts must be a whole number from 1 to {MAX_SHIFTS}, got {shifts!r}",
                "1 enhances once; 4 to 8 average that many shifted passes (slower by as much)",
            )
        span = self.config.hop_length * (self.frame_multiple + 1)
        return [round(k * span / shifts) for k in range(shifts)]

    @torch.no_grad()
    def enhance(self, wave: torch.Tensor, shifts: int = 1) -> torch.Tensor:
        """The enhanced version of a mono wave (samples,) or a batch (B, samples) at the model's rate, whole
        (for long recordings see :func:`genlab.audio.enhancement.streaming.enhance_stream`); ``shifts`` > 1
        averages that many shifted passes (module docstring)."""
        delays = self.shift_delays(shifts)
        single = wave.dim() == 1
        batch = wave.unsqueeze(0) if single else wave
        self.check_input(batch)
        was_training = self.training
        self.eval()
        try:
            x = batch.float().to(next(self.parameters()).device)
            out = sum(self(reflect_delay(x, d))[..., d:] for d in delays) / len(delays)
        finally:
            self.train(was_training)
        out = out.cpu()
        return out[0] if single else out

    # --- model contract ---------------------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        return [OptimizerSpec("model", list(self.parameters()), lr=self.config.lr, schedule=self.config.schedule)]

    def training_losses(self, batch: Any, group: str = "model") -> dict[str, torch.Tensor]:
        """``batch`` = (noisy (B, samples), clean (B, samples)): the loss, SI-SDR of the estimate and its
        improvement over the noisy input (dB, batch means)."""
        noisy, clean = batch
        estimate = self(noisy)
        si_sdr = si_sdr_batch(estimate, clean)
        loss = -si_sdr.mean()
        if self.config.spectral_weight:
            est_mag, ref_mag = self.spectrum(estimate).abs(), self.spectrum(clean).abs()
            relative = (est_mag - ref_mag).abs().mean((-2, -1)) / ref_mag.mean((-2, -1)).clamp_min(1e-8)
            loss = loss + self.config.spectral_weight * relative.mean()
        with torch.no_grad():
            improvement = si_sdr - si_sdr_batch(noisy, clean)
        return {"loss": loss, "si_sdr": si_sdr.detach().mean(), "si_sdr_improvement": improvement.mean()}

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return self.training_losses(batch)
