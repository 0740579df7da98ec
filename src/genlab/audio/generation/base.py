"""What the audio generators share: :class:`AudioGenerator` (the data-set fields, label checks, class names) for
every model of the ``audio-generation`` task, and :class:`AudioGAN` (WGAN-GP training, class conditioning,
``generate``) for WaveGAN and SpecGAN.

Both models of Donahue, McAuley & Puckette (2019) are Wasserstein GANs with a gradient penalty
(Gulrajani et al. 2017): the critic D is trained ``n_critic`` = 5 times per generator step on

    L_D = E[D(G(z))] − E[D(x)] + λ · E[(‖∇D(x̂)‖₂ − 1)²],   x̂ = εx + (1 − ε)G(z),  ε ~ U[0, 1],  λ = 10,

and the generator on ``L_G = −E[D(G(z))]``, both with Adam (lr 1e-4, β = (0.5, 0.9)) as in the paper.

z ~ U(−1, 1)^100, the paper's prior. The networks work on ``window_samples`` = a power of 2 ≥ the clip
length (16384 in the paper, for one second at 16 kHz): real clips are zero-padded at the end to it and
generated audio is cropped back to ``clip_samples``, so the generator learns silence in the padding.

The penalty needs a second backward pass and five critic steps buy one generator step: on a CPU that is
few generator updates per minute. ``loss`` (hinge, non-saturating, least squares; :mod:`genlab.nn.adversarial`)
with ``spectral_norm=true`` (every critic weight divided by its largest singular value, Miyato et al. 2018),
``gp_weight=0`` and ``n_critic=1`` is the cheaper recipe of SNGAN; a Wasserstein critic must keep one of the
two constraints (penalty or spectral normalisation).

**Class conditioning** (``conditional=true``, labelled data): the generator takes ``[z, e(y)]``, z
concatenated with a learned label embedding (Mirza & Osindero 2014); the critic is a *projection
discriminator* (Miyato & Koyama 2018), ``D(x, y) = ψ(φ(x)) + ⟨v_y, φ(x)⟩`` with φ(x) its last
features, ψ a linear map and v_y a learned vector per class — the same choice as ``image/cgan``.
The losses and the penalty come from :mod:`genlab.nn.adversarial`.

References:
    C. Donahue, J. McAuley and M. Puckette, "Adversarial Audio Synthesis", ICLR 2019.
    I. Gulrajani, F. Ahmed, M. Arjovsky, V. Dumoulin and A. Courville, "Improved Training of Wasserstein
    GANs", NeurIPS 2017.
    M. Mirza and S. Osindero, "Conditional Generative Adversarial Nets", arXiv:1411.1784, 2014.
    T. Miyato and M. Koyama, "cGANs with Projection Discriminator", ICLR 2018.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator, model_validator
from torch import nn

from genlab.core.errors import BadInputError, ConfigError
from genlab.core.export import Bound, ExportGraph
from genlab.core.latent import ConditionalConfig, LatentGenerativeModel
from genlab.core.model import OptimizerSpec
from genlab.core.seeding import make_generator
from genlab.nn.adversarial import (
    ADVERSARIAL_LOSSES,
    LIPSCHITZ_HINT,
    LossName,
    frozen,
    gradient_penalty,
    unconstrained_critic,
)
from genlab.nn.layers import maybe_spectral_norm

TASK = "audio-generation"


class AudioGeneratorConfig(ConditionalConfig):
    """Fields of every audio generator; ``sample_rate``, ``clip_samples``, ``num_classes`` and ``class_names``
    come from the data."""

    sample_rate: int = Field(8000, ge=1000, le=48000, description="sample rate of the audio (Hz); set from the data")
    clip_samples: int = Field(8000, ge=256, le=1 << 18, description="length of a generated clip; set from the data")
    class_names: list[str] = Field(default_factory=list, description="names of the labels; set from the data")
    conditional: bool = Field(False, description="condition on the labels (needs labelled data); pick them to sample")


class AudioGANConfig(AudioGeneratorConfig):
    """Fields of both audio GANs."""

    window_samples: int | None = Field(
        None,
        ge=256,
        le=1 << 18,
        description="samples the networks work on: a power of 2 ≥ clip_samples (None: the smallest one; the paper "
        "16384). Training clips are zero-padded to it, generated audio is cropped to clip_samples",
    )
    latent_dim: int = Field(100, ge=1, le=1024, description="size of z ~ U(-1, 1)^latent_dim (the paper: 100)")
    model_size: int = Field(
        16, ge=1, le=256, description="width d: channels are d, 2d, 4d, … (the paper: 64; 16 trains on a CPU)"
    )
    label_dim: int = Field(16, ge=1, le=512, description="size of the label embedding joined to z (conditional)")
    loss: LossName = Field(
        "wasserstein", description="adversarial loss (the paper: wasserstein, with the gradient penalty)"
    )
    spectral_norm: bool = Field(
        False, description="spectral normalisation on every critic weight (Miyato et al. 2018; the paper: off)"
    )
    n_critic: int = Field(5, ge=1, le=100, description="critic steps per generator step (the paper: 5)")
    gp_weight: float = Field(10.0, ge=0, description="weight λ of the gradient penalty (the paper: 10)")
    lr_g: float = Field(1e-4, gt=0, le=1, description="generator Adam learning rate")
    lr_d: float = Field(1e-4, gt=0, le=1, description="critic Adam learning rate")
    betas: tuple[float, float] = Field((0.5, 0.9), description="Adam betas of both optimizers (the paper: 0.5, 0.9)")

    @field_validator("window_samples")
    @classmethod
    def _power_of_two(cls, value: int | None) -> int | None:
        if value is not None and value & (value - 1):
            raise ValueError(f"window_samples must be a power of 2 (4096, 8192, 16384), got {value}")
        return value

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, betas: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in betas):
            raise ValueError("Adam betas must lie in [0, 1), e.g. [0.5, 0.9]")
        return betas

    @model_validator(mode="after")
    def _critic_is_constrained(self) -> AudioGANConfig:
        if problem := unconstrained_critic(self.loss, self.gp_weight, self.spectral_norm):
            raise ValueError(f"{problem}: {LIPSCHITZ_HINT}, or use loss=hinge")
        return self

    @model_validator(mode="after")
    def _window_holds_the_clip(self) -> AudioGANConfig:
        if self.window_samples is not None and self.window_samples < self.clip_samples:
            raise ValueError(
                f"window_samples ({self.window_samples}) is shorter than a clip ({self.clip_samples} samples); "
                "use a larger power of 2, or None for the smallest that fits"
            )
        return self

    @property
    def window(self) -> int:
        """The networks' length in samples: ``window_samples``, or the smallest power of 2 ≥ ``clip_samples``."""
        if self.window_samples is not None:
            return self.window_samples
        return 1 << max(8, (self.clip_samples - 1).bit_length())


class LatentInput(nn.Module):
    """z (B, latent_dim) [+ labels (B,)] → (B, latent_dim [+ label_dim]): z, joined by the label's embedding."""

    def __init__(self, latent_dim: int, num_classes: int, label_dim: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, label_dim) if num_classes else None
        self.features = latent_dim + (label_dim if num_classes else 0)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.embed is None:
            return z
        return torch.cat([z, self.embed(labels)], dim=1)


class ProjectionHead(nn.Module):
    """Critic features h (B, D) [+ labels (B,)] → scores (B,): ψ(h) [+ ⟨v_y, h⟩] (Miyato & Koyama 2018)."""

    def __init__(self, feature_dim: int, num_classes: int, spectral_norm: bool = False):
        super().__init__()
        self.linear = maybe_spectral_norm(nn.Linear(feature_dim, 1), spectral_norm)
        self.embed = nn.Embedding(num_classes, feature_dim) if num_classes else None
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, 0.0, 0.02)  # small at first: the label term must not swamp ψ(h)

    def forward(self, h: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        scores = self.linear(h).squeeze(1)
        if self.embed is not None:
            scores = scores + (self.embed(labels) * h).sum(1)
        return scores


class AudioGenerator(LatentGenerativeModel):
    """Base of every model of the ``audio-generation`` task: what the task, the ``sample`` pipeline and the
    judged metrics use. ``conditional`` comes from the config (refused without labelled data); subclasses
    implement ``generate(n, labels=None, seed=None, generator=None)`` → clips (n, clip_samples) in [-1, 1] at
    ``config.sample_rate``. A training batch is ``(waves (B, clip_samples) in [-1, 1], labels (B,))``.
    """

    task: ClassVar[str] = TASK
    conditional_hint: ClassVar[str] = "train with --conditional on labelled data to choose the label of a clip"
    config: AudioGeneratorConfig

    def __init__(self, config: AudioGeneratorConfig):
        super().__init__(config)
        who = self.registry_name or type(self).__name__
        if config.conditional and config.num_classes < 2:
            raise ConfigError(
                f"{who} with conditional=true needs labelled data (num_classes ≥ 2), got {config.num_classes}",
                "train on labelled clips (fsdd, builtin:espeak-digits, files named LABEL_SPEAKER_TAKE.wav) "
                "or drop --conditional",
            )
        self.conditional = config.conditional  # per instance: the config decides, not the class

    @property
    def label_classes(self) -> int:
        """Classes the networks condition on: ``num_classes`` when conditional, else 0."""
        return self.config.num_classes if self.conditional else 0

    @property
    def class_names(self) -> list[str]:
        """Names of the labels (from the data), or their indices as text."""
        c = self.config
        return list(c.class_names) if len(c.class_names) == c.num_classes else [str(i) for i in range(c.num_classes)]

    def generate(
        self,
        n: int,
        labels: torch.Tensor | int | list[int] | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``n`` clips (n, clip_samples), float32 in [-1, 1] at ``config.sample_rate``."""
        raise NotImplementedError

    def _unpack(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A training batch → (waves (B, clip_samples) float32, labels (B,) when conditional else None)."""
        waves, labels = batch
        waves = waves.to(self.device, torch.float32)
        return waves, (torch.as_tensor(labels).to(self.device) if self.conditional else None)


class AudioGAN(AudioGenerator):
    """Base of the audio GANs: subclasses build ``self.generator`` and ``self.discriminator`` and say how real
    clips enter the critic (:meth:`to_critic_input`), what one pass of the generator gives (:meth:`synthesize`) and how
    that becomes waves (:meth:`to_waves`).

    Sampling is ``to_waves(synthesize(z, labels))``: :meth:`synthesize`, the generator's deterministic pass, is what
    :meth:`export_graphs` exports and what an ONNX twin replaces; :meth:`to_waves` (SpecGAN's Griffin-Lim) stays.
    Optimizer groups: ``discriminator`` (every batch), then ``generator`` (every ``n_critic`` batches).
    """

    sample_batch_size: ClassVar[int] = 250
    #: the name of what :meth:`synthesize` returns, in the exported graph
    synthesis_output: ClassVar[str] = "waves"
    config: AudioGANConfig

    # --- the prior and generation ---------------------------------------------
    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ U(−1, 1)^latent_dim (the paper's prior), (n, latent_dim) on the model's device."""
        return (torch.rand((n, self.config.latent_dim), generator=generator) * 2 - 1).to(self.device)

    def synthesize(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The generator's one pass from latents z (B, latent_dim) [and labels (B,)] to the model's output, with
        nothing drawn at random (WaveGAN: clips; SpecGAN: log-magnitude spectrograms): the exported graph."""
        raise NotImplementedError

    def to_waves(self, output: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """What :meth:`synthesize` gives → waves (B, ≥ clip_samples); ``generator`` seeds what this step draws."""
        raise NotImplementedError

    def to_critic_input(self, waves: torch.Tensor) -> torch.Tensor:
        """Real waves (B, window) → what the critic reads (the generator's output domain)."""
        raise NotImplementedError

    def decode(
        self, z: torch.Tensor, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Waves (B, clip_samples) in [-1, 1] for latents z (B, latent_dim) [and labels (B,)]."""
        waves = self.to_waves(self.synthesize(z, labels), generator)
        return waves[:, : self.config.clip_samples].clamp(-1, 1)

    def export_graphs(self) -> dict[str, ExportGraph]:
        """``generator``: latents (B, latent_dim) [+ labels (B,) for conditional models] -> :meth:`synthesize`'s
        output (WaveGAN ``waves`` (B, clip_samples); SpecGAN ``log_magnitude`` (B, F, T)), the batch free."""
        g = torch.Generator().manual_seed(0)
        z = self.sample_latent(2, g)
        inputs, names = (z,), ["z"]
        if self.conditional:
            inputs, names = (z, self.check_labels(None, 2)), ["z", "labels"]
        output = self.synthesis_output
        batch = {name: {0: "batch"} for name in [*names, output]}
        graph = ExportGraph(Bound(self, "synthesize"), inputs, names, [output], batch,
                            f"latents [+ class labels] -> {output}", attach="synthesize")  # fmt: skip
        return {"generator": graph}

    @torch.no_grad()
    def generate(
        self,
        n: int,
        labels: torch.Tensor | int | list[int] | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``n`` clips (n, clip_samples), float32 in [-1, 1] at ``config.sample_rate``.

        ``labels``: one label or one per clip, conditional models only (None: the classes in turn);
        ``seed`` (or a ``generator``): the same seed gives the same clips.
        """
        if n < 1:
            raise BadInputError(f"n must be at least 1, got {n}")
        generator = generator if generator is not None else make_generator(seed)
        labels = self.check_labels(labels, n)
        return self.decode(self.sample_latent(n, generator), labels, generator)

    # --- training ---------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        return [
            OptimizerSpec("discriminator", list(self.discriminator.parameters()), lr=c.lr_d, betas=c.betas),
            OptimizerSpec("generator", list(self.generator.parameters()), lr=c.lr_g, betas=c.betas, every=c.n_critic),
        ]

    def padded(self, waves: torch.Tensor) -> torch.Tensor:
        """Clips (B, samples) zero-padded at the end (or cut) to the window (B, window)."""
        window = self.config.window
        if waves.shape[-1] >= window:
            return waves[:, :window]
        return F.pad(waves, (0, window - waves.shape[-1]))

    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """``discriminator``: {loss, d_loss, d_real, d_fake, gp}; ``generator``: {loss, g_loss}."""
        waves, labels = self._unpack(batch)
        if group == "discriminator":
            return self.discriminator_losses(waves, labels)
        if group == "generator":
            return self.generator_losses(waves.shape[0], labels)
        raise BadInputError(f"unknown optimizer group '{group}'", "the groups are 'discriminator' and 'generator'")

    def discriminator_losses(
        self, waves: torch.Tensor, labels: torch.Tensor | None, penalty: bool = True
    ) -> dict[str, torch.Tensor]:
        """The critic's Wasserstein loss (+ λ·gp) on real clips and fresh, detached fakes."""
        real = self.to_critic_input(self.padded(waves))
        with torch.no_grad():  # the generator is not trained here: skip its graph
            fake = self.generator(self.sample_latent(waves.shape[0]), labels)
        real_scores = self.discriminator(real, labels)
        fake_scores = self.discriminator(fake, labels)
        d_loss = ADVERSARIAL_LOSSES[self.config.loss].discriminator(real_scores, fake_scores)
        out = {"loss": d_loss, "d_loss": d_loss, "d_real": real_scores.mean(), "d_fake": fake_scores.mean()}
        if penalty and self.config.gp_weight > 0:
            gp = gradient_penalty(lambda x: self.discriminator(x, labels), real, fake)
            out.update(loss=d_loss + self.config.gp_weight * gp, gp=gp)
        return out

    def generator_losses(self, n: int, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """−E[D(G(z))] on ``n`` fresh fakes, scored by a frozen critic."""
        fake = self.generator(self.sample_latent(n), labels)
        with frozen(self.discriminator):
            scores = self.discriminator(fake, labels)
        g_loss = ADVERSARIAL_LOSSES[self.config.loss].generator(scores)
        return {"loss": g_loss, "g_loss": g_loss}

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        """d_loss (no penalty: it needs autograd), d_real, d_fake and g_loss on a held-out batch."""
        waves, labels = self._unpack(batch)
        d = self.discriminator_losses(waves, labels, penalty=False)
        g = self.generator_losses(waves.shape[0], labels)
        return {"d_loss": d["d_loss"], "d_real": d["d_real"], "d_fake": d["d_fake"], "g_loss": g["g_loss"]}


def strided_stages(length: int, factor: int, base_sizes: tuple[int, ...], who: str) -> tuple[int, int]:
    """(base, stages) with ``length = base · factor^stages`` and ``base`` one of ``base_sizes``; a length that has
    no such form raises a ConfigError."""
    for base in base_sizes:
        stages, size = 0, base
        while size < length:
            size, stages = size * factor, stages + 1
        if size == length and stages >= 1:
            return base, stages
    raise ConfigError(
        f"{who} cannot work on {length} samples",
        f"use a window of base·{factor}^k samples with base in {base_sizes} (e.g. 4096, 8192, 16384)",
    )
