"""``speech/fastspeech``: a small non-autoregressive acoustic model (FastSpeech 2) aligned by monotonic search.

**Encoder.** Symbol embeddings plus sinusoidal positions pass through ``encoder_layers`` feed-forward Transformer
blocks (Ren et al. 2019): ``h ← LN(h + MHA(h))``, ``h ← LN(h + Conv1d_1(ReLU(Conv1d_k(h))))``, with padded symbols
masked out of the attention keys and zeroed after every sub-layer (so a padded batch computes what each utterance
alone would). With several speakers a speaker embedding is added to the encoder output ``h`` (B, L, hidden).

**Alignment** (Glow-TTS, Kim et al. 2020; Grad-TTS, Popov et al. 2021). A linear map of ``h`` gives each symbol a
mean ``μ_l`` in the normalised mel space (n_mels values, unit variance), so frame ``x_f`` has the log-likelihood

    log p[l, f] = −½‖x_f − μ_l‖² − (n_mels/2)·log 2π

under symbol ``l``. :func:`~genlab.speech.tts.alignment.monotonic_alignment_search` (no gradient) picks the best
monotonic path, which gives each symbol its duration ``d_l`` (frames). The *prior* loss, the negative
log-likelihood of the frames under their aligned means (nats per mel value), pulls the means towards the frames
and so sharpens the next alignment.

**Variance adaptor** (FastSpeech 2, Ren et al. 2021). Three predictors (two ReLU conv layers with LayerNorm and
dropout, then a linear layer) read the encoder output: duration (from ``h`` detached, trained on ``log(1 + d)``
by MSE), pitch and energy, one value per *symbol* as in FastPitch (Łańcucki 2021):

* pitch: the mean of ``(ln F0 − f0_mean) / f0_std`` over the voiced frames the alignment gives the symbol
  (0 for a symbol with no voiced frame); ``f0_mean``/``f0_std`` are log-F0 statistics set from the data;
* energy: the mean over mel bands of the *normalised* log-mel of a frame, averaged over the symbol's frames
  (unit: one standard deviation of a band's log-mel; +1 is about ``e^σ`` times the power, σ ≈ 2–3 nepers).

A 1-D convolution (kernel 3) of each value is added to ``h``; training uses the target values (teacher
forcing), inference the predictions.

**Decoder.** The length regulator repeats each symbol's vector ``d_l`` times (a product with the 0/1
alignment), sinusoidal positions are added, ``decoder_layers`` FFT blocks and a linear layer give the normalised
log-mel, optionally refined by a residual convolutional postnet (Shen et al. 2018). The loss is

    loss = mel (masked L1 or MSE, before and after the postnet) + prior_weight·prior + duration_weight·duration
           + pitch_weight·pitch + energy_weight·energy.

**Inference** (:meth:`FastSpeech.infer`): durations ``round((exp(ŝ) − 1)/speed)``, at least 1 frame per symbol;
``pitch`` shifts the predicted log-F0 by that many semitones (``+ pitch·ln 2/12`` in ``ln F0``), ``energy`` adds
to the predicted energy in the unit above.

References:
    Y. Ren et al., "FastSpeech: Fast, Robust and Controllable Text to Speech", NeurIPS 2019.
    Y. Ren et al., "FastSpeech 2: Fast and High-Quality End-to-End Text to Speech", ICLR 2021.
    J. Kim, S. Kim, J. Kong and S. Yoon, "Glow-TTS: A Generative Flow for Text-to-Speech via Monotonic Alignment
    Search", NeurIPS 2020.
    V. Popov et al., "Grad-TTS: A Diffusion Probabilistic Model for Text-to-Speech", ICML 2021.
    A. Łańcucki, "FastPitch: Parallel Text-to-Speech with Pitch Prediction", ICASSP 2021.
    J. Shen et al., "Natural TTS Synthesis by Conditioning WaveNet on Mel Spectrogram Predictions", ICASSP 2018.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field, model_validator
from torch import nn
from torch.nn import functional as F

from genlab.core.errors import BadInputError
from genlab.core.model import evaluating, register_model
from genlab.speech.tts.alignment import durations as alignment_durations
from genlab.speech.tts.alignment import monotonic_alignment_search
from genlab.speech.tts.base import AcousticConfig, AcousticModel, length_mask, trim_batch

CONTROLS = ("pitch", "energy")


class FastSpeechConfig(AcousticConfig):
    """Sizes and loss weights of the FastSpeech 2 model; ``f0_mean``/``f0_std`` and the acoustic fields are set from
    the data. The defaults suit a few thousand short sentences trained for under an hour on a CPU."""

    hidden: int = Field(192, ge=8, le=1024, description="width of the encoder, decoder and variance adaptor")
    n_heads: int = Field(2, ge=1, le=16, description="attention heads of each FFT block (must divide hidden)")
    encoder_layers: int = Field(2, ge=1, le=12, description="feed-forward Transformer blocks of the encoder (paper: 4)")
    decoder_layers: int = Field(2, ge=1, le=12, description="feed-forward Transformer blocks of the decoder (paper: 4)")
    ffn_hidden: int = Field(384, ge=8, le=4096, description="channels inside each block's convolutional FFN")
    ffn_kernel: int = Field(3, ge=1, le=15, description="kernel of the FFN's first convolution (odd; paper: 9)")
    dropout: float = Field(0.1, ge=0, lt=1, description="dropout in the FFT blocks")
    predictor_channels: int = Field(192, ge=8, le=1024, description="channels of the duration/pitch/energy predictors")
    predictor_kernel: int = Field(3, ge=1, le=15, description="kernel of the predictors' convolutions (odd)")
    predictor_dropout: float = Field(0.3, ge=0, lt=1, description="dropout in the predictors (paper: 0.5)")
    postnet_layers: int = Field(0, ge=0, le=5, description="convolutions of the residual postnet (0: no postnet)")
    postnet_channels: int = Field(256, ge=8, le=1024, description="channels of the postnet")
    mel_loss: Literal["l1", "mse"] = Field("l1", description="distance of the predicted to the normalised target mel")
    prior_weight: float = Field(1.0, ge=0, description="weight of the alignment prior loss (NLL of aligned frames)")
    duration_weight: float = Field(1.0, ge=0, description="weight of the duration loss (MSE of log(1 + frames))")
    pitch_weight: float = Field(0.5, ge=0, description="weight of the per-symbol pitch loss (MSE, normalised ln F0)")
    energy_weight: float = Field(0.5, ge=0, description="weight of the per-symbol energy loss (MSE)")
    f0_mean: float = Field(math.log(150.0), description="mean of ln F0 (Hz) over voiced frames; set from the data")
    f0_std: float = Field(0.3, gt=0, description="standard deviation of ln F0 over voiced frames; set from the data")
    max_frames: int = Field(3000, ge=16, le=100_000, description="longest mel infer may make (frames)")

    @model_validator(mode="after")
    def _sizes(self) -> FastSpeechConfig:
        if self.hidden % self.n_heads:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of n_heads ({self.n_heads})")
        for name in ("ffn_kernel", "predictor_kernel"):
            if getattr(self, name) % 2 == 0:
                raise ValueError(f"{name} must be odd (same-length convolutions)")
        return self


def sinusoids(length: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """(length, dim) sinusoidal positions (Vaswani et al. 2017): sin/cos of ``pos / 10000^(2i/dim)``."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, : dim // 2]
    return table


class FFTBlock(nn.Module):
    """Feed-forward Transformer block: post-norm self-attention then a convolutional FFN, padding kept at 0.
    Dropout acts on the sub-layers' outputs, not on the attention weights, so attention runs as one fused kernel
    (``scaled_dot_product_attention``) instead of materialising and masking (B, heads, T, T) weights."""

    def __init__(self, dim: int, n_heads: int, ffn_hidden: int, kernel: int, dropout: float):
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, n_heads, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.conv1 = nn.Conv1d(dim, ffn_hidden, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(ffn_hidden, dim, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, T, dim), mask (B, T) True at real positions → (B, T, dim), 0 at padding."""
        keep = mask.unsqueeze(-1).to(x.dtype)
        a = self.attention(x, x, x, key_padding_mask=~mask, need_weights=False)[0]
        x = self.norm1(x + self.dropout(a)) * keep
        h = self.conv2(self.dropout(F.relu(self.conv1(x.transpose(1, 2))))).transpose(1, 2)  # convolve over time
        return self.norm2(x + self.dropout(h)) * keep


class FFTStack(nn.Module):
    """Sinusoidal positions + ``n_layers`` FFT blocks."""

    def __init__(self, n_layers: int, c: FastSpeechConfig):
        super().__init__()
        self.blocks = nn.ModuleList(
            FFTBlock(c.hidden, c.n_heads, c.ffn_hidden, c.ffn_kernel, c.dropout) for _ in range(n_layers)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = (x + sinusoids(x.shape[1], x.shape[2], x.device)) * mask.unsqueeze(-1).to(x.dtype)
        for block in self.blocks:
            x = block(x, mask)
        return x


class VariancePredictor(nn.Module):
    """Two ReLU conv layers with LayerNorm and dropout, then a linear layer: one value per position (B, T)."""

    def __init__(self, dim: int, channels: int, kernel: int, dropout: float):
        super().__init__()
        self.conv1 = nn.Conv1d(dim, channels, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(channels, channels, kernel, padding=kernel // 2)
        self.norm1, self.norm2 = nn.LayerNorm(channels), nn.LayerNorm(channels)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(channels, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keep = mask.unsqueeze(-1).to(x.dtype)
        for conv, norm in ((self.conv1, self.norm1), (self.conv2, self.norm2)):
            x = self.dropout(norm(F.relu(conv((x * keep).transpose(1, 2)).transpose(1, 2))))
        return self.out(x).squeeze(-1) * mask.to(x.dtype)


class Postnet(nn.Module):
    """Residual convolutions on the predicted mel (B, n_mels, F) (Tacotron 2's postnet, smaller)."""

    def __init__(self, n_mels: int, channels: int, n_layers: int):
        super().__init__()
        widths = [n_mels] + [channels] * (n_layers - 1) + [n_mels]
        self.convs = nn.ModuleList(nn.Conv1d(a, b, 5, padding=2) for a, b in zip(widths, widths[1:], strict=False))

    def forward(self, mel: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """mel (B, n_mels, F), keep (B, 1, F) 1 at real frames."""
        x = mel
        for i, conv in enumerate(self.convs):
            x = conv(x * keep)
            x = torch.tanh(x) if i < len(self.convs) - 1 else x
        return (mel + x) * keep


@register_model("speech/fastspeech")
class FastSpeech(AcousticModel):
    """FastSpeech 2 with durations from monotonic alignment search (module docstring)."""

    config_class = FastSpeechConfig
    description: ClassVar[str] = "non-autoregressive FastSpeech 2 acoustic model aligned by monotonic search"
    config: FastSpeechConfig

    def __init__(self, config: FastSpeechConfig):
        super().__init__(config)
        c = config
        self.embedding = nn.Embedding(len(self.vocabulary), c.hidden, padding_idx=0)
        # Embeddings on the scale of the sinusoidal positions they are added to (values of order 1, as the
        # Transformer's embeddings scaled by √hidden): much smaller ones leave the encoder reading positions more
        # than symbols, and monotonic search then aligns frames by position (1-frame symbols beside 20-frame ones).
        with torch.no_grad():
            nn.init.normal_(self.embedding.weight, 0.0, 1.0).select(0, 0).zero_()
        self.encoder = FFTStack(c.encoder_layers, c)
        self.speaker = (nn.Sequential(nn.Embedding(c.n_speakers, c.speaker_dim), nn.Linear(c.speaker_dim, c.hidden))
                        if c.n_speakers > 1 else None)  # fmt: skip
        self.to_means = nn.Linear(c.hidden, c.n_mels)  # μ_l of each symbol (alignment prior)
        predictor = (c.hidden, c.predictor_channels, c.predictor_kernel, c.predictor_dropout)
        self.duration_predictor = VariancePredictor(*predictor)
        self.pitch_predictor = VariancePredictor(*predictor)
        self.energy_predictor = VariancePredictor(*predictor)
        self.pitch_embedding = nn.Conv1d(1, c.hidden, 3, padding=1)
        self.energy_embedding = nn.Conv1d(1, c.hidden, 3, padding=1)
        self.decoder = FFTStack(c.decoder_layers, c)
        self.to_mel = nn.Linear(c.hidden, c.n_mels)
        self.postnet = Postnet(c.n_mels, c.postnet_channels, c.postnet_layers) if c.postnet_layers else None
        #: Frames (L,) given to each symbol by the last :meth:`infer` call.
        self.last_durations: torch.Tensor | None = None

    # --- parts ----------------------------------------------------------------
    def encode(self, ids: torch.Tensor, id_lengths: torch.Tensor, speakers: torch.Tensor) -> torch.Tensor:
        """Encoder output (B, L, hidden) of ids (B, L), with the speaker embedding added; 0 at padding."""
        mask = length_mask(id_lengths, ids.shape[1])
        h = self.encoder(self.embedding(ids), mask)
        if self.speaker is not None:
            h = h + self.speaker(speakers)[:, None, :] * mask.unsqueeze(-1).to(h.dtype)
        return h

    def add_variances(self, h: torch.Tensor, pitch: torch.Tensor, energy: torch.Tensor, mask: torch.Tensor):
        """h (B, L, hidden) + the embeddings of per-symbol pitch and energy (B, L); 0 at padding."""
        keep = mask.to(h.dtype)
        p = self.pitch_embedding((pitch * keep)[:, None, :]).transpose(1, 2)
        e = self.energy_embedding((energy * keep)[:, None, :]).transpose(1, 2)
        return (h + p + e) * keep.unsqueeze(-1)

    def decode(self, expanded: torch.Tensor, frame_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Normalised mel (B, n_mels, F) of frame vectors (B, F, hidden), before and after the postnet."""
        keep = frame_mask.unsqueeze(1).to(expanded.dtype)
        mel = self.to_mel(self.decoder(expanded, frame_mask)).transpose(1, 2) * keep  # (B, F, n) -> (B, n, F)
        return mel, (self.postnet(mel, keep) if self.postnet is not None else None)

    def log_likelihoods(self, means: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        """log N(x_f; μ_l, I) (B, L, F) of normalised frames mel (B, n_mels, F) under symbol means (B, L, n_mels)."""
        n = mel.shape[1]
        distance = (means**2).sum(-1, keepdim=True) - 2 * means @ mel + (mel**2).sum(1, keepdim=True)
        return -0.5 * distance - 0.5 * n * math.log(2 * math.pi)

    def symbol_targets(self, alignment: torch.Tensor, mel: torch.Tensor, f0: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per-symbol pitch and energy targets (B, L) from the alignment (B, L, F), normalised mel (B, n_mels, F)
        and F0 (B, F) in Hz (module docstring)."""
        c = self.config
        voiced = (f0 > 0).to(mel.dtype)
        log_f0 = (torch.log(f0.clamp_min(1e-3)) - c.f0_mean) / c.f0_std * voiced
        voiced_frames = alignment @ voiced[..., None]  # (B, L, 1)
        pitch = (alignment @ log_f0[..., None] / voiced_frames.clamp_min(1)).squeeze(-1)
        frames = alignment.sum(-1, keepdim=True).clamp_min(1)
        energy = (alignment @ mel.mean(1)[..., None] / frames).squeeze(-1)
        return pitch, energy

    # --- training -------------------------------------------------------------
    def teacher_forced(self, batch: Any) -> dict[str, torch.Tensor]:
        """The forward pass of training on a batch ``(ids, id_lengths, mels, mel_lengths, speakers, f0)``: the
        normalised target ``mel`` (B, n_mels, F), the masks, the encoder output ``h``, the symbol ``means``, the
        searched ``alignment`` (B, L, F), the per-symbol ``pitch``/``energy`` targets and the decoded mels
        ``before``/``after`` the postnet (normalised; ``after`` None without a postnet)."""
        ids, id_lengths, mels, mel_lengths, speakers, f0 = trim_batch(batch)
        device = self.embedding.weight.device
        ids, id_lengths, mel_lengths, speakers = (t.to(device) for t in (ids, id_lengths, mel_lengths, speakers))
        mel, f0 = self.normalize(mels.to(device)), f0.to(device)
        symbol_mask, frame_mask = length_mask(id_lengths, ids.shape[1]), length_mask(mel_lengths, mel.shape[-1])
        mel = mel * frame_mask[:, None, :].to(mel.dtype)
        h = self.encode(ids, id_lengths, speakers)
        means = self.to_means(h)  # (B, L, n_mels)
        with torch.no_grad():
            alignment = monotonic_alignment_search(self.log_likelihoods(means, mel), id_lengths, mel_lengths)
        pitch, energy = self.symbol_targets(alignment, mel, f0)
        expanded = alignment.transpose(1, 2) @ self.add_variances(h, pitch, energy, symbol_mask)  # (B, F, hidden)
        before, after = self.decode(expanded, frame_mask)
        return {"mel": mel, "symbol_mask": symbol_mask, "frame_mask": frame_mask, "mel_lengths": mel_lengths,
                "h": h, "means": means, "alignment": alignment, "pitch": pitch, "energy": energy,
                "before": before, "after": after}  # fmt: skip

    def training_losses(self, batch: Any, group: str = "acoustic") -> dict[str, torch.Tensor]:
        """Losses of a batch ``(ids, id_lengths, mels, mel_lengths, speakers, f0)``: ``loss`` and each term."""
        c = self.config
        out = self.teacher_forced(batch)
        mel, h, alignment, symbol_mask = out["mel"], out["h"], out["alignment"], out["symbol_mask"]
        keep_symbols, keep_frames = symbol_mask.to(mel.dtype), out["frame_mask"].to(mel.dtype)
        aligned_means = (alignment.transpose(1, 2) @ out["means"]).transpose(1, 2)  # (B, F, n) -> (B, n, F)
        n_values = keep_frames.sum() * c.n_mels
        prior = (0.5 * ((mel - aligned_means) ** 2 + math.log(2 * math.pi)) * keep_frames[:, None, :]).sum() / n_values

        frames = alignment_durations(alignment).to(mel.dtype)
        n_symbols = keep_symbols.sum()

        def symbol_mse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return (((prediction - target) ** 2) * keep_symbols).sum() / n_symbols

        duration_loss = symbol_mse(self.duration_predictor(h.detach(), symbol_mask), torch.log1p(frames))
        pitch_loss = symbol_mse(self.pitch_predictor(h, symbol_mask), out["pitch"])
        energy_loss = symbol_mse(self.energy_predictor(h, symbol_mask), out["energy"])

        before, after = out["before"], out["after"]
        distance = F.l1_loss if c.mel_loss == "l1" else F.mse_loss
        mel_loss = distance(before, mel, reduction="sum") / n_values
        if after is not None:
            mel_loss = mel_loss + distance(after, mel, reduction="sum") / n_values
        loss = (mel_loss + c.prior_weight * prior + c.duration_weight * duration_loss + c.pitch_weight * pitch_loss
                + c.energy_weight * energy_loss)  # fmt: skip
        return {"loss": loss, "mel": mel_loss.detach(), "prior": prior.detach(), "duration": duration_loss.detach(),
                "pitch": pitch_loss.detach(), "energy": energy_loss.detach()}  # fmt: skip

    @torch.no_grad()
    def aligned_mels(self, batch: Any) -> list[torch.Tensor]:
        """Ground-truth-aligned log-mels (:meth:`AcousticModel.aligned_mels`): the decoder's mels with the durations
        monotonic search finds on the recordings and the recordings' own pitch and energy (dropout off)."""
        with evaluating(self):
            out = self.teacher_forced(batch)
        mel = self.denormalize(out["after"] if out["after"] is not None else out["before"]).cpu()
        return [m[:, :n] for m, n in zip(mel, out["mel_lengths"].tolist(), strict=True)]

    # --- inference ------------------------------------------------------------
    @torch.no_grad()
    def infer(self, ids: torch.Tensor, speaker: int = 0, speed: float = 1.0, **controls: float) -> torch.Tensor:
        """Denormalised log-mels (n_mels, frames) of ids (L,). ``speed`` > 1 speaks faster (durations / speed);
        ``pitch`` shifts the predicted ln F0 by that many semitones; ``energy`` adds to the predicted energy (units
        of one band standard deviation of the log-mel). The durations used are left in :attr:`last_durations`."""
        c = self.config
        unknown = sorted(set(controls) - set(CONTROLS))
        if unknown:
            raise BadInputError(f"unknown control(s) {', '.join(unknown)} for speech/fastspeech",
                                f"this model takes: {', '.join(CONTROLS)}")  # fmt: skip
        ids = torch.as_tensor(ids).long()
        if ids.dim() != 1 or not len(ids):
            raise BadInputError(f"infer takes one sequence of ids (L,), got shape {tuple(ids.shape)}")
        if int(ids.min()) < 0 or int(ids.max()) >= len(self.vocabulary):
            raise BadInputError(f"ids must lie in 0..{len(self.vocabulary) - 1}", "encode text with encode_text")
        if not 0 <= speaker < c.n_speakers:
            raise BadInputError(f"speaker {speaker} is out of range", f"0..{c.n_speakers - 1}")
        if not speed > 0:
            raise BadInputError(f"speed {speed} must be positive", "1 = as trained, 2 = twice as fast")
        device = self.embedding.weight.device
        ids = ids.to(device)[None]  # (1, L)
        lengths, mask = torch.tensor([ids.shape[1]], device=device), torch.ones_like(ids, dtype=torch.bool)
        h = self.encode(ids, lengths, torch.tensor([speaker], device=device))
        log_frames = self.duration_predictor(h, mask)
        frames = torch.round((torch.exp(log_frames) - 1).clamp_min(0) / speed).long()
        frames = frames.clamp_min(1) * (ids != 0).long()  # every real symbol is heard
        total = int(frames.sum())
        if total < 1:
            raise BadInputError("nothing to speak: the ids hold only padding", "encode text with encode_text")
        if total > c.max_frames:
            raise BadInputError(f"the mel would have {total} frames, more than max_frames ({c.max_frames})",
                                "split the text into shorter sentences or speak faster")  # fmt: skip
        pitch = self.pitch_predictor(h, mask) + controls.get("pitch", 0.0) * math.log(2) / 12 / c.f0_std
        energy = self.energy_predictor(h, mask) + controls.get("energy", 0.0)
        x = self.add_variances(h, pitch, energy, mask)[0]
        expanded = torch.repeat_interleave(x, frames[0], dim=0)[None]  # the length regulator: (1, frames, hidden)
        before, after = self.decode(expanded, torch.ones(expanded.shape[:2], dtype=torch.bool, device=device))
        self.last_durations = frames[0].cpu()
        return self.denormalize((after if after is not None else before)[0])
