"""What every STFT-masking speech enhancer of the ``audio-denoising`` task shares.

The noisy wave ``y`` (B, samples) goes through the STFT (periodic Hann window of ``win_ms``, hop ``hop_ms``:
256 / 64 samples at 8 kHz, 512 / 128 at 16 kHz), giving ``Y`` (B, F, T). A network reads it and returns a
mask ``M`` (B, F, T); the estimate is ``Ŝ = M · Y`` and ``ŝ = iSTFT(Ŝ)`` at the input's length. A subclass
says how the mask is computed (:meth:`MaskingEnhancer.mask`) and how far in time it looks, which is what
exact chunked inference needs (:mod:`genlab.audio.enhancement.streaming`):

* :attr:`~MaskingEnhancer.receptive_frames` — input frames on each side of a frame that its mask can depend
  on (for a causal recurrent network, none to the right: it carries its past in a state instead);
* :attr:`~MaskingEnhancer.frame_multiple` — chunks must start at multiples of this (a pooling grid);
* :attr:`~MaskingEnhancer.recurrent` — the mask of a frame depends on every earlier frame through a state;
  :meth:`~MaskingEnhancer.mask_with_state` then continues from a given state and returns the new one.

Training loss: the negative scale-invariant SDR of the estimated waveform against the clean one (Le Roux et
al. 2019, :func:`~genlab.audio.signal_metrics.si_sdr_batch`), plus ``spectral_weight`` times the relative L1
distance of the STFT magnitudes ``‖|STFT ŝ| − |STFT s|‖₁ / ‖|STFT s|‖₁`` — SI-SDR ignores the output's level,
the magnitude term pins it.

References:
    J. Le Roux, S. Wisdom, H. Erdogan and J. R. Hershey, "SDR – half-baked or well done?", ICASSP 2019.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from pydantic import Field

from genlab.audio.features import istft, stft
from genlab.audio.signal_metrics import si_sdr_batch
from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel, ModelConfig, OptimizerSpec

TASK = "audio-denoising"
LOG_FLOOR = 1e-5  # magnitudes below this (−100 dBFS per bin) read as this in the log-magnitude


class MaskingConfig(ModelConfig):
    """STFT front end, mask bound and loss of a masking enhancer; the rate is set from the data."""

    sample_rate: int = Field(
        16000, ge=8000, le=48000, description="rate of the audio the model enhances (Hz); set from the data"
    )
    win_ms: float = Field(32.0, gt=1, le=128, description="STFT window, ms (the FFT size is the next power of 2)")
    hop_ms: float = Field(8.0, gt=0.5, le=64, description="STFT hop, ms (a quarter of the window is usual)")
    max_gain: float = Field(1.0, ge=1.0, le=4.0, description="upper bound of the mask (1: the model only attenuates)")
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
    def n_freq(self) -> int:
        """Frequency bins of the STFT."""
        return self.n_fft // 2 + 1


def log_magnitude(spec: torch.Tensor) -> torch.Tensor:
    """``log max(|Y|, LOG_FLOOR)`` of complex STFTs (..., F, T): what the networks read."""
    return torch.log(spec.abs().clamp_min(LOG_FLOOR))


class MaskingEnhancer(GenerativeModel):
    """Base of the speech enhancers that mask the noisy STFT (module docstring); subclasses give :meth:`mask`."""

    task: ClassVar[str] = TASK
    config: MaskingConfig
    #: The mask of a frame depends on all earlier frames through a state (:meth:`mask_with_state`).
    recurrent: ClassVar[bool] = False

    # --- geometry -------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def frame_multiple(self) -> int:
        """Chunks of frames must start at multiples of this (1: anywhere)."""
        return 1

    @property
    def receptive_frames(self) -> int:
        """Input STFT frames on each side that the mask of one frame can depend on, beyond a recurrent state."""
        raise NotImplementedError

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
        """The mask (B, F, T) of noisy STFTs (B, F, T)."""
        raise NotImplementedError

    def mask_with_state(self, spec: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        """(mask, state after the last frame) of STFT frames (B, F, T) following ``state`` (None: the start of a
        recording); only recurrent enhancers carry a state."""
        raise NotImplementedError(f"{self.registry_name} is not recurrent: use mask()")

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

    @torch.no_grad()
    def enhance(self, wave: torch.Tensor) -> torch.Tensor:
        """The enhanced version of a mono wave (samples,) or a batch (B, samples) at the model's rate, whole
        (for long recordings see :func:`genlab.audio.enhancement.streaming.enhance_stream`)."""
        single = wave.dim() == 1
        batch = wave.unsqueeze(0) if single else wave
        was_training = self.training
        self.eval()
        try:
            device = next(self.parameters()).device
            out = self(batch.float().to(device)).cpu()
        finally:
            self.train(was_training)
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
