"""``audio/gru-mask``: a causal recurrent network that predicts a magnitude mask of the noisy STFT, frame by frame.

Each STFT frame's log-magnitude ``log max(|Y|, 1e-5)`` (F bins), normalised per frequency by a BatchNorm (a
fixed affine map at inference), goes through a linear layer and a LeakyReLU(0.2) to ``hidden`` units, then
through ``layers`` stacked GRUs (Cho et al. 2014) of ``hidden`` units running forward in time, and a linear
layer gives one logit per bin: the mask is ``M = max_gain · sigmoid(logit)``, applied to the noisy STFT with
its phase kept (:mod:`genlab.audio.enhancement.masking`). It starts close to passing the input through
(σ(2) = 0.88).

A recurrent mask estimator is the model of Chen and Wang (2017), who found that an LSTM tracking a speaker over
time generalises to unseen speakers and noises better than feed-forward networks, which see a fixed window;
the gated recurrent unit is the smaller cell. The network is causal: a frame's mask depends on that frame and
the ones before it, through the state, never on later frames. So chunked inference is exact by carrying the
state from chunk to chunk (:meth:`GRUMask.mask_with_state`, :mod:`genlab.audio.enhancement.streaming`), and
the model could run live with the STFT's latency (one window).

References:
    J. Chen and D. Wang, "Long short-term memory for speaker generalization in supervised speech separation",
    JASA 141(6), 2017.
    K. Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder for Statistical Machine
    Translation", EMNLP 2014.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import nn

from genlab.audio.enhancement.masking import MaskingConfig, MaskingEnhancer, log_magnitude
from genlab.core.model import register_model


class GRUMaskConfig(MaskingConfig):
    """STFT front end, recurrent network size, mask bound and loss; the rate is set from the data."""

    hidden: int = Field(256, ge=4, le=2048, description="units of the input layer and of each GRU")
    layers: int = Field(2, ge=1, le=6, description="stacked GRU layers")
    conv_channels: list[int] = Field(
        default_factory=list,
        max_length=6,
        description="channels of the convolutions over frequency around the GRUs (each halves the bins; a "
        "decoder mirrors them with skip connections); empty: a frame's bins go straight to a linear layer",
    )

    @field_validator("conv_channels")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(c < 1 or c > 1024 for c in value):
            raise ValueError(f"conv_channels must be between 1 and 1024, got {value}")
        return value


def frequency_conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """Conv over frequency (kernel 3) → BatchNorm → LeakyReLU(0.2), on frames (N, C, F)."""
    return nn.Sequential(
        nn.Conv1d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm1d(cout), nn.LeakyReLU(0.2)
    )


class FrequencyCodec(nn.Module):
    """The convolutional encoder and decoder over the frequency axis of each frame (module docstring): frames
    (N, 1, F) → features (N, C·F') for the GRUs, and GRU outputs (N, C·F') plus the encoder's skips → logits
    (N, F)."""

    def __init__(self, n_freq: int, channels: list[int]):
        super().__init__()
        self.sizes = [n_freq]
        for _ in channels:
            self.sizes.append((self.sizes[-1] - 1) // 2 + 1)
        ins = [1, *channels[:-1]]
        self.encoder = nn.ModuleList(frequency_conv(cin, c, stride=2) for cin, c in zip(ins, channels, strict=True))
        outs = [channels[0], *channels[:-1]]  # level i's decoder returns level i - 1's channels
        self.decoder = nn.ModuleList(frequency_conv(2 * c, o) for c, o in zip(channels, outs, strict=True))
        self.top = frequency_conv(channels[0] + 1, channels[0])
        self.out = nn.Conv1d(channels[0], 1, 1)
        self.features = channels[-1] * self.sizes[-1]

    def encode(self, frames: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x, skips = frames, []
        for layer in self.encoder:
            x = layer(x)
            skips.append(x)
        return x.flatten(1), skips

    def decode(self, h: torch.Tensor, frames: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        x = h.view_as(skips[-1])
        for level in reversed(range(len(self.decoder))):
            x = self.decoder[level](torch.cat([x, skips[level]], dim=1))
            x = F.interpolate(x, size=self.sizes[level], mode="linear", align_corners=True)
        return self.out(self.top(torch.cat([x, frames], dim=1)))[:, 0]


@register_model("audio/gru-mask")
class GRUMask(MaskingEnhancer):
    """Speech enhancer: STFT → log-magnitude per frame → linear → GRUs (causal) → magnitude mask → iSTFT."""

    config_class = GRUMaskConfig
    description: ClassVar[str] = "speech denoiser: a causal GRU predicting a magnitude mask of the noisy STFT"
    config: GRUMaskConfig
    recurrent: ClassVar[bool] = True

    def __init__(self, config: GRUMaskConfig):
        super().__init__(config)
        n_freq, hidden = config.n_freq, config.hidden
        self.input_norm = nn.BatchNorm1d(n_freq)  # per-frequency statistics of the log-magnitude
        self.codec = FrequencyCodec(n_freq, config.conv_channels) if config.conv_channels else None
        features = self.codec.features if self.codec else n_freq
        self.inp = nn.Linear(features, hidden)
        self.rnn = nn.GRU(hidden, hidden, num_layers=config.layers, batch_first=True)
        self.out = nn.Linear(hidden, features)
        last = self.codec.out if self.codec else self.out
        nn.init.zeros_(last.weight)
        nn.init.constant_(last.bias, 2.0)  # start close to passing the input through: σ(2) = 0.88

    @property
    def receptive_frames(self) -> int:
        """No frame of the input beyond the current one on either side: the past comes in through the state."""
        return 0

    def mask_with_state(self, spec: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mask (B, F, T) in [0, max_gain], GRU state (layers, B, hidden) after the last frame) of STFT frames
        (B, F, T) that follow ``state`` (None: the start of a recording)."""
        x = self.input_norm(log_magnitude(spec)).transpose(1, 2)  # (B, T, F)
        if self.codec is None:
            h, state = self.rnn(F.leaky_relu(self.inp(x), 0.2), state)
            logits = self.out(h)
        else:
            b, t, n_freq = x.shape
            frames = x.reshape(b * t, 1, n_freq)
            features, skips = self.codec.encode(frames)
            h, state = self.rnn(F.leaky_relu(self.inp(features.view(b, t, -1)), 0.2), state)
            logits = self.codec.decode(self.out(h).reshape(b * t, -1), frames, skips).view(b, t, n_freq)
        return self.config.max_gain * torch.sigmoid(logits).transpose(1, 2), state

    def mask(self, spec: torch.Tensor) -> torch.Tensor:
        """The mask (B, F, T) in [0, max_gain] of noisy STFTs (B, F, T), each from its first frame."""
        return self.mask_with_state(spec)[0]
