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
from pydantic import Field
from torch import nn

from genlab.audio.enhancement.masking import MaskingConfig, MaskingEnhancer, log_magnitude
from genlab.core.model import register_model


class GRUMaskConfig(MaskingConfig):
    """STFT front end, recurrent network size, mask bound and loss; the rate is set from the data."""

    hidden: int = Field(256, ge=4, le=2048, description="units of the input layer and of each GRU")
    layers: int = Field(2, ge=1, le=6, description="stacked GRU layers")


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
        self.inp = nn.Linear(n_freq, hidden)
        self.rnn = nn.GRU(hidden, hidden, num_layers=config.layers, batch_first=True)
        self.out = nn.Linear(hidden, n_freq)
        nn.init.zeros_(self.out.weight)
        nn.init.constant_(self.out.bias, 2.0)  # start close to passing the input through: σ(2) = 0.88

    @property
    def receptive_frames(self) -> int:
        """No frame of the input beyond the current one on either side: the past comes in through the state."""
        return 0

    def mask_with_state(self, spec: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mask (B, F, T) in [0, max_gain], GRU state (layers, B, hidden) after the last frame) of STFT frames
        (B, F, T) that follow ``state`` (None: the start of a recording)."""
        x = self.input_norm(log_magnitude(spec)).transpose(1, 2)  # (B, T, F)
        h, state = self.rnn(F.leaky_relu(self.inp(x), 0.2), state)
        return self.config.max_gain * torch.sigmoid(self.out(h)).transpose(1, 2), state

    def mask(self, spec: torch.Tensor) -> torch.Tensor:
        """The mask (B, F, T) in [0, max_gain] of noisy STFTs (B, F, T), each from its first frame."""
        return self.mask_with_state(spec)[0]
