"""``speech/tacotron2``: an autoregressive acoustic model — phoneme ids → attention decoder → log-mels.

**Encoder.** Symbol ids (B, L) → embedding (``embedding_dim``) → ``encoder_conv_layers`` 1-D convolutions (kernel
``encoder_kernel``, channel LayerNorm, ReLU, dropout) → one bidirectional LSTM over the real symbols of each
sequence (packed by ``id_lengths``) → memory ``h`` (B, L, ``encoder_dim``). With several speakers a speaker
embedding (``speaker_dim``) is concatenated to every memory vector. Padded positions are zeroed after every layer,
so a sequence's memory does not depend on how much padding its batch adds.

**Decoder.** One step emits ``r`` mel frames (the reduction factor, Wang et al. 2017), so an utterance of ``F``
frames takes ``T = ⌈F / r⌉`` steps (the target is padded to ``T·r`` frames with normalised silence). Step ``i``
reads the last frame of step ``i − 1`` (a zero "go" frame first; the ground truth while training — teacher forcing)
through the prenet, two ReLU layers whose dropout stays on at inference too (Shen et al. 2018, §2.3: it is the
model's only source of variation), then

    a_i      = AttentionLSTM([prenet(y_{i−1}); c_{i−1}])
    f_i      = Conv1d([α_{i−1}; Σ_{k<i} α_k])                    (location features, ``location_filters``)
    e_{i,j}  = vᵀ tanh(W a_i + V h_j + U f_{i,j} + b)             (location-sensitive attention,
    α_i      = softmax_j(e_{i,·}),   c_i = Σ_j α_{i,j} h_j          Chorowski et al. 2015)
    d_i      = DecoderLSTM([a_i; c_i])
    y_i      = Linear([d_i; c_i]) ∈ ℝ^{r·n_mels},   s_i = Linear([d_i; c_i]) ∈ ℝ   (stop-token logit)

The attention energies of padded symbols are −∞. The postnet (``postnet_layers`` convolutions of kernel
``postnet_kernel``, tanh between them) adds a residual to the decoder's mels: ``ŷ = y + Postnet(y)``.

**Training** (on mels normalised per band, :meth:`~genlab.speech.tts.base.AcousticModel.normalize`):
``loss = L_dec + L_post + L_stop + λ_ga · L_ga`` where ``L_dec``/``L_post`` are the MSE (or L1, ``mel_loss``) of
the decoder and postnet mels against the target over each utterance's real frames; ``L_stop`` is the binary
cross-entropy of the stop logits over each utterance's ``⌈F / r⌉`` steps, whose last step is the only positive one
(weighted by ``stop_pos_weight``); ``L_ga`` is the guided-attention loss (Tachibana et al. 2018), the mean of
``α_{t,n} · W_{t,n}`` over the real (step, symbol) pairs of each utterance with

    W_{t,n} = 1 − exp(−(n/N − t/T)² / (2 g²)),   n = 0…N−1 symbols, t = 0…T−1 decoder steps, g = 0.2,

which is 0 on the diagonal and penalises attention far from it (:func:`guided_attention_weights`). Being a mean
over steps × symbols, ``L_ga`` is small (per decoder step it weighs 1/N): ``guided_attention_weight`` is 10 by
default — at 1, the attention of a 60-minute CPU run on the eSpeak corpus had not aligned. The returned
``attention_diagonality`` (:func:`diagonality`) is a diagnostic, not trained.

**Inference** (:meth:`Tacotron2.infer`) decodes step by step from its own output until the stop probability
exceeds ``stop_threshold`` or ``min(max_decoder_steps, ⌈max_frames_per_symbol · L / r⌉)`` steps. The prenet's
dropout draws from torch's global random generator, so ``torch.manual_seed`` makes an inference repeatable. The
model chooses its own durations: it has no duration control, so ``speed ≠ 1`` resamples the produced mels along
time by linear interpolation (the pitch is kept, the articulation is simply stretched or squeezed).

References:
    J. Shen et al., "Natural TTS Synthesis by Conditioning WaveNet on Mel Spectrogram Predictions", ICASSP 2018.
    Y. Wang et al., "Tacotron: Towards End-to-End Speech Synthesis", Interspeech 2017.
    J. Chorowski, D. Bahdanau, D. Serdyuk, K. Cho and Y. Bengio, "Attention-Based Models for Speech Recognition",
    NeurIPS 2015.
    H. Tachibana, K. Uenoyama and S. Aihara, "Efficiently Trainable Text-to-Speech System Based on Deep
    Convolutional Networks with Guided Attention", ICASSP 2018.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from genlab.core.errors import BadInputError
from genlab.core.model import evaluating, register_model
from genlab.speech.tts.base import AcousticConfig, AcousticModel, length_mask, trim_batch


class Tacotron2Config(AcousticConfig):
    """Sizes and training recipe of Tacotron 2, smaller than the paper's so it trains on a CPU."""

    embedding_dim: int = Field(256, ge=4, le=1024, description="symbol embedding size")
    encoder_conv_layers: int = Field(3, ge=0, le=6, description="convolutions before the encoder's BiLSTM")
    encoder_kernel: int = Field(5, ge=1, le=15, description="kernel of the encoder convolutions (odd)")
    encoder_dim: int = Field(256, ge=4, le=1024, description="encoder output size (the BiLSTM's, half per direction)")
    dropout: float = Field(0.5, ge=0, lt=1, description="dropout after the encoder and postnet convolutions")
    r: int = Field(2, ge=1, le=8, description="reduction factor: mel frames per decoder step")
    prenet_dim: int = Field(256, ge=4, le=1024, description="width of the two prenet layers")
    prenet_dropout: float = Field(0.5, ge=0, lt=1, description="prenet dropout, also on at inference (as the paper)")
    attention_rnn_dim: int = Field(128, ge=4, le=2048, description="attention LSTM size (paper: 1024)")
    decoder_rnn_dim: int = Field(256, ge=4, le=2048, description="decoder LSTM size (paper: 1024)")
    rnn_dropout: float = Field(0.1, ge=0, lt=1, description="dropout on the outputs of the two decoder LSTMs")
    attention_dim: int = Field(128, ge=4, le=1024, description="size of the attention's hidden energies")
    location_filters: int = Field(32, ge=1, le=256, description="filters of the location-feature convolution")
    location_kernel: int = Field(31, ge=1, le=63, description="kernel of the location-feature convolution (odd)")
    postnet_channels: int = Field(128, ge=4, le=1024, description="channels of the postnet convolutions (paper: 512)")
    postnet_layers: int = Field(5, ge=2, le=8, description="postnet convolutions")
    postnet_kernel: int = Field(5, ge=1, le=15, description="kernel of the postnet convolutions (odd)")
    mel_loss: Literal["mse", "l1"] = Field("mse", description="distance of the decoder and postnet mels to the target")
    stop_pos_weight: float = Field(5.0, gt=0, le=100, description="weight of the positive (last-step) stop target")
    guided_attention_weight: float = Field(
        10.0, ge=0, le=100, description="weight λ_ga of the guided-attention loss (a mean over steps × symbols, so "
        "small: 1 left the attention unaligned after an hour on a CPU)",
    )  # fmt: skip
    guided_attention_sigma: float = Field(0.2, gt=0, le=1, description="width g of the guided-attention weights")
    stop_threshold: float = Field(0.5, gt=0, lt=1, description="inference stops once the stop probability exceeds it")
    max_decoder_steps: int = Field(1000, ge=1, le=10000, description="most decoder steps of one inference")
    max_frames_per_symbol: float = Field(
        20.0, gt=0, le=100, description="inference also stops after this many frames per input symbol"
    )

    @model_validator(mode="after")
    def _odd_sizes(self) -> Tacotron2Config:
        for name in ("encoder_kernel", "location_kernel", "postnet_kernel"):
            if getattr(self, name) % 2 == 0:
                raise ValueError(f"{name} must be odd (got {getattr(self, name)}) so convolutions keep the length")
        if self.encoder_dim % 2:
            raise ValueError(f"encoder_dim must be even (half per LSTM direction), got {self.encoder_dim}")
        return self


# --- attention diagnostics and weights ---------------------------------------------------------------------------
def step_lengths(mel_lengths: torch.Tensor, r: int) -> torch.Tensor:
    """Decoder steps ``⌈F / r⌉`` (B,) of mels of ``mel_lengths`` frames (B,)."""
    return (mel_lengths + r - 1) // r


def guided_attention_weights(id_lengths: torch.Tensor, steps: torch.Tensor, sigma: float = 0.2) -> torch.Tensor:
    """Tachibana et al.'s penalty ``W[b, t, n] = 1 − exp(−(n/N_b − t/T_b)² / (2σ²))`` (B, max T, max N) for
    ``id_lengths`` N (B,) symbols and ``steps`` T (B,) decoder steps; 0 outside each utterance's ``T × N``."""
    n = torch.arange(int(id_lengths.max()), device=id_lengths.device, dtype=torch.float32)
    t = torch.arange(int(steps.max()), device=steps.device, dtype=torch.float32)
    x = n[None, None, :] / id_lengths[:, None, None].float() - t[None, :, None] / steps[:, None, None].float()
    w = 1.0 - torch.exp(-(x**2) / (2 * sigma**2))
    valid = length_mask(steps, len(t))[:, :, None] & length_mask(id_lengths, len(n))[:, None, :]
    return w * valid


def diagonality(
    attn: torch.Tensor, id_lengths: torch.Tensor, mel_lengths: torch.Tensor, r: int = 1, band: float = 0.1
) -> float:
    """Share in [0, 1] of the attention mass that lies near the diagonal, averaged over the real decoder steps of
    every utterance: step ``t`` of ``T = ⌈F/r⌉`` counts the weights of the symbols ``n`` of ``N`` with
    ``|n/N − t/T| ≤ max(band, 1/N)`` (at least the symbols next to the diagonal). 1: a linear alignment; a uniform
    one gives about ``2·band`` (of a long sentence).

    ``attn`` (B, steps, L) from :meth:`Tacotron2.alignment`; ``r`` is the model's reduction factor (frames per step).
    """
    steps = step_lengths(mel_lengths.to(attn.device).long(), r).clamp(1, attn.shape[1])
    ids = id_lengths.to(attn.device).long().clamp(1, attn.shape[2])
    n = torch.arange(attn.shape[2], device=attn.device, dtype=torch.float32)
    t = torch.arange(attn.shape[1], device=attn.device, dtype=torch.float32)
    distance = (n[None, None, :] / ids[:, None, None] - t[None, :, None] / steps[:, None, None]).abs()  # (B, T, L)
    near = distance <= torch.clamp(1.0 / ids[:, None, None], min=band)  # at least the nearest symbol
    mass = (attn * near).sum(-1)  # (B, T)
    valid = length_mask(steps, attn.shape[1])
    return float((mass * valid).sum() / valid.sum().clamp_min(1))


# --- network parts -----------------------------------------------------------------------------------------------
class _ChannelNorm(nn.LayerNorm):
    """LayerNorm over the channels of (B, C, time): per position, so it ignores batch size and padding."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class _Encoder(nn.Module):
    """Ids (B, L) → memory (B, L, encoder_dim): embedding, convolutions, BiLSTM (module docstring)."""

    def __init__(self, c: Tacotron2Config, n_symbols: int):
        super().__init__()
        self.dropout = c.dropout
        self.embedding = nn.Embedding(n_symbols, c.embedding_dim, padding_idx=0)
        k = c.encoder_kernel
        self.convs = nn.ModuleList(nn.Conv1d(c.embedding_dim, c.embedding_dim, k, padding=k // 2)
                                   for _ in range(c.encoder_conv_layers))  # fmt: skip
        self.norms = nn.ModuleList(_ChannelNorm(c.embedding_dim) for _ in range(c.encoder_conv_layers))
        self.lstm = nn.LSTM(c.embedding_dim, c.encoder_dim // 2, batch_first=True, bidirectional=True)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = length_mask(lengths, ids.shape[1])[:, None, :]  # (B, 1, L)
        x = self.embedding(ids).transpose(1, 2) * mask  # (B, L, E) -> (B, E, L)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = F.dropout(F.relu(norm(conv(x))), self.dropout, self.training) * mask  # zero padding, as at the edge
        packed = pack_padded_sequence(x.transpose(1, 2), lengths.cpu(), batch_first=True, enforce_sorted=False)
        return pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=ids.shape[1])[0]


class LocationSensitiveAttention(nn.Module):
    """``e_{i,j} = vᵀ tanh(W q_i + V h_j + U f_{i,j} + b)`` with location features ``f_i`` convolved from the
    previous and cumulative attention weights (Chorowski et al. 2015; Shen et al. 2018)."""

    def __init__(self, query_dim: int, memory_dim: int, attention_dim: int, filters: int, kernel: int):
        super().__init__()
        self.query = nn.Linear(query_dim, attention_dim, bias=False)
        self.memory = nn.Linear(memory_dim, attention_dim)  # V h_j + b, computed once per utterance
        self.location_conv = nn.Conv1d(2, filters, kernel, padding=kernel // 2, bias=False)
        self.location = nn.Linear(filters, attention_dim, bias=False)
        self.v = nn.Linear(attention_dim, 1, bias=False)

    def prepare(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What every step of one utterance shares: the keys ``V h_j + b`` (B, L, A) of the memory (B, L, M) and
        ``U`` composed with the location convolution, one matrix (2·kernel, A) (both are linear)."""
        conv = self.location_conv.weight.flatten(1)  # (filters, 2, kernel) -> (filters, 2·kernel)
        return self.memory(memory), conv.t() @ self.location.weight.t()

    def forward(
        self, query: torch.Tensor, prepared: tuple[torch.Tensor, torch.Tensor], memory: torch.Tensor,
        previous: torch.Tensor, cumulative: torch.Tensor, mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """Context (B, memory_dim) and weights (B, L) for ``query`` (B, Q), ``prepared`` (:meth:`prepare`), the
        memory h (B, L, M), the ``previous``/``cumulative`` weights (B, L) and the symbol ``mask`` (B, L)."""
        keys, location = prepared
        k = self.location_conv.kernel_size[0]
        # the convolution as one matrix product of the windows (much faster on a CPU than a tiny conv per step)
        weights = F.pad(torch.stack([previous, cumulative], 1), (k // 2, k // 2))  # (B, 2, L + k − 1)
        windows = weights.unfold(-1, k, 1).transpose(1, 2).flatten(2)  # (B, 2, L, k) -> (B, L, 2·k)
        energies = self.v(torch.tanh(self.query(query)[:, None, :] + keys + windows @ location)).squeeze(-1)
        weights = torch.softmax(energies.masked_fill(~mask, float("-inf")), dim=-1)
        return torch.bmm(weights[:, None, :], memory).squeeze(1), weights


class _SplitInputLSTMCell(nn.Module):
    """An LSTM cell (Hochreiter and Schmidhuber 1997) whose input is ``[x; y]`` with the ``x`` part projected
    ahead of time: ``gates = P x + b + W [y; h]`` → ``i, f, g, o``; ``c' = σ(f) c + σ(i) tanh(g)``,
    ``h' = σ(o) tanh(c')``. Teacher forcing projects the prenet outputs of every step in one matrix product
    (:meth:`project`), which on a CPU is much faster than one small product per step."""

    def __init__(self, x_dim: int, y_dim: int, hidden: int):
        super().__init__()
        self.x = nn.Linear(x_dim, 4 * hidden)
        self.yh = nn.Linear(y_dim + hidden, 4 * hidden, bias=False)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """``P x + b`` (..., 4·hidden) of ``x`` (..., x_dim)."""
        return self.x(x)

    def forward(
        self, px: torch.Tensor, y: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        i, f, g, o = (px + self.yh(torch.cat([y, h], -1))).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class _Decoder(nn.Module):
    """One autoregressive step: prenet, attention LSTM, attention, decoder LSTM; then frames and stop logit
    (:meth:`output`, applied to all steps at once when teacher forcing)."""

    def __init__(self, c: Tacotron2Config, memory_dim: int):
        super().__init__()
        self.c = c
        self.prenet = nn.ModuleList([nn.Linear(c.n_mels, c.prenet_dim), nn.Linear(c.prenet_dim, c.prenet_dim)])
        self.attention_rnn = _SplitInputLSTMCell(c.prenet_dim, memory_dim, c.attention_rnn_dim)
        self.attention = LocationSensitiveAttention(c.attention_rnn_dim, memory_dim, c.attention_dim,
                                                    c.location_filters, c.location_kernel)  # fmt: skip
        self.decoder_rnn = nn.LSTMCell(c.attention_rnn_dim + memory_dim, c.decoder_rnn_dim)
        self.projection = nn.Linear(c.decoder_rnn_dim + memory_dim, c.r * c.n_mels)
        self.stop = nn.Linear(c.decoder_rnn_dim + memory_dim, 1)

    def run_prenet(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames (..., n_mels) → the prenet's part of the attention LSTM's gates (..., 4·attention_rnn_dim);
        the prenet's dropout is always on (the global random generator draws it)."""
        for layer in self.prenet:
            frames = F.dropout(F.relu(layer(frames)), self.c.prenet_dropout, training=True)
        return self.attention_rnn.project(frames)

    def initial_state(self, memory: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(attention h, c, decoder h, c, context, previous weights, cumulative weights), all zero."""
        b, length, m = memory.shape
        zeros = memory.new_zeros
        a, d = self.c.attention_rnn_dim, self.c.decoder_rnn_dim
        return zeros(b, a), zeros(b, a), zeros(b, d), zeros(b, d), zeros(b, m), zeros(b, length), zeros(b, length)

    def step(
        self, x: torch.Tensor, state: tuple[torch.Tensor, ...], memory: torch.Tensor,
        prepared: tuple[torch.Tensor, torch.Tensor], mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:  # fmt: skip
        """``x = run_prenet(previous frame)`` (B, 4·attention_rnn_dim) → ``[d_i; c_i]`` (B, decoder_rnn_dim +
        memory_dim) for :meth:`output`, attention weights (B, L) and the new state."""
        ah, ac, dh, dc, context, previous, cumulative = state
        ah, ac = self.attention_rnn(x, context, (ah, ac))
        query = F.dropout(ah, self.c.rnn_dropout, self.training)
        context, weights = self.attention(query, prepared, memory, previous, cumulative, mask)
        dh, dc = self.decoder_rnn(torch.cat([query, context], -1), (dh, dc))
        out = torch.cat([F.dropout(dh, self.c.rnn_dropout, self.training), context], -1)
        return out, weights, (ah, ac, dh, dc, context, weights, cumulative + weights)

    def output(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[d; c]`` (..., decoder_rnn_dim + memory_dim) → frames (..., r·n_mels) and stop logits (...)."""
        return self.projection(out), self.stop(out).squeeze(-1)


class _Postnet(nn.Module):
    """Residual of the decoder's mels (B, n_mels, frames): convolutions with channel LayerNorm and tanh between."""

    def __init__(self, c: Tacotron2Config):
        super().__init__()
        self.dropout, k = c.dropout, c.postnet_kernel
        sizes = [c.n_mels] + [c.postnet_channels] * (c.postnet_layers - 1) + [c.n_mels]
        self.convs = nn.ModuleList(nn.Conv1d(a, b, k, padding=k // 2) for a, b in zip(sizes, sizes[1:], strict=False))
        # the last convolution is the residual itself: no norm, no tanh
        self.norms = nn.ModuleList([*(_ChannelNorm(b) for b in sizes[1:-1]), nn.Identity()])

    def forward(self, mel: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``mask`` (B, 1, frames): frames beyond each utterance are zeroed before every convolution."""
        x = mel if mask is None else mel * mask
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            x = norm(conv(x))
            x = x if i == len(self.convs) - 1 else torch.tanh(x)
            x = F.dropout(x, self.dropout, self.training)
            x = x if mask is None else x * mask
        return x


# --- the model ---------------------------------------------------------------------------------------------------
@register_model("speech/tacotron2")
class Tacotron2(AcousticModel):
    """Tacotron 2-style acoustic model (module docstring): ids → encoder → attention decoder (r frames per step)
    → postnet → log-mels. ``last_alignment`` holds the attention weights (steps, L) of the latest :meth:`infer`."""

    config_class = Tacotron2Config
    description: ClassVar[str] = "Tacotron 2-style autoregressive acoustic model with location-sensitive attention"
    config: Tacotron2Config

    def __init__(self, config: Tacotron2Config):
        super().__init__(config)
        c = config
        self.encoder = _Encoder(c, len(self.vocabulary))
        self.speaker_embedding = nn.Embedding(c.n_speakers, c.speaker_dim) if c.n_speakers > 1 else None
        memory_dim = c.encoder_dim + (c.speaker_dim if self.speaker_embedding is not None else 0)
        self.decoder = _Decoder(c, memory_dim)
        self.postnet = _Postnet(c)
        self.last_alignment: torch.Tensor | None = None

    # --- pieces -----------------------------------------------------------------------------------------------------
    def encode(self, ids: torch.Tensor, id_lengths: torch.Tensor, speakers: torch.Tensor) -> torch.Tensor:
        """Memory (B, L, memory_dim) of ids (B, L): the encoder, with the speaker embedding concatenated."""
        memory = self.encoder(ids, id_lengths)
        if self.speaker_embedding is not None:
            spk = self.speaker_embedding(speakers)[:, None, :].expand(-1, memory.shape[1], -1)
            memory = torch.cat([memory, spk], -1)
        return memory

    def _silence(self) -> torch.Tensor:
        """The normalised padding value (n_mels, 1): the log-mel of silence through :meth:`normalize`."""
        return self.normalize(torch.full_like(self.mel_mean, self.config.pad_value))

    def _prepare(self, batch: Any) -> tuple[torch.Tensor, ...]:
        """The trimmed batch on the model's device; target mels normalised and padded to a multiple of ``r``
        frames with normalised silence (also every frame beyond an utterance's length)."""
        device = self.mel_mean.device
        ids, id_lengths, mels, mel_lengths, speakers, _ = (t.to(device) for t in trim_batch(batch))  # f0: unused
        if ids.shape[0] == 0 or int(id_lengths.min()) < 1 or int(mel_lengths.min()) < 1:
            raise BadInputError("a tts batch has an empty utterance", "every utterance needs ids and mel frames")
        if mels.shape[1] != self.config.n_mels:
            raise BadInputError(f"the batch has {mels.shape[1]} mel bands, the model {self.config.n_mels}",
                                "train on mels of the model's front end")  # fmt: skip
        r, frames = self.config.r, mels.shape[-1]
        padded = math.ceil(frames / r) * r
        target = F.pad(self.normalize(mels), (0, padded - frames))
        mask = length_mask(mel_lengths, padded)[:, None, :]  # (B, 1, frames)
        target = torch.where(mask, target, self._silence())
        return ids, id_lengths, target, mel_lengths, speakers, mask

    def teacher_forced(
        self, ids: torch.Tensor, id_lengths: torch.Tensor, target: torch.Tensor, speakers: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
        """Decoder mels, postnet mels (B, n_mels, T·r), stop logits (B, T) and attention (B, T, L) for normalised
        ``target`` mels (B, n_mels, T·r), each step reading the previous step's last true frame."""
        c = self.config
        b, steps = target.shape[0], target.shape[-1] // c.r
        memory = self.encode(ids, id_lengths, speakers)
        prepared, symbols = self.decoder.attention.prepare(memory), length_mask(id_lengths, ids.shape[1])
        previous = target[:, :, c.r - 1 :: c.r][:, :, :-1]  # last frame of each step (B, n_mels, T - 1)
        inputs = torch.cat([target.new_zeros(b, c.n_mels, 1), previous], -1).permute(2, 0, 1)  # (T, B, n_mels)
        x = self.decoder.run_prenet(inputs)
        state = self.decoder.initial_state(memory)
        outs, weights = [], []
        for x_i in x.unbind(0):  # one backward node for all steps (indexing x[i] would zero-fill x's size per step)
            out, w, state = self.decoder.step(x_i, state, memory, prepared, symbols)
            outs.append(out)
            weights.append(w)
        frames, stops = self.decoder.output(torch.stack(outs, 1))  # (B, T, r·n_mels), (B, T)
        mel = frames.reshape(b, steps * c.r, c.n_mels).transpose(1, 2)  # -> (B, T·r, n_mels) -> (B, n_mels, T·r)
        post = mel + self.postnet(mel, mask)
        return mel, post, stops, torch.stack(weights, 1)

    # --- training ---------------------------------------------------------------------------------------------------
    def training_losses(self, batch: Any, group: str = "acoustic") -> dict[str, torch.Tensor]:
        """``loss`` and its terms ``mel_decoder``, ``mel_postnet``, ``stop``, ``guided_attention`` (module
        docstring), with the diagnostic ``attention_diagonality`` (:func:`diagonality`, not trained)."""
        c = self.config
        ids, id_lengths, target, mel_lengths, speakers, mask = self._prepare(batch)
        mel, post, stop_logits, attn = self.teacher_forced(ids, id_lengths, target, speakers, mask)
        distance = F.mse_loss if c.mel_loss == "mse" else F.l1_loss
        count = mask.sum() * c.n_mels
        mel_decoder = (distance(mel, target, reduction="none") * mask).sum() / count
        mel_postnet = (distance(post, target, reduction="none") * mask).sum() / count
        steps = step_lengths(mel_lengths, c.r)
        step_index = torch.arange(stop_logits.shape[1], device=steps.device)[None, :]
        valid_steps = step_index < steps[:, None]
        stop_target = (step_index == steps[:, None] - 1).float()  # one positive: the step with the last frame
        pos_weight = torch.tensor(c.stop_pos_weight, device=stop_logits.device)
        bce = F.binary_cross_entropy_with_logits(stop_logits, stop_target, pos_weight=pos_weight, reduction="none")
        stop = (bce * valid_steps).sum() / valid_steps.sum()
        w = guided_attention_weights(id_lengths, steps, c.guided_attention_sigma)  # (B, T, L)
        guided = (attn * w).sum() / (id_lengths * steps).sum()
        loss = mel_decoder + mel_postnet + stop + c.guided_attention_weight * guided
        diag = diagonality(attn.detach(), id_lengths, mel_lengths, r=c.r)
        return {"loss": loss, "mel_decoder": mel_decoder.detach(), "mel_postnet": mel_postnet.detach(),
                "stop": stop.detach(), "guided_attention": guided.detach(),
                "attention_diagonality": torch.tensor(diag)}  # fmt: skip

    @torch.no_grad()
    def alignment(
        self, ids: torch.Tensor, id_lengths: torch.Tensor, mels: torch.Tensor, mel_lengths: torch.Tensor,
        speakers: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """Teacher-forced attention weights (B, ⌈F/r⌉, L) of ids (B, L) on log-mels (B, n_mels, F) (not
        normalised), for the alignment plot and :func:`diagonality`; other dropouts off, the prenet's on."""
        speakers = torch.zeros(ids.shape[0], dtype=torch.long) if speakers is None else speakers
        f0 = torch.zeros(mels.shape[0], mels.shape[-1])
        was_training = self.training
        self.eval()
        try:
            ids, id_lengths, target, mel_lengths, speakers, mask = self._prepare(
                (ids, id_lengths, mels, mel_lengths, speakers, f0)
            )
            return self.teacher_forced(ids, id_lengths, target, speakers, mask)[3]
        finally:
            self.train(was_training)

    @torch.no_grad()
    def aligned_mels(self, batch: Any) -> list[torch.Tensor]:
        """Ground-truth-aligned log-mels (:meth:`AcousticModel.aligned_mels`): the postnet's teacher-forced mels,
        each step reading the recording's previous frame (the prenet's dropout stays on, as in inference)."""
        with evaluating(self):
            ids, id_lengths, target, mel_lengths, speakers, mask = self._prepare(batch)
            post = self.teacher_forced(ids, id_lengths, target, speakers, mask)[1]
        mel = self.denormalize(post).cpu()
        return [m[:, :n] for m, n in zip(mel, mel_lengths.tolist(), strict=True)]

    # --- inference --------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def infer(self, ids: torch.Tensor, speaker: int = 0, speed: float = 1.0, **controls: float) -> torch.Tensor:
        """Log-mels (n_mels, frames), denormalised, of ids (L,), decoded autoregressively until the stop
        probability exceeds ``stop_threshold`` or the step cap (module docstring). Seed torch's global generator
        for a repeatable result (prenet dropout). ``speed`` ≠ 1 resamples the mels along time (linear
        interpolation): this model has no duration control. Sets :attr:`last_alignment` (steps, L)."""
        if controls:
            raise BadInputError(f"speech/tacotron2 has no {', '.join(sorted(controls))} control",
                                "only speech/fastspeech has pitch and energy controls; this model takes speaker "
                                "and speed")  # fmt: skip
        if ids.dim() != 1 or ids.numel() == 0:
            raise BadInputError(f"infer takes ids (L,) with L ≥ 1, got shape {tuple(ids.shape)}",
                                "encode one sentence with encode_text")  # fmt: skip
        if not 0 <= speaker < self.config.n_speakers:
            raise BadInputError(f"speaker {speaker} is out of range", f"0..{self.config.n_speakers - 1}")
        if not speed > 0:
            raise BadInputError(f"speed {speed} is not positive", "use 0.25 … 4 (1 = as trained)")
        c, device = self.config, self.mel_mean.device
        was_training = self.training
        self.eval()
        try:
            ids = ids.to(device).long()[None]
            lengths = torch.tensor([ids.shape[1]], device=device)
            memory = self.encode(ids, lengths, torch.tensor([speaker], device=device))
            prepared, symbols = self.decoder.attention.prepare(memory), torch.ones_like(ids, dtype=torch.bool)
            state = self.decoder.initial_state(memory)
            frame = memory.new_zeros(1, c.n_mels)  # the go frame
            max_steps = min(c.max_decoder_steps, math.ceil(c.max_frames_per_symbol * ids.shape[1] / c.r))
            frames, weights = [], []
            for _ in range(max_steps):
                x = self.decoder.run_prenet(frame)
                out, w, state = self.decoder.step(x, state, memory, prepared, symbols)
                out, stop = self.decoder.output(out)
                frames.append(out)
                weights.append(w)
                frame = out.view(1, c.r, c.n_mels)[:, -1]
                if torch.sigmoid(stop).item() > c.stop_threshold:
                    break
            mel = torch.stack(frames, 1).reshape(1, len(frames) * c.r, c.n_mels).transpose(1, 2)
            mel = mel + self.postnet(mel)
            self.last_alignment = torch.cat(weights).cpu()  # (steps, L)
            if speed != 1.0:
                n = max(1, round(mel.shape[-1] / speed))
                mel = F.interpolate(mel, size=n, mode="linear", align_corners=n > 1)
            return self.denormalize(mel[0])
        finally:
            self.train(was_training)
