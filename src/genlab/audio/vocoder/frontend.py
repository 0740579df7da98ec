"""The mel front end: the exact analysis a vocoder inverts, stated as a config every model of speech can share.

A vocoder turns log-mel spectrograms back into waves; it can only invert the analysis it was trained on. A
text-to-speech acoustic model that predicts mels for it must therefore compute its training mels the same
way. :class:`MelFrontEnd` is that contract: its fields are the numbers that differ between systems, and the
conventions that do not vary in genlab are fixed here.

For a mono wave ``x`` (samples,) at ``sample_rate``:

1. ``X = STFT(x)`` with a periodic Hann window of ``win_length`` samples (centred in ``n_fft``), hop
   ``hop_length``, frames centred (``x`` zero-padded by ``n_fft // 2`` on both sides): a wave of ``T`` samples
   gives ``1 + T // hop_length`` frames (:func:`genlab.audio.features.stft`);
2. ``M = F · |X|``: magnitudes (power 1, as HiFi-GAN, Tacotron 2 and Vocos), projected on ``n_mels``
   triangular filters from ``f_min`` to ``f_max`` on Slaney's mel scale with Slaney's area normalisation
   (:func:`genlab.audio.features.mel_filterbank`, librosa's default);
3. ``log_mel = ln(max(M, log_floor))``: natural log, floored (1e-5 by default: −100 dB of a full-scale bin).

Frames ↔ samples: :meth:`MelFrontEnd.frames` (``1 + T // hop``) and :meth:`MelFrontEnd.samples`
(``(N − 1) · hop``, the length a vocoder gives ``N`` frames when no length is asked for: every frame centre
inside the wave).

Defaults follow the rate: the hop is the largest power of two not longer than 16 ms and the window and FFT
are four hops (256 / 1024 samples at 16 kHz and at 22.05 or 24 kHz — the HiFi-GAN and Vocos settings —, 128 /
512 at 8 kHz), 80 mel bands from 0 Hz to the Nyquist frequency. Validation writes the resolved numbers into
the config, so a saved model states its front end in full.

:meth:`MelFrontEnd.griffin_lim` inverts the front end with no training — the classical baseline every neural
vocoder is compared with: the mel projection is undone approximately (:func:`~genlab.audio.features.mel_to_magnitude`,
non-negative least squares by projected gradient) and the phase recovered by fast Griffin-Lim (Perraudin,
Balazs & Søndergaard 2013; :func:`~genlab.audio.features.griffin_lim`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from pydantic import Field, model_validator

from genlab.audio.features import MelSpectrogram, griffin_lim, mel_filterbank, mel_to_magnitude
from genlab.core.config import Config
from genlab.core.errors import BadInputError

HOP_SECONDS = 0.016  # the default hop: the largest power of two not longer than this
WINDOW_HOPS = 4  # the default window and FFT, in hops
#: conventions of every genlab mel front end (not configurable; :meth:`MelFrontEnd.contract` lists them)
FIXED = {"window": "periodic hann", "center": True, "power": 1, "mel_scale": "slaney", "mel_norm": "slaney",
         "log": "natural"}  # fmt: skip


def default_hop(sample_rate: int) -> int:
    """The largest power of two not longer than 16 ms at ``sample_rate`` (256 at 16, 22.05 and 24 kHz)."""
    return 1 << max(4, int(math.floor(math.log2(HOP_SECONDS * sample_rate))))


class MelFrontEnd(Config):
    """The log-mel analysis a vocoder inverts (module docstring); ``None`` sizes are derived from the rate."""

    sample_rate: int = Field(16000, ge=8000, le=48000, description="rate of the audio (Hz); set from the data")
    n_fft: int | None = Field(None, ge=64, le=8192, description="FFT size of the STFT (default: the window length)")
    hop_length: int | None = Field(
        None, ge=16, le=2048, description="samples between frames (default: the largest power of 2 within 16 ms: "
        "256 at 16 kHz)",
    )  # fmt: skip
    win_length: int | None = Field(None, ge=32, le=8192, description="Hann window length (default: four hops)")
    n_mels: int = Field(80, ge=8, le=256, description="mel bands")
    f_min: float = Field(0.0, ge=0, description="lowest frequency of the mel filters (Hz)")
    f_max: float | None = Field(None, gt=0, description="highest frequency of the mel filters (Hz; default: Nyquist)")
    log_floor: float = Field(1e-5, gt=0, le=0.1, description="mel values are floored at this before the natural log")

    @model_validator(mode="before")
    @classmethod
    def _derived_sizes(cls, values: Any) -> Any:
        """Fill the sizes left out (or None) from the rate, so the config states every number."""
        if not isinstance(values, dict):
            return values
        values = dict(values)
        try:
            rate = int(values.get("sample_rate") or cls.model_fields["sample_rate"].default)
        except (TypeError, ValueError):
            return values  # the field validator reports it
        if rate <= 0:
            return values
        if values.get("hop_length") is None:
            values["hop_length"] = default_hop(rate)
        if values.get("win_length") is None:
            values["win_length"] = values.get("n_fft") or WINDOW_HOPS * values["hop_length"]
        if values.get("n_fft") is None:
            values["n_fft"] = 1 << (int(values["win_length"]) - 1).bit_length()  # next power of two
        if values.get("f_max") is None:
            values["f_max"] = rate / 2
        return values

    @model_validator(mode="after")
    def _consistent(self) -> MelFrontEnd:
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length ({self.win_length}) must not exceed n_fft ({self.n_fft})")
        if self.hop_length >= self.win_length:
            raise ValueError(f"hop_length ({self.hop_length}) must be shorter than the window ({self.win_length}): "
                             "frames must overlap for the STFT to be invertible")  # fmt: skip
        if not self.f_min < self.f_max <= self.sample_rate / 2:
            raise ValueError(f"need f_min < f_max <= sample_rate / 2 = {self.sample_rate / 2:g} Hz, "
                             f"got f_min={self.f_min:g}, f_max={self.f_max:g}")  # fmt: skip
        return self

    # ----------------------------------------------------------------------------- the contract
    def front_end(self) -> MelFrontEnd:
        """The front end alone (a model config deriving from this class holds more fields)."""
        return MelFrontEnd(**{name: getattr(self, name) for name in MelFrontEnd.model_fields})

    def contract(self) -> dict[str, Any]:
        """Every number and convention of the analysis, for a model card or a check by another model."""
        return self.front_end().to_dict() | FIXED

    def check_matches(self, other: MelFrontEnd, what: str = "these mels") -> None:
        """Raise BadInputError naming the differing fields when ``other`` is not the same analysis."""
        mine, theirs = self.front_end().to_dict(), other.front_end().to_dict()
        differ = {k: (theirs[k], v) for k, v in mine.items() if theirs[k] != v}
        if differ:
            listed = ", ".join(f"{k}={a} (vocoder: {b})" for k, (a, b) in differ.items())
            raise BadInputError(
                f"{what} were made with another front end: {listed}",
                "compute the mels with the vocoder's front end (its mel() method or config)",
            )

    def frames(self, samples: int) -> int:
        """Frames of the mel spectrogram of a wave of ``samples`` samples: ``1 + samples // hop_length``."""
        return 1 + int(samples) // self.hop_length

    def samples(self, frames: int) -> int:
        """Samples a vocoder gives ``frames`` frames by default: ``(frames − 1) · hop_length``."""
        return max(0, int(frames) - 1) * self.hop_length

    @property
    def n_freq(self) -> int:
        """Bins of the linear-frequency STFT: ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    def describe(self) -> str:
        """One line: ``80 mels 0–8000 Hz, 1024-point FFT, 1024-sample window, 256-sample hop at 16000 Hz``."""
        return (
            f"{self.n_mels} mels {self.f_min:g}–{self.f_max:g} Hz, {self.n_fft}-point FFT, {self.win_length}-sample "
            f"window, {self.hop_length}-sample hop at {self.sample_rate} Hz (ln, floor {self.log_floor:g})"
        )

    # ----------------------------------------------------------------------------- analysis and inversion
    def mel_spectrogram(self) -> MelSpectrogram:
        """The analysis as an ``nn.Module``: waves (..., samples) → log-mels (..., n_mels, frames)."""
        return MelSpectrogram(self.sample_rate, self.n_fft, self.hop_length, self.n_mels, self.f_min, self.f_max,
                              self.win_length, power=1.0, log=True, floor=self.log_floor)  # fmt: skip

    def filterbank(self) -> torch.Tensor:
        """The mel filters (n_mels, n_fft // 2 + 1) of step 2."""
        return mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, self.f_min, self.f_max)

    def check_mel(self, mel: torch.Tensor) -> None:
        """Raise BadInputError unless ``mel`` is a real (..., n_mels, frames) tensor with at least one frame."""
        if not isinstance(mel, torch.Tensor) or mel.is_complex() or mel.dim() < 2 or mel.shape[-2] != self.n_mels:
            shape = tuple(mel.shape) if isinstance(mel, torch.Tensor) else type(mel).__name__
            raise BadInputError(f"expected log-mels (..., {self.n_mels}, frames), got {shape}",
                                f"compute them with this front end: {self.describe()}")  # fmt: skip
        if mel.shape[-1] == 0:
            raise BadInputError("the mel spectrogram has no frames", "pass at least one frame")

    def griffin_lim(
        self,
        mel: torch.Tensor,
        n_iter: int = 32,
        length: int | None = None,
        generator: torch.Generator | None = None,
        mel_iter: int = 10,
    ) -> torch.Tensor:
        """Waves (..., samples) from log-mels (..., n_mels, frames) with no training: the mel projection undone
        by ``mel_iter`` projected-gradient steps, then ``n_iter`` iterations of fast Griffin-Lim from a random
        phase drawn from ``generator``. ``length``: samples wanted (default :meth:`samples`)."""
        self.check_mel(mel)
        magnitude = mel_to_magnitude(mel.float().exp(), self.filterbank().to(mel.device), n_iter=mel_iter)
        length = self.samples(mel.shape[-1]) if length is None else length
        return griffin_lim(magnitude, self.n_fft, self.hop_length, self.win_length, n_iter=n_iter, length=length,
                           generator=generator)  # fmt: skip
