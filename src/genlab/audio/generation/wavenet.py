"""WaveNet (van den Oord et al. 2016): an autoregressive model of μ-law quantised waveforms, class-conditional,
with cached incremental generation (Paine et al. 2016).

**Quantisation.** A wave x ∈ [−1, 1] is companded and quantised to 256 classes (μ = 255):

    f(x) = sign(x) · ln(1 + μ|x|) / ln(1 + μ),   c = round((f(x) + 1) / 2 · μ) ∈ {0, …, 255},

and decoded by x̂ = sign(y) · ((1 + μ)^|y| − 1) / μ with y = 2c/μ − 1. Silence is class 128. The error is
at most (1 + μ|x|)·((1 + μ)^(1/μ) − 1)/μ ≈ 8.6e-5 + 0.022·|x|: fine steps near zero, where speech spends
its time, coarse ones at the peaks.

**Network.** The previous samples' classes are embedded (an embedding is a one-hot input times a matrix) to
``residual_channels`` R, then

* a causal convolution (kernel 2: y_t = W₀ e_{t−1} + W₁ e_t + b);
* ``stacks`` repetitions of ``layers_per_stack`` L residual layers with dilations 1, 2, 4, …, 2^(L−1).
  Layer k computes a dilated causal convolution (kernel 2, R → 2R channels) of its input h, split in two
  halves for the gated activation with global conditioning on the label y,

      z = tanh(W_f,k ∗ h + V_f,k·y) ⊙ σ(W_g,k ∗ h + V_g,k·y),

  (V·y is one learned vector per class and layer, an embedding added inside each gate), then 1×1 convs
  give a residual h + W_r,k·z for the next layer and a skip W_s,k·z (``skip_channels`` S);
* the output: ReLU(Σ skips) → 1×1 conv (S → S) → ReLU → 1×1 conv (S → 256) → softmax over the next class.

The receptive field is 2 + stacks·(2^L − 1) samples (2048 with the defaults: 0.26 s at 8 kHz).

**Training** (teacher forcing). Each clip is preceded by a receptive field of silence (clips of the
task start and end in silence too); a random window of ``receptive_field + train_outputs`` samples is cut
from it, and the cross-entropy of the next sample's class is taken over the last ``train_outputs``
positions, the ones whose whole receptive field lies in the window. Those positions are all the network
computes: its convolutions run without padding, each layer shortening the sequence by its dilation, so a
window costs about receptive field + outputs samples, not a clip.

**Generation** (Paine et al. 2016, "Fast WaveNet generation"). A kernel-2 convolution with dilation d needs,
at step t, its input at t and at t − d. Each convolution keeps a queue of its last d inputs (a circular
buffer (B, d, C): input t sits at t mod d), so one new sample costs one step of each layer — two small
matrix products per layer — instead of a forward over the receptive field. The queues are first filled by
one ordinary (padded) forward over a receptive field of silence, the history training windows start from.
The next class is drawn from softmax(logits / temperature) by inverting its cumulative sum with one seeded
uniform per clip and step; temperature 0 takes the most likely class. The steps are sequential, so
generation is slow: thousands of small steps per second of audio, where a GAN makes a clip in one pass.

References:
    A. van den Oord, S. Dieleman, H. Zen, K. Simonyan, O. Vinyals, A. Graves, N. Kalchbrenner, A. Senior and
    K. Kavukcuoglu, "WaveNet: A Generative Model for Raw Audio", arXiv:1609.03499, 2016.
    T. Le Paine, P. Khorrami, S. Chang, Y. Zhang, P. Ramachandran, M. A. Hasegawa-Johnson and T. S. Huang,
    "Fast Wavenet Generation Algorithm", arXiv:1611.09482, 2016.
    ITU-T Recommendation G.711, "Pulse code modulation (PCM) of voice frequencies", 1988 (μ-law).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.audio.generation.base import AudioGenerator, AudioGeneratorConfig
from genlab.core.errors import BadInputError
from genlab.core.export import ExportGraph, not_exportable
from genlab.core.model import OptimizerSpec, register_model
from genlab.core.seeding import make_generator

MU = 255
CLASSES = MU + 1  # 256 quantisation levels
SILENCE = 128  # the class of x = 0
Beta = Annotated[float, Field(ge=0, lt=1)]


def mu_law_encode(waves: torch.Tensor, mu: int = MU) -> torch.Tensor:
    """Waves in [-1, 1] (any shape) → μ-law classes in {0, …, μ} (int64, same shape); values outside are clipped."""
    x = waves.float().clamp(-1, 1)
    y = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)  # companded, in [-1, 1]
    return torch.round((y + 1) / 2 * mu).long()


def mu_law_decode(classes: torch.Tensor, mu: int = MU) -> torch.Tensor:
    """μ-law classes in {0, …, μ} (any shape) → waves in [-1, 1] (float32, same shape)."""
    y = 2 * classes.float() / mu - 1
    return torch.sign(y) * ((1 + mu) ** y.abs() - 1) / mu


class DilatedStack:
    """The dilation pattern of a WaveNet config with ``layers_per_stack`` and ``stacks`` fields."""

    layers_per_stack: int
    stacks: int

    @property
    def dilations(self) -> list[int]:
        """Dilation of each residual layer: 1, 2, …, 2^(L−1), ``stacks`` times."""
        return [2**i for i in range(self.layers_per_stack)] * self.stacks

    @property
    def receptive_field(self) -> int:
        """Input samples one prediction sees: 2 (the causal input conv) + Σ dilations."""
        return 2 + sum(self.dilations)


class WaveNetConfig(DilatedStack, AudioGeneratorConfig):
    """``audio/wavenet``: a small class-conditional WaveNet; the defaults train on a CPU."""

    residual_channels: int = Field(32, ge=1, le=512, description="channels R of the residual stream and embedding")
    skip_channels: int = Field(64, ge=1, le=1024, description="channels S of the skip connections and output layers")
    layers_per_stack: int = Field(
        10, ge=1, le=14, description="residual layers per stack, dilations 1, 2, …, 2^(L-1) (10: up to 512)"
    )
    stacks: int = Field(2, ge=1, le=8, description="repetitions of the dilation pattern")
    train_outputs: int = Field(
        1024, ge=1, le=1 << 16, description="predicted samples per training window (the window adds a receptive "
        "field of context before them; capped at clip_samples)"
    )  # fmt: skip
    temperature: float = Field(
        1.0, ge=0.0, le=10.0, description="sampling temperature of generate (0: always the most likely class)"
    )
    lr: float = Field(1e-3, gt=0, le=1, description="Adam learning rate")
    betas: tuple[Beta, Beta] = Field((0.9, 0.999), description="Adam betas, each in [0, 1)")


class Taps(NamedTuple):
    """A kernel-2 causal conv for one-sample steps: y_t = bias + x_{t−d} @ past + x_t @ now."""

    past: torch.Tensor  # (C_in, C_out) = W₀ᵀ
    now: torch.Tensor  # (C_in, C_out) = W₁ᵀ
    bias: torch.Tensor  # (C_out,) or (B, C_out) with the label term folded in


@dataclass
class GenerationState:
    """What incremental generation keeps between samples (Paine et al. 2016): per causal conv a queue (d, B, C)
    of its last d inputs (input t in slot t mod d) and its taps, per residual layer its 1×1 convs (Wᵀ, b), the
    head's two 1×1 convs, and the position of the next input."""

    position: int
    queues: list[torch.Tensor]
    taps: list[Taps]
    outs: list[tuple[torch.Tensor, torch.Tensor]]
    head: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


class CausalConv(nn.Module):
    """Kernel-2 causal convolution with dilation d, (B, C_in, T) → (B, C_out, T'): y_t = W₀ x_{t−d} + W₁ x_t + b.

    ``pad=True`` zero-pads d samples on the left (T' = T); ``pad=False`` keeps only outputs whose inputs are all
    in x (T' = T − d). :meth:`taps` lays the weights out for one output at a time from x_{t−d} and x_t.
    """

    def __init__(self, in_channels: int, out_channels: int, dilation: int):
        super().__init__()
        self.dilation = dilation
        self.conv = nn.Conv1d(in_channels, out_channels, 2, dilation=dilation)

    def forward(self, x: torch.Tensor, pad: bool = True) -> torch.Tensor:
        return self.conv(F.pad(x, (self.dilation, 0)) if pad else x)

    def taps(self, bias: torch.Tensor | None = None) -> Taps:
        """The weights laid out for one-sample steps; ``bias`` (B, C_out) replaces the conv's bias."""
        w = self.conv.weight  # (C_out, C_in, 2): tap 0 reads x_{t−d}, tap 1 reads x_t
        return Taps(w[:, :, 0].t().contiguous(), w[:, :, 1].t().contiguous(), self.conv.bias if bias is None else bias)


class ResidualLayer(nn.Module):
    """A gated residual layer: h (B, R, T) [+ gate biases: global (B, 2R) or local (B, 2R, ≥ T')] → (h + residual
    or None, skip (B, S, T')). A local bias is aligned on the right: its last T' steps meet the conv's outputs."""

    def __init__(self, residual: int, skip: int, dilation: int, num_classes: int, last: bool):
        super().__init__()
        self.skip = skip
        self.dilated = CausalConv(residual, 2 * residual, dilation)
        self.label = nn.Embedding(num_classes, 2 * residual) if num_classes else None  # V_f·y and V_g·y
        if self.label is not None:
            nn.init.normal_(self.label.weight, 0.0, 0.1)  # a nudge of the gates, not a flood
        self.out = nn.Conv1d(residual, skip + (0 if last else residual), 1)  # skip (and residual) 1×1 convs

    def label_bias(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        """The gates' label term (B, 2R), or None for an unconditional model."""
        return None if self.label is None else self.label(labels)

    def gate(self, a: torch.Tensor) -> torch.Tensor:
        """tanh(filter) ⊙ σ(gate) of pre-activations (B, 2R, …) → (B, R, …)."""
        f, g = a.chunk(2, dim=1)
        return torch.tanh(f) * torch.sigmoid(g)

    def forward(
        self, h: torch.Tensor, bias: torch.Tensor | None, pad: bool
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        a = self.dilated(h, pad)  # (B, R, T) -> (B, 2R, T') with T' = T or T − d
        if bias is not None:
            a = a + (bias[:, :, None] if bias.dim() == 2 else bias[:, :, -a.shape[-1] :])
        o = self.out(self.gate(a))  # (B, S [+ R], T')
        skip = o[:, : self.skip]
        if o.shape[1] == self.skip:  # the last layer: no residual output
            return None, skip
        return h[:, :, -a.shape[-1] :] + o[:, self.skip :], skip


@register_model("audio/wavenet")
class WaveNet(AudioGenerator):
    """``audio/wavenet``: WaveNet on μ-law classes, trained by teacher forcing on random windows of the clips,
    generating with per-layer queues; ``conditional=true`` adds the label inside every gate."""

    config_class: ClassVar[type[WaveNetConfig]] = WaveNetConfig
    description: ClassVar[str] = (
        "WaveNet: autoregressive dilated causal convolutions on μ-law samples (van den Oord et al. 2016)"
    )
    sample_batch_size: ClassVar[int] = 250  # clips generated side by side: a step costs little more for more clips
    config: WaveNetConfig

    def __init__(self, config: WaveNetConfig):
        super().__init__(config)
        r, s = config.residual_channels, config.skip_channels
        self.embed = nn.Embedding(CLASSES, r)
        self.input_conv = CausalConv(r, r, 1)
        dilations = config.dilations
        self.layers = nn.ModuleList(
            ResidualLayer(r, s, d, self.label_classes, last=i == len(dilations) - 1) for i, d in enumerate(dilations)
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(s, s, 1), nn.ReLU(), nn.Conv1d(s, CLASSES, 1))

    @property
    def receptive_field(self) -> int:
        """Input samples one prediction sees (``config.receptive_field``)."""
        return self.config.receptive_field

    # --- the full (training) forward ----------------------------------------------
    def forward(
        self,
        classes: torch.Tensor,
        labels: torch.Tensor | None = None,
        pad: bool = True,
        record: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Next-class logits for input classes (B, T): (B, 256, T) with ``pad`` (zeros before the input), else
        (B, 256, T − receptive_field + 1), the outputs whose receptive field lies in the input. Output t
        predicts the class at t + 1 from the classes up to t; ``labels`` (B,) are required iff the model is
        conditional. ``record`` receives each causal conv's input."""
        if self.conditional and labels is None:
            raise BadInputError("this WaveNet is conditional: give one label per sequence", "labels=(B,) class indices")
        if not pad and classes.shape[1] < self.receptive_field:
            raise BadInputError(
                f"{classes.shape[1]} samples are fewer than the receptive field ({self.receptive_field})",
                "give at least receptive_field samples, or pad=True",
            )
        h = self.embed(classes).transpose(1, 2)  # (B, T) -> (B, R, T)
        if record is not None:
            record.append(h)
        h = self.input_conv(h, pad)
        skips = None
        for layer in self.layers:
            if record is not None:
                record.append(h)
            h, skip = layer(h, layer.label_bias(labels), pad)
            skips = skip if skips is None else skips[:, :, -skip.shape[-1] :] + skip  # (B, S, T')
        return self.head(skips)

    def export_graphs(self) -> dict[str, ExportGraph]:
        """None: WaveNet has no single-pass decode to export; refused with the reason."""
        raise not_exportable(self, "WaveNet generates sample by sample (an autoregressive loop of thousands of steps "
                             "per second of audio with per-layer queues), not in one pass from latents; export a "
                             "WaveGAN or SpecGAN for audio generation in onnxruntime")  # fmt: skip

    # --- training ---------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        return [OptimizerSpec("model", list(self.parameters()), lr=self.config.lr, betas=self.config.betas)]

    def windows(
        self, waves: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Random training windows of clips (B, N) in [-1, 1]: (inputs (B, rf + n − 1), targets (B, n)) μ-law
        classes, n = min(train_outputs, N). Each clip is preceded by a receptive field rf of silence and a
        window of rf + n samples starts at a random place of it (one per clip): targets range over the whole
        clip, each predicted from the rf samples before it (silence before the clip's start)."""
        rf, (b, length) = self.receptive_field, waves.shape
        n = min(self.config.train_outputs, length)
        classes = F.pad(mu_law_encode(waves), (rf, 0), value=SILENCE)  # (B, rf + N)
        starts = torch.randint(0, length - n + 1, (b,), generator=generator).to(classes.device)
        index = starts[:, None] + torch.arange(rf + n, device=classes.device)  # (B, rf + n)
        window = classes.gather(1, index)
        return window[:, :-1], window[:, rf:]

    def losses(
        self, waves: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Cross-entropy of the next sample's class (nats) over random windows, and the same in bits."""
        inputs, targets = self.windows(waves, generator)
        logits = self(inputs, labels, pad=False)  # (B, 256, n)
        loss = F.cross_entropy(logits, targets)
        return {"loss": loss, "bits_per_sample": loss / math.log(2)}

    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """``model``: {loss (nats per sample), bits_per_sample} on one random window per clip."""
        if group != "model":
            raise BadInputError(f"unknown optimizer group '{group}'", "WaveNet has one group, 'model'")
        return self.losses(*self._unpack(batch))

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        """The training losses on windows at fixed places (seed 0), so validation batches compare across steps."""
        return self.losses(*self._unpack(batch), generator=make_generator(0))

    # --- incremental generation ---------------------------------------------------
    def _convs(self) -> list[CausalConv]:
        """The causal convs in order: the input conv, then each residual layer's dilated conv."""
        return [self.input_conv, *(layer.dilated for layer in self.layers)]

    @torch.no_grad()
    def start(self, prefix: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, GenerationState]:
        """Run the padded forward over a prefix of classes (B, P), P ≥ 1: (the logits (B, 256) of the class after
        it, the :class:`GenerationState` whose queues hold each causal conv's last inputs)."""
        record: list[torch.Tensor] = []
        logits = self(prefix, labels, pad=True, record=record)[:, :, -1]
        length, queues = prefix.shape[1], []
        for conv, x in zip(self._convs(), record, strict=True):
            d = conv.dilation
            last = F.pad(x, (max(0, d - length), 0))[:, :, -d:]  # inputs P − d … P − 1 (zeros before the prefix)
            queues.append(last.roll(length % d, dims=2).permute(2, 0, 1).contiguous())  # (d, B, C): slot t mod d
        taps = [self.input_conv.taps()]
        for layer in self.layers:
            label = layer.label_bias(labels)  # folded into the conv's bias: one addition less per step
            taps.append(layer.dilated.taps(None if label is None else layer.dilated.conv.bias + label))
        outs, head = output_weights(self.layers, self.head)
        return logits, GenerationState(length, queues, taps, outs, head)

    @torch.no_grad()
    def step(self, classes: torch.Tensor, state: GenerationState) -> torch.Tensor:
        """Feed the class at ``state.position`` (B,): the logits (B, 256) of the next class. One step of each
        layer, reading input t − d from its queue and putting input t in its place."""
        return incremental_step(self.embed(classes), state, self.config.skip_channels)

    @torch.no_grad()
    def start_from_silence(self, labels: torch.Tensor | None, n: int) -> tuple[torch.Tensor, GenerationState]:
        """:meth:`start` on a receptive field of silence for ``n`` clips. The forward runs once per distinct label
        (all clips of a label share that history) and its results are copied to each clip."""
        if labels is None:
            distinct, which = None, torch.zeros(n, dtype=torch.long, device=self.device)
        else:
            distinct, which = labels.unique(return_inverse=True)
        rows = 1 if distinct is None else len(distinct)
        silence = torch.full((rows, self.receptive_field), SILENCE, dtype=torch.long, device=self.device)
        logits, state = self.start(silence, distinct)
        state.queues = [q[:, which] for q in state.queues]  # (d, n, C): indexing copies
        state.taps = [taps._replace(bias=taps.bias[which]) if taps.bias.dim() == 2 else taps for taps in state.taps]
        return logits[which], state

    @torch.no_grad()
    def generate(
        self,
        n: int,
        labels: torch.Tensor | int | list[int] | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        temperature: float | None = None,
    ) -> torch.Tensor:
        """``n`` clips (n, clip_samples), float32 in [-1, 1] at ``config.sample_rate``, sample by sample.

        ``labels``: one label or one per clip, conditional models only (None: the classes in turn); ``seed`` (or a
        ``generator``): the same seed gives the same clips; ``temperature`` (default ``config.temperature``):
        the softmax is taken of logits / temperature, 0 picks the most likely class.
        """
        if n < 1:
            raise BadInputError(f"n must be at least 1, got {n}")
        temperature = self.config.temperature if temperature is None else float(temperature)
        if temperature < 0:
            raise BadInputError(f"temperature must be ≥ 0, got {temperature}", "use 1.0 to sample the model as is")
        generator = generator if generator is not None else make_generator(seed)
        labels = self.check_labels(labels, n)
        length = self.config.clip_samples
        uniforms = torch.rand((length, n, 1), generator=generator).to(self.device)  # one draw per step and clip
        logits, state = self.start_from_silence(labels, n)
        out = torch.empty(length, n, dtype=torch.long, device=self.device)
        for t in range(length):
            out[t] = sample_classes(logits, temperature, uniforms[t])
            if t + 1 < length:
                logits = self.step(out[t], state)
        return mu_law_decode(out.t()).clamp(-1, 1)


def output_weights(layers: nn.ModuleList, head: nn.Sequential) -> tuple[list, tuple]:
    """The 1×1 convs of incremental steps as matrices: per residual layer (Wᵀ, b) of its output conv, and the
    head's two convs (W₁ᵀ, b₁, W₂ᵀ, b₂) (``head`` is ReLU, conv, ReLU, conv)."""
    outs = [(layer.out.weight[:, :, 0].t().contiguous(), layer.out.bias) for layer in layers]
    first, last = head[1], head[3]
    return outs, (first.weight[:, :, 0].t().contiguous(), first.bias, last.weight[:, :, 0].t().contiguous(), last.bias)


def incremental_step(
    h: torch.Tensor, state: GenerationState, skip_channels: int, gate_bias: torch.Tensor | None = None
) -> torch.Tensor:
    """One sample through every layer (Paine et al. 2016): ``h`` (B, R) is the embedded input at
    ``state.position``; each causal conv reads input t − d from its queue and stores input t in its place.
    ``gate_bias`` (B, layers·2R) is added to the gate inputs (a vocoder's local conditioning, layer k's rows
    [2R·k, 2R·(k + 1))). Returns the logits (B, 256) of the next class and advances the position."""
    t, skips = state.position, None
    for i, (queue, taps) in enumerate(zip(state.queues, state.taps, strict=True)):
        slot = t % queue.shape[0]
        a = torch.addmm(taps.bias, queue[slot], taps.past)  # W₀ x_{t−d} + b, read before the slot is reused
        queue[slot] = h
        a.addmm_(h, taps.now)
        if i == 0:  # the input conv
            h = a
            continue
        if gate_bias is not None:
            rows = a.shape[1]
            a += gate_bias[:, (i - 1) * rows : i * rows]
        f, g = a.chunk(2, dim=1)
        w, b = state.outs[i - 1]
        o = torch.addmm(b, torch.tanh(f).mul_(torch.sigmoid(g)), w)  # (B, S [+ R])
        skips = o[:, :skip_channels] if skips is None else skips.add_(o[:, :skip_channels])
        if o.shape[1] > skip_channels:
            h = h + o[:, skip_channels:]
    state.position += 1
    w1, b1, w2, b2 = state.head
    return torch.addmm(b2, torch.addmm(b1, skips.relu_(), w1).relu_(), w2)


def sample_classes(logits: torch.Tensor, temperature: float, uniform: torch.Tensor) -> torch.Tensor:
    """Classes (B,) drawn from softmax(logits (B, K) / temperature) by inverting the cumulative distribution
    at ``uniform`` (B, 1) in [0, 1); temperature 0: the argmax."""
    if temperature == 0:
        return logits.argmax(1)
    cdf = torch.softmax(logits / temperature, dim=1).cumsum_(1)  # (B, K)
    index = (cdf < uniform * cdf[:, -1:]).sum(1)  # the first class whose cdf reaches u
    return index.clamp_(max=logits.shape[1] - 1)
