"""What every vocoder of the ``vocoder`` task shares: its mel front end, the training losses and the API.

A vocoder is a :class:`Vocoder` (a :class:`~genlab.core.model.GenerativeModel`) whose config derives from
:class:`VocoderConfig`, which holds the mel front end (:class:`~genlab.audio.vocoder.frontend.MelFrontEnd`)
beside the loss settings, so a saved vocoder states exactly which mels it inverts. The API:

* :meth:`Vocoder.mel` — the analysis it expects: waves (..., samples) → log-mels (..., n_mels, frames);
* :meth:`Vocoder.vocode` — its inversion: log-mels (..., n_mels, frames) → waves (..., samples), by default
  ``(frames − 1) · hop`` samples (``length`` asks for another count);
* :meth:`Vocoder.resynthesize` — ``vocode(mel(wave))`` at the wave's length (copy synthesis);
* :attr:`Vocoder.receptive_frames` — how many mel frames on each side one output frame depends on (what
  chunked vocoding needs, :mod:`genlab.audio.vocoder.streaming`).

A model implements ``forward(mel, length) → wave`` (differentiable) and ``receptive_frames``.

**Training** (:meth:`Vocoder.training_losses`): a batch of speech segments ``x`` (B, samples) is analysed
(``mel(x)``) and resynthesised (``x̂ = forward(mel, samples)``); the reconstruction loss is
``stft_weight · (L_sc + L_mag) + mel_weight · mean |mel(x̂) − mel(x)|`` (:mod:`genlab.audio.vocoder.losses`).
With ``adversarial_weight`` > 0 a multi-resolution discriminator is built and trained in a second optimizer
group (``discriminator``, stepped before the ``generator``) with the chosen adversarial loss, and the generator
adds ``adversarial_weight · (L_adv + feature_matching_weight · L_fm)``. It is off by default: on a CPU budget
of minutes the reconstruction losses alone get further (a GAN needs hundreds of thousands of steps to pay off),
and a model with no discriminator is half the cost per step; with a GPU and hours, turn it on (Vocos uses a
discriminator and feature matching with a mel weight of 45).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from pydantic import Field, model_validator

from genlab.audio.vocoder.frontend import MelFrontEnd
from genlab.audio.vocoder.losses import MultiResolutionDiscriminator, feature_matching, multi_resolution_stft_loss
from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel, ModelConfig, OptimizerSpec
from genlab.nn.adversarial import ADVERSARIAL_LOSSES, frozen

TASK = "vocoder"
#: Parallel WaveGAN's STFT resolutions (n_fft, hop, window), in samples
STFT_RESOLUTIONS = [(512, 50, 240), (1024, 120, 600), (2048, 240, 1200)]


class VocoderConfig(ModelConfig, MelFrontEnd):
    """The mel front end (:class:`MelFrontEnd`'s fields) plus the losses and optimiser of a vocoder."""

    stft_resolutions: list[tuple[int, int, int]] = Field(
        default_factory=lambda: list(STFT_RESOLUTIONS), min_length=1, max_length=8,
        description="(n_fft, hop, window) of each resolution of the multi-resolution STFT loss and discriminator",
    )  # fmt: skip
    stft_weight: float = Field(1.0, ge=0, le=1000, description="weight of the multi-resolution STFT loss")
    mel_weight: float = Field(1.0, ge=0, le=1000, description="weight of the L1 distance of the log-mels")
    adversarial_weight: float = Field(
        0.0, ge=0, le=100, description="weight of the adversarial and feature-matching terms (0: no discriminator)"
    )
    adversarial_loss: Literal["hinge", "least-squares", "non-saturating"] = Field(
        "hinge", description="adversarial loss of the discriminator and the generator (genlab.nn.adversarial)"
    )
    feature_matching_weight: float = Field(2.0, ge=0, le=100, description="feature matching, relative to L_adv")
    discriminator_channels: int = Field(32, ge=4, le=256, description="channels of each spectrogram discriminator")
    lr: float = Field(2e-3, gt=0, le=1, description="Adam learning rate (generator and discriminator)")
    schedule: Literal["constant", "cosine"] = Field(
        "constant", description="learning rate over the run: constant, or cosine decay to 0 (over the steps or "
        "epochs of the run, else over --max-minutes)",
    )  # fmt: skip

    @model_validator(mode="after")
    def _resolutions(self) -> VocoderConfig:
        for n_fft, hop, win in self.stft_resolutions:
            if not 1 <= hop < win <= n_fft:
                raise ValueError(f"STFT loss resolution (n_fft={n_fft}, hop={hop}, window={win}) needs "
                                 "1 <= hop < window <= n_fft, e.g. (1024, 120, 600)")  # fmt: skip
        return self


class Vocoder(GenerativeModel):
    """Base of the vocoders (module docstring): front end, losses, ``mel``/``vocode``/``resynthesize``."""

    task: ClassVar[str] = TASK
    config: VocoderConfig

    def __init__(self, config: VocoderConfig):
        super().__init__(config)
        self.analysis = config.mel_spectrogram()  # its window and filterbank are rebuilt, not saved
        self.discriminator = (
            MultiResolutionDiscriminator(config.stft_resolutions, config.discriminator_channels)
            if config.adversarial_weight > 0 else None
        )  # fmt: skip

    # --- the front-end contract ---------------------------------------------------------------
    @property
    def front_end(self) -> MelFrontEnd:
        """The analysis this vocoder inverts."""
        return self.config.front_end()

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def receptive_frames(self) -> int:
        """Mel frames on each side that one frame of the output spectrum depends on."""
        raise NotImplementedError

    def mel(self, wave: torch.Tensor) -> torch.Tensor:
        """Log-mels (..., n_mels, frames) of waves (..., samples) at :attr:`sample_rate`: the analysis this
        vocoder expects (:class:`~genlab.audio.vocoder.frontend.MelFrontEnd`)."""
        if not isinstance(wave, torch.Tensor) or wave.dim() == 0 or wave.shape[-1] == 0:
            raise BadInputError(f"expected waves (..., samples), got {getattr(wave, 'shape', type(wave).__name__)}",
                                f"pass mono audio at {self.sample_rate} Hz")  # fmt: skip
        return self.analysis(wave.float())

    def forward(self, mel: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Waves (B, samples) of log-mels (B, n_mels, frames), differentiably; ``length`` samples (default
        ``(frames − 1) · hop``)."""
        raise NotImplementedError

    @torch.no_grad()
    def vocode(self, mel: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Waves of log-mels: (n_mels, frames) → (samples,), (B, n_mels, frames) → (B, samples); ``length``
        samples (default ``(frames − 1) · hop``). Whole; for long inputs see
        :func:`genlab.audio.vocoder.streaming.vocode_stream`."""
        c = self.config
        c.check_mel(mel)
        if mel.dim() > 3:
            raise BadInputError(f"expected (n_mels, frames) or (B, n_mels, frames), got {tuple(mel.shape)}")
        if length is not None and c.frames(length) != mel.shape[-1]:
            shortest = c.samples(mel.shape[-1])
            raise BadInputError(f"{length} samples give {c.frames(length)} frames, but the mel has {mel.shape[-1]}",
                                f"ask for a length in [{shortest}, {shortest + c.hop_length - 1}] or none")  # fmt: skip
        single = mel.dim() == 2
        batch = mel.unsqueeze(0) if single else mel
        was_training = self.training
        self.eval()
        try:
            device = next(self.parameters()).device
            out = self(batch.float().to(device), length).cpu()
        finally:
            self.train(was_training)
        return out[0] if single else out

    @torch.no_grad()
    def resynthesize(self, wave: torch.Tensor) -> torch.Tensor:
        """``vocode(mel(wave))`` at the wave's length: (samples,) → (samples,), (B, samples) → (B, samples)."""
        return self.vocode(self.mel(wave), length=wave.shape[-1])

    # --- training -------------------------------------------------------------------------------
    def generator_parameters(self) -> list[torch.nn.Parameter]:
        return [p for name, p in self.named_parameters() if not name.startswith("discriminator.")]

    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        groups = [OptimizerSpec("generator", self.generator_parameters(), lr=c.lr, betas=(0.8, 0.99),
                                schedule=c.schedule)]  # fmt: skip
        if self.discriminator is not None:
            groups.insert(0, OptimizerSpec("discriminator", list(self.discriminator.parameters()), lr=c.lr,
                                           betas=(0.8, 0.99), schedule=c.schedule))  # fmt: skip
        return groups

    def _waves(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(waves (B, samples), given mels (B, n_mels, frames) or None)`` of a batch: waves alone, ClipDataset's
        (waves, labels) or (waves, mels) pairs whose mels come from elsewhere (an acoustic model's)."""
        wave = batch[0] if isinstance(batch, (list, tuple)) else batch  # (wave, label) items of ClipDataset
        if wave.dim() != 2:
            raise BadInputError(f"a vocoder trains on waves (B, samples), got {tuple(wave.shape)}")
        given = batch[1] if isinstance(batch, (list, tuple)) and len(batch) > 1 and batch[1].dim() == 3 else None
        if given is not None and given.shape[-1] != self.config.frames(wave.shape[-1]):
            raise BadInputError(
                f"{wave.shape[-1]} samples need {self.config.frames(wave.shape[-1])} mel frames, "
                f"the batch gives {given.shape[-1]}",
                "pair each wave with its centred frames",
            )
        return wave.float(), (given.float() if given is not None else None)

    def reconstruction_losses(self, wave: torch.Tensor, estimate: torch.Tensor, mel: torch.Tensor) -> dict:
        """The reconstruction loss of ``estimate`` against ``wave`` (module docstring) and its terms."""
        c = self.config
        convergence, log_distance = multi_resolution_stft_loss(estimate, wave, c.stft_resolutions)
        mel_l1 = (self.mel(estimate) - mel).abs().mean()
        loss = c.stft_weight * (convergence + log_distance) + c.mel_weight * mel_l1
        return {"loss": loss, "stft_sc": convergence.detach(), "stft_mag": log_distance.detach(),
                "mel_l1": mel_l1.detach()}  # fmt: skip

    def training_losses(self, batch: Any, group: str = "generator") -> dict[str, torch.Tensor]:
        """``batch``: segments (B, samples) (or ClipDataset's (waves, labels)). ``generator``: the reconstruction
        loss (+ the adversarial terms); ``discriminator``: its adversarial loss on real and resynthesised segments."""
        wave, given = self._waves(batch)
        mel = self.mel(wave)
        source = mel if given is None else given  # the mels to invert: the wave's own, or an acoustic model's
        if group == "discriminator":
            return self._discriminator_losses(wave, source)
        estimate = self(source, wave.shape[-1])
        losses = self.reconstruction_losses(wave, estimate, mel)
        if self.discriminator is not None:
            adversarial = ADVERSARIAL_LOSSES[self.config.adversarial_loss]
            with frozen(self.discriminator):
                fake = self.discriminator(estimate)
                with torch.no_grad():
                    real = self.discriminator(wave)
            g_adv = torch.stack([adversarial.generator(scores) for scores, _ in fake]).sum()
            fm = feature_matching([f for _, f in fake], [f for _, f in real])
            losses["loss"] = losses["loss"] + self.config.adversarial_weight * (
                g_adv + self.config.feature_matching_weight * fm
            )
            losses |= {"g_adv": g_adv.detach(), "feature_matching": fm.detach()}
        return losses

    def _discriminator_losses(self, wave: torch.Tensor, mel: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.discriminator is None:
            raise BadInputError("this vocoder has no discriminator", "set adversarial_weight > 0 to train one")
        with torch.no_grad():
            estimate = self(mel, wave.shape[-1])
        adversarial = ADVERSARIAL_LOSSES[self.config.adversarial_loss]
        scores = zip(self.discriminator(wave), self.discriminator(estimate), strict=True)
        d_loss = torch.stack([adversarial.discriminator(real, fake) for (real, _), (fake, _) in scores]).sum()
        return {"loss": d_loss, "d_loss": d_loss.detach()}

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        """The reconstruction loss and its terms (no adversarial term), without gradients."""
        with torch.no_grad():
            wave, given = self._waves(batch)
            mel = self.mel(wave)
            return self.reconstruction_losses(wave, self(mel if given is None else given, wave.shape[-1]), mel)
