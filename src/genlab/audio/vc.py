"""``audio/vc-autoencoder``: AutoVC-style voice conversion — a content bottleneck plus a speaker embedding.

AutoVC (Qian et al. 2019) converts voices with a plain autoencoder trained only to reconstruct its input
(self-conversion): a content encoder ``E`` squeezes the mel spectrogram through a bottleneck narrow enough,
in channels and in time, that the speaker's identity no longer fits through it, and a decoder ``D``
rebuilds the spectrogram from those content codes and a speaker embedding. Because the decoder always gets
the speaker from the embedding, it learns to take the voice from there; at conversion time it is given
another speaker's embedding.

**Features.** A clip is scaled to unit peak (the level is restored at the end; a peak, unlike an RMS, does
not depend on how much silence pads the clip), then turned into a log-mel spectrogram
(:class:`~genlab.audio.features.MelSpectrogram`: ``win_ms`` windows, ``hop_ms`` hops, ``n_mels`` Slaney
bands, magnitudes floored at 1e-4) and normalised to ``X = (log mel + 4) / 4`` — roughly [−1.3, 2].

**Networks** (1-D convolutions over time, in place of AutoVC's LSTMs: cheaper on a CPU):

* content encoder ``C = E(X)``: ``encoder_layers`` × [conv k=5 → InstanceNorm → ReLU] with ``channels``
  channels; a 1×1 conv down to ``bottleneck_channels``; average pooling over ``downsample`` frames; tanh.
  So a clip of T frames gives codes (``bottleneck_channels``, ⌈T / downsample⌉) — AutoVC's
  ``dim_neck`` and ``freq``. Instance normalisation without affine parameters (Chou et al. 2019) removes
  each utterance's per-channel mean and spread, a part of the voice the bottleneck then need not filter;
  the encoder sees no speaker, so any recording can be converted, seen speaker or not.
* speaker embedding ``s = S[k]``: a learned table with one ``speaker_dim`` vector per training speaker
  (their names in ``speakers``), in place of AutoVC's pre-trained speaker encoder. With one-word clips
  (FSDD), an utterance-level encoder trained jointly could smuggle the word; a table carries only who speaks.
* decoder ``X̃ = D(C, s)``: the codes repeated ``downsample`` times along time (AutoVC's upsampling by
  copying), concatenated with ``s`` and mapped to ``channels`` by a 1×1 conv; ``decoder_layers`` residual
  blocks ``h ← h + ReLU(BN(conv_i(h) + W_i s))``, conv_i of kernel 5 and dilation 2^(i mod 3) (the speaker is
  added again in every block); a 1×1 conv to ``n_mels``. A postnet (Tacotron 2's: ``postnet_layers`` convs
  k=5 with tanh) adds a residual: ``X̂ = X̃ + P(X̃)``.

**Loss** (AutoVC eq. 7–9, μ = ``prenet_weight``, λ = ``content_weight``, both 1 in the paper)::

    L = ‖X̂ − X‖² + μ ‖X̃ − X‖² + λ ‖E(X̂) − C‖₁

the last term (content-code consistency) asks the reconstruction to carry the same content codes.

**Conversion** (:meth:`VCAutoencoder.convert`): ``X̂ = D(E(X_source), s_target)``, back to mel values
``exp(4 X̂ − 4)``, and through :meth:`VCAutoencoder.vocoder`: the mel projection undone approximately
(:func:`~genlab.audio.features.mel_to_magnitude`) and fast Griffin-Lim (Perraudin et al. 2013) with
``griffin_lim_iters`` iterations from a seeded random phase. A neural vocoder can replace the method
(log-mel (B, n_mels, T) → waves (B, samples)). Recordings longer than ``chunk_seconds`` are converted in
chunks that overlap by ``crossfade_seconds``, blended linearly (instance norm then measures each chunk),
so memory stays bounded; the output has the input's length.

References:
    K. Qian, Y. Zhang, S. Chang, X. Yang and M. Hasegawa-Johnson, "AutoVC: Zero-Shot Voice Style Transfer with
    Only Autoencoder Loss", ICML 2019.
    J. Chou and H. Lee, "One-shot Voice Conversion by Separating Speaker and Content Representations with
    Instance Normalization", Interspeech 2019.
    J. Shen et al., "Natural TTS Synthesis by Conditioning WaveNet on Mel Spectrogram Predictions", ICASSP 2018
    (the postnet).
    N. Perraudin, P. Balazs and P. L. Søndergaard, "A fast Griffin-Lim algorithm", WASPAA 2013.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from genlab.audio.features import MelSpectrogram, griffin_lim, mel_to_magnitude
from genlab.core.errors import BadInputError, ConfigError, unknown_name
from genlab.core.model import GenerativeModel, ModelConfig, OptimizerSpec, register_model

TASK = "voice-conversion"  # the task of genlab.audio.voice, which serves this model
LOG_FLOOR = 1e-4  # mel magnitudes below this (silence, zero padding) read as this
LOG_CENTER, LOG_SCALE = -4.0, 4.0  # X = (log mel − LOG_CENTER) / LOG_SCALE
PEAK_FLOOR = 1e-4  # a clip quieter than this is not scaled up (silence stays silence)


class VCAutoencoderConfig(ModelConfig):
    """Front end, bottleneck, decoder and loss weights of the AutoVC-style converter; rate and speakers from data."""

    sample_rate: int = Field(
        16000, ge=4000, le=48000, description="rate of the audio it converts (Hz); set from the data"
    )
    speakers: list[str] = Field(
        default_factory=list, description="the training speakers, in embedding order; set from the data"
    )
    n_mels: int = Field(80, ge=16, le=256, description="mel bands of the spectrogram (AutoVC: 80)")
    win_ms: float = Field(32.0, gt=1, le=128, description="analysis window, ms (the FFT size is the next power of 2)")
    hop_ms: float = Field(8.0, gt=0.5, le=64, description="hop between frames, ms (a quarter of the window)")
    channels: int = Field(128, ge=4, le=1024, description="channels of the encoder and decoder convolutions")
    encoder_layers: int = Field(3, ge=1, le=8, description="conv → InstanceNorm → ReLU layers of the content encoder")
    encoder_norm: Literal["instance", "batch"] = Field(
        "instance", description="normalisation of the encoder: instance (removes each utterance's channel "
        "statistics, Chou et al. 2019) or batch",
    )  # fmt: skip
    bottleneck_channels: int = Field(8, ge=1, le=256, description="channels of the content codes (AutoVC's dim_neck)")
    downsample: int = Field(8, ge=1, le=64, description="frames per content code (AutoVC's freq): the time bottleneck")
    speaker_dim: int = Field(64, ge=2, le=1024, description="size of a speaker embedding")
    decoder_layers: int = Field(4, ge=1, le=12, description="residual dilated conv blocks of the decoder")
    postnet_layers: int = Field(3, ge=0, le=8, description="conv layers of the residual postnet (0: none)")
    postnet_channels: int = Field(64, ge=4, le=1024, description="channels of the postnet")
    prenet_weight: float = Field(1.0, ge=0, le=100, description="μ: weight of the reconstruction before the postnet")
    content_weight: float = Field(1.0, ge=0, le=100, description="λ: weight of the content-code consistency loss")
    lr: float = Field(1e-3, gt=0, le=1, description="Adam learning rate")
    schedule: Literal["constant", "cosine"] = Field(
        "constant", description="learning rate over the run: constant, or cosine decay to 0 (over the steps or "
        "epochs of the run, else over --max-minutes)",
    )  # fmt: skip
    griffin_lim_iters: int = Field(32, ge=1, le=1000, description="fast Griffin-Lim iterations of the vocoder")
    chunk_seconds: float = Field(10.0, ge=1, le=600, description="longer recordings are converted in chunks of this")
    crossfade_seconds: float = Field(0.1, ge=0, le=5, description="overlap of consecutive chunks, blended linearly")

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.win_ms / 1000))

    @property
    def n_fft(self) -> int:
        return 1 << max(1, (self.win_length - 1).bit_length())

    @property
    def hop_length(self) -> int:
        return max(1, int(round(self.sample_rate * self.hop_ms / 1000)))


class ContentEncoder(nn.Module):
    """Normalised log-mel (B, n_mels, T) → content codes (B, bottleneck_channels, ⌈T / downsample⌉) in (−1, 1)."""

    def __init__(self, c: VCAutoencoderConfig):
        super().__init__()
        layers: list[nn.Module] = []
        width = c.n_mels
        for _ in range(c.encoder_layers):
            norm = nn.InstanceNorm1d(c.channels) if c.encoder_norm == "instance" else nn.BatchNorm1d(c.channels)
            layers += [nn.Conv1d(width, c.channels, 5, padding=2), norm, nn.ReLU()]
            width = c.channels
        self.body = nn.Sequential(*layers)
        self.neck = nn.Conv1d(width, c.bottleneck_channels, 1)
        self.downsample = c.downsample

    def forward(self, x: Tensor) -> Tensor:
        h = self.neck(self.body(x))  # (B, bottleneck, T), T a multiple of downsample
        return torch.tanh(F.avg_pool1d(h, self.downsample))  # (B, bottleneck, T / downsample)


class DecoderBlock(nn.Module):
    """``h + ReLU(BN(dilated conv(h) + W s))``: a residual conv block conditioned on the speaker embedding s."""

    def __init__(self, channels: int, speaker_dim: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 5, padding=2 * dilation, dilation=dilation)
        self.speaker = nn.Linear(speaker_dim, channels)
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, h: Tensor, s: Tensor) -> Tensor:
        return h + F.relu(self.norm(self.conv(h) + self.speaker(s)[:, :, None]))


class Decoder(nn.Module):
    """Content codes (B, bottleneck, T / downsample) and speaker embeddings (B, speaker_dim) → (X̃, X̂), each
    (B, n_mels, T): the mel before and after the postnet."""

    def __init__(self, c: VCAutoencoderConfig):
        super().__init__()
        self.downsample = c.downsample
        self.inp = nn.Conv1d(c.bottleneck_channels + c.speaker_dim, c.channels, 1)
        self.blocks = nn.ModuleList(
            DecoderBlock(c.channels, c.speaker_dim, 2 ** (i % 3)) for i in range(c.decoder_layers)
        )
        self.out = nn.Conv1d(c.channels, c.n_mels, 1)
        post: list[nn.Module] = []
        width = c.n_mels
        for i in range(c.postnet_layers):
            last = i == c.postnet_layers - 1
            post.append(nn.Conv1d(width, c.n_mels if last else c.postnet_channels, 5, padding=2))
            if not last:
                post += [nn.BatchNorm1d(c.postnet_channels), nn.Tanh()]
            width = c.postnet_channels
        self.postnet = nn.Sequential(*post)

    def forward(self, codes: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        up = codes.repeat_interleave(self.downsample, dim=2)  # (B, bottleneck, T): copies, as AutoVC upsamples
        h = self.inp(torch.cat([up, s[:, :, None].expand(-1, -1, up.shape[2])], dim=1))
        for block in self.blocks:
            h = block(h, s)
        before = self.out(h)
        after = before + self.postnet(before) if len(self.postnet) else before
        return before, after


@register_model("audio/vc-autoencoder")
class VCAutoencoder(GenerativeModel):
    """AutoVC-style converter: content encoder with a narrow bottleneck + speaker table → decoder → Griffin-Lim."""

    config_class = VCAutoencoderConfig
    task: ClassVar[str] = TASK
    description: ClassVar[str] = "AutoVC-style neural voice conversion between training speakers (content bottleneck)"
    config: VCAutoencoderConfig

    def __init__(self, config: VCAutoencoderConfig):
        super().__init__(config)
        c = config
        if not c.speakers:
            raise ConfigError("audio/vc-autoencoder needs its speakers", "train it on recordings named "
                              "LABEL_SPEAKER_TAKE.wav or SPEAKER_TAKE.wav (or set model.speakers)")  # fmt: skip
        if len(set(c.speakers)) != len(c.speakers):
            raise ConfigError(f"speaker names repeat: {c.speakers}", "give each speaker once")
        self.mel = MelSpectrogram(c.sample_rate, n_fft=c.n_fft, hop_length=c.hop_length, n_mels=c.n_mels,
                                  win_length=c.win_length, floor=LOG_FLOOR)  # fmt: skip
        self.encoder = ContentEncoder(c)
        self.speaker_table = nn.Embedding(len(c.speakers), c.speaker_dim)
        self.decoder = Decoder(c)

    # --- features ---------------------------------------------------------------
    def features(self, wave: Tensor) -> Tensor:
        """Normalised log-mel ``X`` (B, n_mels, T) of clips (B, samples), each scaled to unit peak first."""
        peak = wave.abs().amax(dim=-1, keepdim=True).clamp_min(PEAK_FLOOR)
        return (self.mel(wave / peak) - LOG_CENTER) / LOG_SCALE

    def _padded(self, x: Tensor) -> Tensor:
        """``x`` (B, n_mels, T) padded at the end with silence to a multiple of ``downsample`` frames."""
        extra = -x.shape[2] % self.config.downsample
        silence = (torch.log(torch.tensor(LOG_FLOOR)) - LOG_CENTER) / LOG_SCALE
        return F.pad(x, (0, extra), value=float(silence)) if extra else x

    def speaker_index(self, names: str | Sequence[str]) -> Tensor:
        """Indices (B,) of speaker names; an unknown name raises :class:`UnknownNameError` with suggestions."""
        names = [names] if isinstance(names, str) else list(names)
        speakers = self.config.speakers
        for name in names:
            if name not in speakers:
                raise unknown_name("speaker", name, speakers)
        return torch.tensor([speakers.index(n) for n in names], device=self.speaker_table.weight.device)

    def encode(self, x: Tensor) -> Tensor:
        """Content codes (B, bottleneck_channels, ⌈T / downsample⌉) of normalised log-mels (B, n_mels, T)."""
        return self.encoder(self._padded(x))

    def decode(self, codes: Tensor, speakers: Tensor, frames: int) -> tuple[Tensor, Tensor]:
        """(X̃, X̂), each (B, n_mels, frames): the mel of ``codes`` spoken by ``speakers`` (indices (B,))."""
        before, after = self.decoder(codes, self.speaker_table(speakers))
        return before[:, :, :frames], after[:, :, :frames]

    # --- model contract ---------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        return [OptimizerSpec("autoencoder", list(self.parameters()), lr=c.lr, schedule=c.schedule)]

    def training_losses(self, batch: tuple[Tensor, Tensor], group: str = "autoencoder") -> dict[str, Tensor]:
        """AutoVC's self-reconstruction loss (module docstring) of ``(clips (B, samples), speakers (B,))``."""
        waves, speakers = batch
        if bool((speakers < 0).any()):
            raise BadInputError("a training clip has no speaker (label −1)", "the task drops such clips; keep them out")
        x = self.features(waves)
        frames = x.shape[2]
        codes = self.encode(x)
        before, after = self.decode(codes, speakers, frames)
        recon = F.mse_loss(after, x)
        recon_before = F.mse_loss(before, x)
        content = F.l1_loss(self.encode(after), codes)
        c = self.config
        loss = recon + c.prenet_weight * recon_before + c.content_weight * content
        return {
            "loss": loss,
            "recon": recon.detach(),
            "recon_before": recon_before.detach(),
            "content": content.detach(),
        }

    # --- conversion -------------------------------------------------------------
    def vocoder(self, log_mel: Tensor, length: int, generator: torch.Generator | None = None) -> Tensor:
        """Waves (B, length) of log-mel spectrograms (B, n_mels, 1 + length // hop_length): the mel projection
        undone approximately, then fast Griffin-Lim from a random phase drawn from ``generator``. The hook a
        neural vocoder replaces."""
        c = self.config
        magnitude = mel_to_magnitude(log_mel.exp(), self.mel.filterbank)
        return griffin_lim(magnitude, c.n_fft, c.hop_length, c.win_length, n_iter=c.griffin_lim_iters,
                           length=length, generator=generator)  # fmt: skip

    @torch.no_grad()
    def convert_block(self, waves: Tensor, targets: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Clips (B, samples) at ``sample_rate`` spoken by speakers ``targets`` (indices (B,)), same length and
        peak level as the input, in [-1, 1]."""
        x = self.features(waves)
        _, after = self.decode(self.encode(x), targets.to(x.device), x.shape[2])
        return self._waves(after, waves, generator)

    def _waves(self, x: Tensor, like: Tensor, generator: torch.Generator | None) -> Tensor:
        """Normalised log-mels ``x`` (B, n_mels, T) → waves through :meth:`vocoder`, with the length and the peak
        level of the clips ``like`` (B, samples)."""
        out = self.vocoder(x * LOG_SCALE + LOG_CENTER, like.shape[-1], generator)
        peak = like.abs().amax(dim=-1, keepdim=True)
        return (out / out.abs().amax(dim=-1, keepdim=True).clamp_min(PEAK_FLOOR) * peak).clamp(-1, 1).float()

    @torch.no_grad()
    def convert(self, wave: Tensor, target: str | Sequence[str], generator: torch.Generator | None = None) -> Tensor:
        """``wave`` — (samples,) or clips (B, samples) at ``sample_rate`` — spoken by ``target`` (a speaker name, or
        one per clip). Any length: longer than ``chunk_seconds``, it is converted chunk by chunk (cross-faded)."""
        single = wave.dim() == 1
        waves = wave[None] if single else wave
        if waves.dim() != 2 or waves.shape[-1] == 0:
            raise BadInputError(f"convert takes a wave (samples,) or clips (B, samples), got {tuple(wave.shape)}",
                                "pass mono audio at the model's sample rate")  # fmt: skip
        names = [target] * len(waves) if isinstance(target, str) else list(target)
        if len(names) != len(waves):
            raise BadInputError(f"{len(names)} target speakers for {len(waves)} clips", "give one per clip, or one")
        targets = self.speaker_index(names)
        was_training = self.training
        self.eval()
        try:
            out = self._chunked(waves.float(), targets, generator)
        finally:
            self.train(was_training)
        return out[0] if single else out

    def _chunked(self, waves: Tensor, targets: Tensor, generator: torch.Generator | None) -> Tensor:
        c = self.config
        block, fade = int(c.chunk_seconds * c.sample_rate), int(c.crossfade_seconds * c.sample_rate)
        n = waves.shape[-1]
        if n <= block + fade:
            return self.convert_block(waves, targets, generator)
        out, weight = torch.zeros_like(waves), torch.zeros(n)
        ramp = torch.linspace(0, 1, fade + 2)[1:-1] if fade else torch.empty(0)
        for start in range(0, n, block):
            end = min(n, start + block + fade)
            w = torch.ones(end - start)
            if start > 0 and fade:
                w[: min(fade, len(w))] = ramp[: min(fade, len(w))]
            if end < n and fade:
                w[-fade:] = 1 - ramp
            out[:, start:end] += self.convert_block(waves[:, start:end], targets, generator) * w
            weight[start:end] += w
            if end == n:
                break
        return out / weight.clamp_min(1e-6)

    @property
    def vocoder_name(self) -> str:
        """What :meth:`vocoder` does, for protocols and model cards."""
        return f"mel inversion + {self.config.griffin_lim_iters} iterations of fast Griffin-Lim"

    @torch.no_grad()
    def resynthesize(self, waves: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Clips (B, samples) through the features and :meth:`vocoder` only, no network: what the vocoder alone
        does to them (same length and peak level)."""
        return self._waves(self.features(waves), waves, generator)

    def convert_clips(self, waves: Tensor, targets: Sequence[str], sources: Sequence[str | None] = (),
                      generator: torch.Generator | None = None, batch_size: int = 64) -> Tensor:  # fmt: skip
        """Clips (N, samples) at ``sample_rate`` converted to ``targets`` (one name each), ``batch_size`` at a time.
        ``sources`` (the speakers of the clips) are not needed: the encoder hears no speaker."""
        parts = [self.convert(waves[i : i + batch_size], list(targets[i : i + batch_size]), generator)
                 for i in range(0, len(waves), batch_size)]  # fmt: skip
        return torch.cat(parts) if parts else waves.clone()

    def extra_repr(self) -> str:
        c = self.config
        return f"speakers={c.speakers}, bottleneck={c.bottleneck_channels}×(1/{c.downsample} frames)"
