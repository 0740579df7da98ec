"""``audio/wavenet-vocoder``: a WaveNet conditioned on log-mels — an autoregressive vocoder on μ-law samples.

WaveNet (van den Oord et al. 2016) models a wave as a product of next-sample distributions; with *local*
conditioning on acoustic features it becomes a vocoder (Tamamori et al. 2017), the one Tacotron 2 put behind its
mel predictor (Shen et al. 2018). The building blocks — μ-law quantisation, the kernel-2 causal convolutions, the
gated residual layers, the output head and the sampler — are those of genlab's class-conditional WaveNet
(:mod:`genlab.audio.generation.wavenet`); this module adds the mel conditioning and the vocoder contract.

**Model.** A wave x ∈ [−1, 1]^N is μ-law quantised to classes q_t ∈ {0, …, 255} (μ = 255, silence is class
128) and factorised as

    p(q | m) = Π_t p(q_t | q_0, …, q_{t−1}, m),

each factor a softmax over the 256 classes. The inputs are the previous classes (q_{−1} = silence), embedded to
``residual_channels`` R; a causal conv (kernel 2) and ``stacks`` × ``layers_per_stack`` gated residual layers
with dilations 1, 2, …, 2^(L−1) follow, layer k computing

    z_t = tanh(W_f,k ∗ h + V_f,k · c_t) ⊙ σ(W_g,k ∗ h + V_g,k · c_t),

where ``V_f,k``, ``V_g,k`` are 1×1 convolutions (``conditioning_channels`` C → R each) of the conditioning
sequence c at the sample rate; residual (h + W_r,k z) and skip (W_s,k z, ``skip_channels`` S) outputs as in
WaveNet, then ReLU → 1×1 (S → S) → ReLU → 1×1 (S → 256). Convolutions are zero-padded on the left: the network
starts from an empty history, as a generated wave does.

**Conditioning** (log-mels m, (B, n_mels, F), frame f centred on sample f·hop as the front end computes them):

1. a fixed standardisation m' = (m − ``mel_mean``) / ``mel_std`` (log-mels span about −11.5 … 2; the network
   should not spend its first steps learning an offset);
2. a frame-rate convolution (kernel ``conditioning_kernel``, n_mels → C) and a leaky ReLU (slope 0.2): frame
   features e_f that see their neighbours;
3. upsampling to the sample rate by linear interpolation between frame centres:
   c_n = (1 − w) e_f + w e_{f+1}, f = ⌊n / hop⌋, w = (n mod hop) / hop (the last frame is held past its
   centre). This equals repeating each frame ``hop`` times and smoothing with a fixed triangular filter of 2·hop
   taps — a nearest-repeat upsampler whose convolution is fixed rather than learned, so it costs no parameters
   and keeps frame f exactly on sample f·hop. Being linear, it commutes with the 1×1 convs V, so both the
   parallel and the incremental path compute V·e at the frame rate and interpolate that (2R numbers per layer
   and sample, where the 1×1 conv at the sample rate would cost 2R·C multiply-adds: a fifth of the training
   forward saved with the defaults).

**Training** (teacher forcing, :meth:`WaveNetVocoder.training_losses`). From each segment of the batch (the
``vocoder`` task's random crops) a window of ``train_samples`` samples starting on a frame centre s = j·hop is
cut; its conditioning is the segment's mel frames j, j + 1, … (frames see the audio around the window, as they
would in a whole recording) and its history is empty, as in generation. The loss is the cross-entropy of the
next class in nats per sample (``bits_per_sample`` = loss / ln 2); one parallel pass computes every position. The
Vocoder base's resynthesis losses (multi-resolution STFT, mel L1, discriminator) do not apply to a sampled
autoregressive model: ``stft_*``, ``mel_weight`` and the discriminator fields are unused (``adversarial_weight``
must stay 0).

**Vocoding** (:meth:`WaveNetVocoder.forward`, :meth:`~genlab.audio.vocoder.base.Vocoder.vocode`): the cached
incremental algorithm of Paine et al. (2016): each causal conv keeps a queue of its last d inputs, so a sample
costs one step of every layer (a few small matrix products) instead of a pass over the receptive field. The
class is drawn from softmax(logits / ``temperature``) with one seeded uniform per clip and sample
(``temperature`` 0: the most likely class, which tends to produce buzzing or silence; 1: the model as trained).
The draw is seeded: ``vocode(mel, seed=…)`` or ``generator=…``, else ``config.seed``, so vocoding is
reproducible. It is sequential and slow: with the defaults one sample takes about 1 ms on one CPU thread
(0.8–1.0 ms measured on a shared two-core machine), so one second at 16 kHz takes about 15 s — a real-time
factor near 15, where Vocos takes milliseconds. Clips of a batch are vocoded side by side at a fraction of the
cost per step (four clips: about 1.5 ms a step).

**Receptive field and chunked vocoding.** The network sees 2 + Σ dilations samples (512 with the defaults),
hence ``⌈(rf − 1) / hop⌉`` frames back, plus the frame convolution's reach and one frame of interpolation
(:attr:`WaveNetVocoder.receptive_frames`, 4 frames with the defaults at 16 kHz). Unlike a feed-forward vocoder, a
sample also depends on every earlier *drawn* sample: chunked vocoding
(:func:`~genlab.audio.vocoder.streaming.vocode_stream`) restarts each piece from an empty history
``receptive_frames`` + ⌈n_fft / 2·hop⌉ frames before its core, so the piece has warmed up on real conditioning by
the core's first sample; the result is a valid draw from the model at the core, not the same samples as vocoding
the whole input (which no sampled model could give).

Defaults for a CPU: R = 64, S = 128, C = 64, 2 stacks × 8 layers (receptive field 512 samples, 32 ms at
16 kHz), ≈ 0.68 M parameters; Adam at 1e-3 on windows of 2048 samples. Training is costly too — every sample of
a window is a prediction through the whole network (about 1.3 MFLOP forward): a step on 16 windows takes several
seconds on one thread. The papers' models are far larger (R = 512, S = 256 in Shen et al. 2018, 24–30 layers)
and train for days on GPUs.

References:
    A. van den Oord, S. Dieleman, H. Zen, K. Simonyan, O. Vinyals, A. Graves, N. Kalchbrenner, A. Senior and
    K. Kavukcuoglu, "WaveNet: A Generative Model for Raw Audio", arXiv:1609.03499, 2016.
    A. Tamamori, T. Hayashi, K. Kobayashi, K. Takeda and T. Toda, "Speaker-dependent WaveNet vocoder",
    Interspeech 2017.
    J. Shen, R. Pang, R. J. Weiss et al., "Natural TTS Synthesis by Conditioning WaveNet on Mel Spectrogram
    Predictions", ICASSP 2018 (Tacotron 2).
    T. Le Paine, P. Khorrami, S. Chang, Y. Zhang, P. Ramachandran, M. A. Hasegawa-Johnson and T. S. Huang,
    "Fast Wavenet Generation Algorithm", arXiv:1611.09482, 2016.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from genlab.audio.generation.wavenet import (
    CLASSES,
    SILENCE,
    CausalConv,
    DilatedStack,
    GenerationState,
    ResidualLayer,
    incremental_step,
    mu_law_decode,
    mu_law_encode,
    output_weights,
    sample_classes,
)
from genlab.audio.vocoder.base import Vocoder, VocoderConfig
from genlab.core.errors import BadInputError
from genlab.core.export import ExportGraph, not_exportable
from genlab.core.model import OptimizerSpec, register_model
from genlab.core.seeding import make_generator


class WaveNetVocoderConfig(DilatedStack, VocoderConfig):
    """Mel front end, network size, training window and sampling of ``audio/wavenet-vocoder``."""

    residual_channels: int = Field(64, ge=1, le=512, description="channels R of the residual stream and embedding")
    skip_channels: int = Field(128, ge=1, le=1024, description="channels S of the skip connections and output head")
    layers_per_stack: int = Field(
        8, ge=1, le=14, description="residual layers per stack, dilations 1, 2, …, 2^(L-1) (8: up to 128)"
    )
    stacks: int = Field(2, ge=1, le=8, description="repetitions of the dilation pattern")
    conditioning_channels: int = Field(
        64, ge=1, le=512, description="channels C of the mel features upsampled to the sample rate"
    )
    conditioning_kernel: int = Field(3, ge=1, le=15, description="kernel of the frame-rate mel convolution (odd)")
    mel_mean: float = Field(-5.0, ge=-30, le=30, description="fixed offset subtracted from the log-mels")
    mel_std: float = Field(3.0, gt=0, le=100, description="fixed scale the offset log-mels are divided by")
    train_samples: int = Field(
        2048, ge=1, le=1 << 18, description="samples of each segment's training window (capped at the segment)"
    )
    temperature: float = Field(
        1.0, ge=0.0, le=10.0, description="sampling temperature of vocoding (0: always the most likely class)"
    )
    seed: int = Field(0, ge=0, description="seed of the draws when vocode is given no seed or generator")
    lr: float = Field(1e-3, gt=0, le=1, description="Adam learning rate")

    @model_validator(mode="after")
    def _checks(self) -> WaveNetVocoderConfig:
        if self.conditioning_kernel % 2 == 0:
            raise ValueError(f"conditioning_kernel must be odd (a centred convolution), got {self.conditioning_kernel}")
        if self.adversarial_weight > 0:
            raise ValueError("audio/wavenet-vocoder trains by next-sample cross-entropy: it has no discriminator "
                             "(set adversarial_weight to 0)")  # fmt: skip
        return self


@dataclass
class VocodingState(GenerationState):
    """:class:`~genlab.audio.generation.wavenet.GenerationState` (queues, taps, 1×1 convs, head, position) plus the
    frame-rate local terms V·e (B, F, layers·2R) of the mels being vocoded."""

    local: torch.Tensor


def upsample(frames: torch.Tensor, length: int, hop: int) -> torch.Tensor:
    """Frame-rate features (B, C, F) → (B, C, length) at the sample rate, frame f on sample f·hop, linearly
    interpolated in between and held after the last frame (module docstring, step 3)."""
    n = torch.arange(length, device=frames.device)
    last = frames.shape[-1] - 1
    left = (n // hop).clamp(max=last)
    right = (n // hop + 1).clamp(max=last)
    w = ((n % hop).float() / hop).to(frames.dtype)
    return torch.lerp(frames[:, :, left], frames[:, :, right], w)


@register_model("audio/wavenet-vocoder")
class WaveNetVocoder(Vocoder):
    """WaveNet on μ-law samples with local conditioning on log-mels in every gate (module docstring)."""

    config_class = WaveNetVocoderConfig
    description: ClassVar[str] = (
        "mel vocoder: an autoregressive WaveNet on μ-law samples conditioned on the mels (slow, sample by sample)"
    )
    config: WaveNetVocoderConfig

    def __init__(self, config: WaveNetVocoderConfig):
        super().__init__(config)
        c = config
        r, s, dilations = c.residual_channels, c.skip_channels, c.dilations
        self.embed = nn.Embedding(CLASSES, r)
        self.input_conv = CausalConv(r, r, 1)
        self.layers = nn.ModuleList(
            ResidualLayer(r, s, d, 0, last=i == len(dilations) - 1) for i, d in enumerate(dilations)
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(s, s, 1), nn.ReLU(), nn.Conv1d(s, CLASSES, 1))
        k = c.conditioning_kernel
        self.conditioning = nn.Conv1d(c.n_mels, c.conditioning_channels, k, padding=k // 2)
        # V_f,k and V_g,k of every layer, stacked: rows [2R·k, 2R·(k + 1)) belong to layer k
        self.local = nn.Conv1d(c.conditioning_channels, 2 * r * len(dilations), 1)
        self._draw: tuple[torch.Generator | None, float | None] = (None, None)  # set by vocode for its call

    @property
    def receptive_field(self) -> int:
        """Samples one prediction sees (``config.receptive_field``)."""
        return self.config.receptive_field

    @property
    def receptive_frames(self) -> int:
        """Mel frames on each side a sample's distribution depends on, given the samples before it: the frame
        convolution's reach, one frame of interpolation and the ``⌈(rf − 1) / hop⌉`` frames the network's
        receptive field covers (module docstring)."""
        c = self.config
        return c.conditioning_kernel // 2 + 1 + math.ceil((self.receptive_field - 1) / c.hop_length)

    # --- the teacher-forced forward --------------------------------------------------
    def frame_features(self, mel: torch.Tensor) -> torch.Tensor:
        """Frame features e (B, C, F) of log-mels (B, n_mels, F) (module docstring, steps 1–2)."""
        c = self.config
        return F.leaky_relu(self.conditioning((mel - c.mel_mean) / c.mel_std), 0.2)

    def logits(self, inputs: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        """Next-class logits (B, 256, T) of input classes (B, T) (input t is the class of sample t − 1) under
        log-mels (B, n_mels, F) whose frame f sits on input f·hop; zero history before the first input."""
        c = self.config
        h = self.input_conv(self.embed(inputs).transpose(1, 2))  # (B, R, T)
        local = self.local(self.frame_features(mel))  # V·e at the frame rate, (B, layers·2R, F)
        rows, length = 2 * c.residual_channels, inputs.shape[1]
        skips = None
        for k, layer in enumerate(self.layers):
            h, skip = layer(h, upsample(local[:, k * rows : (k + 1) * rows], length, c.hop_length), pad=True)
            skips = skip if skips is None else skips + skip
        return self.head(skips)

    # --- training ----------------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        return [OptimizerSpec("generator", list(self.parameters()), lr=c.lr, schedule=c.schedule)]

    def windows(
        self, wave: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training windows of segments (B, N): (input classes (B, n), target classes (B, n), log-mels
        (B, n_mels, 1 + n // hop)), n = min(train_samples, N), each window starting on a random frame centre
        (one per segment) with the segment's mel frames from there on (module docstring)."""
        c = self.config
        b, length = wave.shape
        n, hop = min(c.train_samples, length), c.hop_length
        mel = self.mel(wave)  # (B, n_mels, 1 + N // hop)
        frame = torch.randint(0, (length - n) // hop + 1, (b,), generator=generator).to(wave.device)
        index = frame[:, None] * hop + torch.arange(n, device=wave.device)
        targets = mu_law_encode(wave.gather(1, index))  # (B, n)
        frames = frame[:, None] + torch.arange(c.frames(n), device=wave.device)  # (B, 1 + n // hop)
        mel = mel.gather(2, frames[:, None, :].expand(-1, mel.shape[1], -1))
        inputs = torch.cat([torch.full_like(targets[:, :1], SILENCE), targets[:, :-1]], dim=1)
        return inputs, targets, mel

    def losses(self, batch: Any, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Cross-entropy of the next sample's class (nats) over one window per segment, and the same in bits."""
        wave, given = self._waves(batch)
        if given is not None:
            raise BadInputError("the WaveNet vocoder trains on the recordings' own mels only",
                                "fine-tune audio/vocos on an acoustic model's mels (--mels-from)")  # fmt: skip
        inputs, targets, mel = self.windows(wave, generator)
        loss = F.cross_entropy(self.logits(inputs, mel), targets)
        return {"loss": loss, "bits_per_sample": loss.detach() / math.log(2)}

    def training_losses(self, batch: Any, group: str = "generator") -> dict[str, torch.Tensor]:
        """``generator``: {loss (nats per sample), bits_per_sample}, teacher-forced on a random window of each
        segment of ``batch`` (B, samples) (or ClipDataset's (waves, labels))."""
        if group != "generator":
            raise BadInputError(f"unknown optimizer group '{group}'", "the WaveNet vocoder has one group, 'generator'")
        return self.losses(batch)

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        """The training losses on windows at fixed places (seed 0), without gradients."""
        with torch.no_grad():
            return self.losses(batch, generator=make_generator(0))

    def export_graphs(self) -> dict[str, ExportGraph]:
        """None: refused with the reason (the model vocodes sample by sample)."""
        raise not_exportable(self, "the WaveNet vocoder draws one sample at a time (a loop of thousands of steps a "
                             "second with per-layer queues), not one pass from the mels; export audio/vocos for "
                             "vocoding in onnxruntime")  # fmt: skip

    # --- incremental vocoding ------------------------------------------------------------
    def start(self, mel: torch.Tensor) -> VocodingState:
        """The state before the first sample: empty queues (zero history, as the padded forward) and the
        frame-rate local terms V·e (B, F, layers·2R) of log-mels (B, n_mels, F)."""
        b, convs = mel.shape[0], [self.input_conv, *(layer.dilated for layer in self.layers)]
        queues = [mel.new_zeros(conv.dilation, b, conv.conv.in_channels) for conv in convs]
        outs, head = output_weights(self.layers, self.head)
        local = self.local(self.frame_features(mel)).transpose(1, 2).contiguous()  # (B, F, layers·2R)
        return VocodingState(0, queues, [conv.taps() for conv in convs], outs, head, local)

    def step(self, classes: torch.Tensor, state: VocodingState) -> torch.Tensor:
        """Feed the input class at ``state.position`` (B,) (the class of the sample before it): the logits
        (B, 256) of the sample at that position. One step of each layer, reading input t − d from its queue."""
        c, t = self.config, state.position
        frame, last = t // c.hop_length, state.local.shape[1] - 1
        w = (t % c.hop_length) / c.hop_length
        local = torch.lerp(state.local[:, min(frame, last)], state.local[:, min(frame + 1, last)], w)
        return incremental_step(self.embed(classes), state, c.skip_channels, local)  # + V_f·c_t, V_g·c_t

    @torch.no_grad()
    def forward(
        self,
        mel: torch.Tensor,
        length: int | None = None,
        generator: torch.Generator | None = None,
        temperature: float | None = None,
    ) -> torch.Tensor:
        """Waves (B, length) in [−1, 1] drawn sample by sample from log-mels (B, n_mels, frames); ``length``
        defaults to ``(frames − 1) · hop``. Not differentiable (a draw). ``generator`` (default: the one
        :meth:`vocode` was given, else ``config.seed``) and ``temperature`` (default ``config.temperature``)."""
        c = self.config
        length = c.samples(mel.shape[-1]) if length is None else int(length)
        pending_generator, pending_temperature = self._draw
        temperature = pending_temperature if temperature is None else float(temperature)
        temperature = c.temperature if temperature is None else temperature
        if temperature < 0:
            raise BadInputError(f"temperature must be ≥ 0, got {temperature}", "use 1.0 to sample the model as is")
        b = mel.shape[0]
        if length == 0:
            return mel.new_zeros(b, 0)
        if generator is None:
            generator = pending_generator if pending_generator is not None else make_generator(c.seed)
        uniforms = torch.rand((length, b, 1), generator=generator).to(mel.device)  # one draw per sample and clip
        state = self.start(mel)
        out = torch.empty(length, b, dtype=torch.long, device=mel.device)
        classes = torch.full((b,), SILENCE, dtype=torch.long, device=mel.device)
        for t in range(length):
            classes = sample_classes(self.step(classes, state), temperature, uniforms[t])
            out[t] = classes
        return mu_law_decode(out.t()).clamp(-1, 1)

    @torch.no_grad()
    def vocode(
        self,
        mel: torch.Tensor,
        length: int | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        temperature: float | None = None,
    ) -> torch.Tensor:
        """:meth:`Vocoder.vocode <genlab.audio.vocoder.base.Vocoder.vocode>` with the draw's ``seed`` (or a
        ``generator``; default ``config.seed``) and ``temperature`` (default ``config.temperature``)."""
        if generator is None and seed is not None:
            generator = make_generator(seed)
        self._draw = (generator, temperature)
        try:
            return super().vocode(mel, length)
        finally:
            self._draw = (None, None)
