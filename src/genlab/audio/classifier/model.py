"""A log-mel CNN that labels short clips: the spoken-digit judge of audio generation, and a speaker classifier.

The clip (B, samples) is scaled to unit RMS (a recording's level says nothing of its class), turned into
a log-mel spectrogram (:class:`~genlab.audio.features.MelSpectrogram`: 32 ms windows, 10 ms hops,
``n_mels`` bands), normalised by a BatchNorm over the whole picture, and read by four
[conv 3×3 → BatchNorm → ReLU → max-pool 2×2] blocks; the last map is averaged over time (where in the
clip a word starts says nothing of the word; which bands hold energy says much), and a ``feature_dim``
layer follows (its activations are the features of the Fréchet distance and the inception-score-like
number, as LeNet's are for images), then dropout and the class logits.
While training, SpecAugment-style masks (Park et al. 2019) hide one random band of up to ``freq_mask``
mel channels and one random span of up to ``time_mask`` frames of each spectrogram.

References:
    D. S. Park, W. Chan, Y. Zhang, C.-C. Chiu, B. Zoph, E. D. Cubuk and Q. V. Le, "SpecAugment: A Simple
    Data Augmentation Method for Automatic Speech Recognition", Interspeech 2019.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.audio.features import MelSpectrogram, spec_augment
from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel, ModelConfig, OptimizerSpec, register_model

TASK = "audio-classification"


class MelCNNConfig(ModelConfig):
    """Architecture and training recipe of the log-mel CNN; rates and lengths are set from the data."""

    sample_rate: int = Field(8000, ge=1000, le=48000, description="input sample rate (Hz); set from the data")
    clip_samples: int = Field(8000, ge=256, description="input length in samples; set from the data")
    n_mels: int = Field(40, ge=8, le=256, description="mel bands of the spectrogram")
    win_ms: float = Field(32.0, gt=0, le=200, description="analysis window, ms (the FFT size is the next power of 2)")
    hop_ms: float = Field(10.0, gt=0, le=100, description="hop between frames, ms")
    widths: tuple[int, int, int, int] = Field((16, 32, 64, 128), description="channels of the four conv blocks")
    feature_dim: int = Field(128, ge=8, le=2048, description="size of the feature layer (Fréchet distance, IS)")
    dropout: float = Field(0.3, ge=0, lt=1)
    num_classes: int = Field(10, ge=2, description="set from the data")
    class_names: list[str] = Field(default_factory=list, description="set from the data")
    freq_mask: int = Field(6, ge=0, description="widest random mel band hidden while training (SpecAugment)")
    time_mask: int = Field(10, ge=0, description="longest random span of frames hidden while training")
    lr: float = Field(2e-3, gt=0, le=1, description="Adam learning rate (peak of the cosine schedule)")
    schedule: Literal["constant", "cosine"] = Field(
        "cosine", description="learning rate over the run: cosine decay to 0 (over the steps or minutes of the run)"
    )

    @property
    def n_fft(self) -> int:
        win = int(round(self.sample_rate * self.win_ms / 1000))
        return 1 << max(0, (win - 1).bit_length())

    @property
    def hop_length(self) -> int:
        return max(1, int(round(self.sample_rate * self.hop_ms / 1000)))


@register_model("audio/mel-cnn")
class MelCNN(GenerativeModel):
    """Log-mel spectrogram → four conv blocks → mean over time → features → class logits."""

    config_class = MelCNNConfig
    task: ClassVar[str] = TASK
    description: ClassVar[str] = "log-mel CNN classifier of short clips (spoken digits, speakers)"
    config: MelCNNConfig

    def __init__(self, config: MelCNNConfig):
        super().__init__(config)
        c = config
        self.mel = MelSpectrogram(c.sample_rate, n_fft=c.n_fft, hop_length=c.hop_length, n_mels=c.n_mels,
                                  win_length=int(round(c.sample_rate * c.win_ms / 1000)))  # fmt: skip
        self.norm = nn.BatchNorm2d(1)
        blocks, width = [], 1
        for w in c.widths:
            blocks += [nn.Conv2d(width, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)]
            width = w
        self.body = nn.Sequential(*blocks)
        bands = c.n_mels
        for _ in c.widths:
            bands = -(-bands // 2)  # each max-pool halves the mel axis (rounding up)
        self.fc = nn.Linear(width * bands, c.feature_dim)
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.feature_dim, c.num_classes)

    def check_input(self, wave: torch.Tensor) -> None:
        if wave.dim() != 2:
            raise BadInputError(
                f"{self.registry_name} takes clips (B, samples), got shape {tuple(wave.shape)}",
                f"pass mono clips at {self.config.sample_rate} Hz",
            )

    def spectrogram(self, wave: torch.Tensor) -> torch.Tensor:
        """Log-mel pictures (B, 1, n_mels, frames) of clips (B, samples) scaled to unit RMS."""
        wave = wave / wave.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(1e-4)
        return self.mel(wave).unsqueeze(1)

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """Feature-layer activations (B, feature_dim) of clips (B, samples) (after the ReLU)."""
        self.check_input(wave)
        spec = self.spectrogram(wave)
        if self.training:
            spec = spec_augment(spec, self.config.freq_mask, self.config.time_mask, fill=spec.mean(dim=(1, 2, 3)))
        h = self.body(self.norm(spec))  # (B, 1, n_mels, frames) -> (B, width, n_mels/16, frames/16)
        return F.relu(self.fc(h.mean(dim=3).flatten(1)))  # averaged over time: (B, width · n_mels/16)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes) of clips (B, samples)."""
        return self.head(self.dropout(self.features(wave)))

    # --- model contract -------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        return [OptimizerSpec("classifier", list(self.parameters()), lr=self.config.lr, schedule=self.config.schedule)]

    def training_losses(self, batch: tuple[torch.Tensor, torch.Tensor], group: str = "classifier") -> dict:
        """Cross-entropy of a batch ``(clips (B, samples), labels (B,))``, and its accuracy."""
        waves, labels = batch
        logits = self(waves)
        accuracy = (logits.argmax(1) == labels).float().mean().detach()
        return {"loss": F.cross_entropy(logits, labels), "accuracy": accuracy}

    @property
    def class_names(self) -> list[str]:
        c = self.config
        return list(c.class_names) if c.class_names else [str(i) for i in range(c.num_classes)]

    @torch.no_grad()
    def probabilities(self, waves: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Class probabilities (N, K) of clips (N, clip_samples) at the model's rate (eval mode)."""
        was_training = self.training
        self.eval()
        try:
            parts = [self(waves[i : i + batch_size]).softmax(1) for i in range(0, len(waves), batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(parts) if parts else torch.empty(0, self.config.num_classes)

    @torch.no_grad()
    def embed(self, waves: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Features (N, feature_dim) of clips (N, clip_samples) (eval mode)."""
        was_training = self.training
        self.eval()
        try:
            parts = [self.features(waves[i : i + batch_size]) for i in range(0, len(waves), batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(parts) if parts else torch.empty(0, self.config.feature_dim)
