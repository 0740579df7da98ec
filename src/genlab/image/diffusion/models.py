"""Diffusion and flow-matching image generators: ``image/ddpm`` and ``image/flow``.

Both train one :class:`~genlab.nn.unet.UNet` to undo noise and sample with a swappable
sampler (:mod:`genlab.nn.diffusion.samplers`):

* ``image/ddpm`` (Ho et al. 2020): the UNet predicts the noise ε or v = √ᾱ ε - √(1-ᾱ) x_0
  (Salimans & Ho 2022) at a random step of a linear or cosine schedule; the loss is the
  mean squared error, optionally weighted by min-SNR-γ (Hang et al. 2023). Samplers:
  ``ddpm``, ``ddim``, ``dpm++2m``.
* ``image/flow``: rectified flow / conditional flow matching (Liu et al. 2023; Lipman et al.
  2023): on the straight path x_t = (1 - t) ε + t x the UNet regresses the velocity x - ε.
  Samplers: ``euler``, ``heun``.

With ``conditional=true`` the label is replaced by the null label with probability
``cond_drop_prob`` during training, so one network is both conditional and unconditional
and sampling can use classifier-free guidance (Ho & Salimans 2022):
``out = out(∅) + s · (out(y) - out(∅))``; s = 1 is plain conditional sampling, s = 0 unconditional.

Training keeps an exponential moving average of the weights by default
(``default_ema_decay``); the exported model, and so sampling, uses the averaged weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from genlab.core.errors import BadInputError, ConfigError
from genlab.core.export import ExportGraph
from genlab.core.model import OptimizerSpec, register_model
from genlab.image.base import ImageGenerativeModel, ImageModelConfig
from genlab.nn.diffusion.samplers import Family, Sampler, make_sampler, sample_loop
from genlab.nn.diffusion.schedules import BetaSchedule, FlowPath, NoiseSchedule, PredictionType
from genlab.nn.precision import Precision, check_precision, compute_precision
from genlab.nn.unet import UNet, UNetConfig

# --------------------------------------------------------------------------- configs


class DenoisingConfig(ImageModelConfig, UNetConfig):
    """Fields shared by the diffusion and flow models (the UNet's size comes from :class:`UNetConfig`)."""

    conditional: bool = Field(False, description="condition on labels (needs labelled data); enables guidance")
    cond_drop_prob: float = Field(0.1, ge=0, lt=1, description="probability of training a label as the null label")
    lr: float = Field(5e-4, gt=0, le=1, description="Adam learning rate")
    sample_steps: int = Field(25, ge=1, le=10000, description="default number of sampling steps")
    guidance_scale: float = Field(2.0, ge=0, le=50, description="default classifier-free guidance scale (conditional)")
    clip_sample: bool = Field(True, description="clamp the predicted clean image to [-1, 1] at every step")
    # The end of training chooses guidance_scale and sample_steps on the validation split (tuning.py); the sweep
    # runs after max_minutes and is bounded by tune_minutes (0 keeps the defaults above).
    tune_minutes: float = Field(10.0, ge=0, description="after training: minutes of the validation sampling sweep")
    tune_n: int = Field(300, ge=2, description="images per candidate of the sweep (and validation images)")
    tune_min_val: int = Field(200, ge=2, description="fewer validation images than this: keep the defaults")
    sampling_sweep: dict[str, Any] | None = Field(None, description="record of the sweep that set the defaults")


class DDPMConfig(DenoisingConfig):
    """``image/ddpm``: schedule, prediction target, loss weighting and default sampler."""

    num_timesteps: int = Field(1000, ge=2, le=10000, description="length T of the diffusion chain")
    beta_schedule: BetaSchedule = Field("linear", description="β_t schedule: linear (Ho 2020) or cosine (Nichol 2021)")
    prediction_type: PredictionType = Field("epsilon", description="what the UNet predicts: epsilon or v_prediction")
    min_snr_gamma: float | None = Field(None, gt=0, description="min-SNR-γ loss weighting (e.g. 5); None = plain MSE")
    sampler: Literal["ddpm", "ddim", "dpm++2m"] = Field("ddim", description="default sampler")
    eta: float = Field(0.0, ge=0, le=1, description="DDIM stochasticity η (0 = deterministic, 1 ≈ DDPM)")


class FlowConfig(DenoisingConfig):
    """``image/flow``: rectified flow with its default ODE sampler."""

    sampler: Literal["euler", "heun"] = Field("heun", description="default sampler")
    sample_steps: int = Field(16, ge=1, le=10000, description="default number of sampling steps")


# --------------------------------------------------------------------------- shared model


class DenoisingImageModel(ImageGenerativeModel):
    """A UNet denoiser with label dropout, guidance and pluggable samplers; subclasses define the path."""

    config_class: ClassVar[type[DenoisingConfig]] = DenoisingConfig
    config: DenoisingConfig
    family: ClassVar[Family] = "diffusion"
    #: EMA decay the trainer uses when ``train.ema_decay`` is not given (sampling uses the averaged weights)
    default_ema_decay: ClassVar[float] = 0.995
    #: Batch of evaluation sampling: on a CPU a batch of 64 runs 1.6x faster per image than one of 500
    #: (measured, 28×28 UNet, one thread), the activations of large batches costing page faults.
    sample_batch_size: ClassVar[int] = 64

    def __init__(self, config: DenoisingConfig):
        super().__init__(config)
        who = self.registry_name or type(self).__name__
        if config.conditional and config.num_classes < 2:
            raise ConfigError(
                f"{who} with conditional=true needs labelled data (num_classes ≥ 2), got {config.num_classes}",
                "train on labelled data (class sub-folders, builtin:mnist-5k, mnist, …) or set model.conditional=false",
            )
        self.conditional = config.conditional  # per instance: the config decides, not the class
        num_classes = config.num_classes if config.conditional else 0
        self.unet = UNet(config, config.channels, config.channels, num_classes, config.image_size)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """The starting noise has the image's shape (C, H, W)."""
        c = self.config
        return (c.channels, c.image_size, c.image_size)

    # --- training -------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        return [OptimizerSpec("denoiser", list(self.parameters()), lr=self.config.lr)]

    def training_labels(self, labels: torch.Tensor, drop: bool) -> torch.Tensor | None:
        """Labels for the UNet: None when unconditional; with ``drop``, each becomes null with cond_drop_prob."""
        if not self.conditional:
            return None
        if drop and self.config.cond_drop_prob > 0:
            null = torch.rand(labels.shape, device=labels.device) < self.config.cond_drop_prob
            labels = labels.masked_fill(null, self.config.num_classes)
        return labels

    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """{loss, mse}: the (weighted) regression loss at random times; labels dropped only in train mode."""
        if group != "denoiser":
            raise BadInputError(f"unknown optimizer group '{group}'", "diffusion models have one group, 'denoiser'")
        images, labels = batch
        return self.denoising_losses(images, self.training_labels(labels.to(images.device), drop=self.training))

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        """{loss, mse} with every label kept (no dropout)."""
        images, labels = batch
        return self.denoising_losses(images, self.training_labels(labels.to(images.device), drop=False))

    def denoising_losses(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    # --- sampling -------------------------------------------------------------
    @property
    def path(self) -> NoiseSchedule | FlowPath:
        """The forward process samplers and editing work on."""
        raise NotImplementedError

    def guided_output(
        self,
        x: torch.Tensor,
        time: float,
        labels: torch.Tensor | None,
        guidance_scale: float | None,
        precision: Precision = "32",
    ) -> torch.Tensor:
        """The UNet's output at ``time`` (its own time units), with classifier-free guidance when conditional;
        float32 whatever ``precision`` the UNet ran at."""
        t = torch.full((x.shape[0],), float(time), device=x.device)
        with compute_precision(precision, x.device):
            if labels is None or guidance_scale is None or guidance_scale == 1:
                return self.unet(x, t, labels).float()
            null = torch.full_like(labels, self.config.num_classes)
            if guidance_scale == 0:
                return self.unet(x, t, null).float()
            both = self.unet(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, null])).float()  # one pass
        cond, uncond = both.chunk(2)
        return uncond + guidance_scale * (cond - uncond)

    def predictor(
        self, labels: torch.Tensor | None, guidance_scale: float | None, precision: Precision = "32"
    ) -> Callable:
        """The ``predict(x, t)`` function the samplers of this family call."""
        raise NotImplementedError

    def prepare_sampling(
        self,
        labels: torch.Tensor | None,
        sampler: str | None = None,
        steps: int | None = None,
        guidance_scale: float | None = None,
        eta: float | None = None,
        precision: Precision | None = None,
    ) -> tuple[Sampler, Callable]:
        """Resolve sampling options against the config defaults; returns (sampler, predict). ``precision``
        ``"bf16"`` runs the UNet in bfloat16 (the sampler's arithmetic stays float32)."""
        c = self.config
        if guidance_scale is not None and not self.conditional:
            raise BadInputError(
                f"guidance needs a conditional model; this {self.registry_name} is unconditional",
                "drop --guidance, or train with --set model.conditional=true",
            )
        if guidance_scale is not None and guidance_scale < 0:
            raise BadInputError(f"--guidance must be ≥ 0, got {guidance_scale}", "1 = no guidance; 2–4 is typical")
        guidance = (c.guidance_scale if guidance_scale is None else guidance_scale) if self.conditional else None
        default_eta = getattr(c, "eta", 0.0)
        chosen = make_sampler(
            sampler or c.sampler,
            self.family,
            self.path,
            c.sample_steps if steps is None else steps,
            default_eta if eta is None else eta,
        )
        return chosen, self.predictor(labels, guidance, check_precision(precision, self.device))

    @torch.no_grad()
    def sample(
        self,
        noise: torch.Tensor,
        labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        **options: Any,
    ) -> torch.Tensor:
        """Run a sampler from ``noise`` (B, C, H, W); ``options``: sampler, steps, guidance_scale, eta, precision."""
        sampler, predict = self.prepare_sampling(labels, **options)
        images = sample_loop(sampler, predict, noise.to(self.device), generator)
        # with clip_sample every step already works with a clamped clean image; this only removes rounding
        return images.clamp(-1, 1) if self.config.clip_sample else images

    def export_graphs(self) -> dict[str, ExportGraph]:
        """``denoiser``: the UNet as sampling calls it — noisy images (B, C, H, W), time (B,) in the model's own
        units (DDPM: the step index; flow: ``FLOW_TIME_SCALE`` · t) [+ labels (B,), ``num_classes`` = no label]
        -> the prediction (noise, x0 or v for DDPM per ``prediction_type``; velocity for flow). The sampler loop
        stays outside: any sampler can drive the exported denoiser."""
        g = torch.Generator().manual_seed(0)
        x = self.sample_latent(2, g)
        inputs, names = [x, torch.tensor([10.0, 500.0])], ["x", "t"]
        if self.conditional:
            inputs.append(torch.tensor([0, self.config.num_classes]))
            names.append("labels")
        batch = {name: {0: "batch"} for name in [*names, "prediction"]}
        graph = ExportGraph(self.unet, tuple(inputs), names, ["prediction"], batch,
                            "UNet denoiser: noisy images, time [+ labels] -> prediction", attach="unet")  # fmt: skip
        return {"denoiser": graph}

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images (B, C, H, W) sampled from starting noise ``z`` with the default sampler."""
        return self.sample(z, labels)

    @torch.no_grad()
    def generate(
        self,
        n: int,
        labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        *,
        sampler: str | None = None,
        steps: int | None = None,
        guidance_scale: float | None = None,
        eta: float | None = None,
        precision: Precision | None = None,
    ) -> torch.Tensor:
        """Sample ``n`` images (n, C, H, W) in [-1, 1]; sampling options default to the config's."""
        labels = self.check_labels(labels, n)
        noise = self.sample_latent(n, generator)
        options = {"sampler": sampler, "steps": steps, "guidance_scale": guidance_scale, "eta": eta}
        options["precision"] = precision
        return self.sample(noise, labels, generator, **options).clamp(-1, 1)


def per_image_mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each image, (B,)."""
    return F.mse_loss(output, target, reduction="none").flatten(1).mean(1)


# --------------------------------------------------------------------------- DDPM


@register_model("image/ddpm")
class DDPM(DenoisingImageModel):
    """``image/ddpm``: denoising diffusion (ε or v prediction) with DDPM, DDIM and DPM-Solver++ sampling."""

    config_class: ClassVar[type[DDPMConfig]] = DDPMConfig
    description: ClassVar[str] = "denoising diffusion with DDPM/DDIM/DPM-Solver++ sampling (Ho et al. 2020)"
    config: DDPMConfig

    def __init__(self, config: DDPMConfig):
        super().__init__(config)
        self.schedule = NoiseSchedule(config.num_timesteps, config.beta_schedule)

    @property
    def path(self) -> NoiseSchedule:
        return self.schedule

    def denoising_losses(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        c = self.config
        t = torch.randint(0, c.num_timesteps, (images.shape[0],), device=images.device)
        noise = torch.randn_like(images)
        x_t = self.schedule.q_sample(images, t, noise)
        mse = per_image_mse(
            self.unet(x_t, t.float(), labels), self.schedule.target(images, noise, t, c.prediction_type)
        )
        if c.min_snr_gamma is None:
            return {"loss": mse.mean(), "mse": mse.mean()}
        weight = self.schedule.min_snr_weight(t.cpu(), c.min_snr_gamma, c.prediction_type).to(mse.device)
        return {"loss": (weight * mse).mean(), "mse": mse.mean()}

    def predictor(
        self, labels: torch.Tensor | None, guidance_scale: float | None, precision: Precision = "32"
    ) -> Callable:
        c = self.config

        def predict(x: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
            out = self.guided_output(x, t, labels, guidance_scale, precision)
            return self.schedule.split_prediction(out, x, t, c.prediction_type, c.clip_sample)

        return predict


# --------------------------------------------------------------------------- rectified flow

#: the UNet's sinusoidal time embedding sees flow time t ∈ [0, 1] scaled to the DDPM range
FLOW_TIME_SCALE = 1000.0


@register_model("image/flow")
class RectifiedFlow(DenoisingImageModel):
    """``image/flow``: rectified flow / flow matching on the straight noise-to-data path, Euler or Heun sampling."""

    config_class: ClassVar[type[FlowConfig]] = FlowConfig
    description: ClassVar[str] = "rectified flow / flow matching with Euler or Heun sampling (Liu et al. 2023)"
    family: ClassVar[Family] = "flow"
    config: FlowConfig

    def __init__(self, config: FlowConfig):
        super().__init__(config)
        self.flow_path = FlowPath()

    @property
    def path(self) -> FlowPath:
        return self.flow_path

    def denoising_losses(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        t = torch.rand(images.shape[0], device=images.device)
        noise = torch.randn_like(images)
        x_t = self.flow_path.q_sample(images, t, noise)
        mse = per_image_mse(self.unet(x_t, t * FLOW_TIME_SCALE, labels), FlowPath.target(images, noise))
        return {"loss": mse.mean(), "mse": mse.mean()}

    def predictor(
        self, labels: torch.Tensor | None, guidance_scale: float | None, precision: Precision = "32"
    ) -> Callable:
        clip = self.config.clip_sample

        def predict(x: torch.Tensor, t: float) -> torch.Tensor:
            v = self.guided_output(x, t * FLOW_TIME_SCALE, labels, guidance_scale, precision)
            if not clip:
                return v
            x1 = (x + (1 - t) * v).clamp(-1, 1)  # the implied clean image, clamped like DDPM's x̂_0
            return (x1 - x) / (1 - t)

        return predict
