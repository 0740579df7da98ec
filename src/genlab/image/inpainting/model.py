"""``image/unet-inpaint``: a U-Net of gated convolutions that fills the missing pixels of a photo.

The network sees the masked image (missing pixels set to 0) and the mask (1 = missing) as C + 1
channels and predicts all C channels; the returned image keeps the known pixels exactly and takes
the prediction only inside the hole: ``out = x·(1 − m) + pred·m``.

Every convolution but the last is *gated* (Yu et al. 2019): one convolution gives features, a second
one a soft gate per pixel and channel, ``out = ELU(conv_f(x)) · σ(conv_g(x))``, so the network learns
where its input is valid instead of treating the zeros of the hole as image content (the problem
partial convolutions, Liu et al. 2018, address with a fixed rule). Layout:

* level 0 (full resolution): gated 5×5 conv → ``width``, gated 3×3 conv;
* ``levels`` times: a gated stride-2 3×3 conv (halving the size) and a gated 3×3 conv; the channels
  double per level up to 4·``width``;
* a middle of two gated 3×3 convs dilated 2 and 4 at the coarsest level (the dilated middle of
  Yu et al., widening the context the hole is filled from);
* the decoder, coarsest level first: nearest 2× upsampling, concatenation with the encoder's output
  of that level (the U-Net skip, Ronneberger et al. 2015), a gated 3×3 conv;
* a plain 3×3 conv → C channels and a sigmoid, so predictions lie in [0, 1].

There is no normalisation layer, so every output pixel depends on a bounded window of the input
(:func:`inpaint_receptive_radius`) and tiled inference is exact. Inputs of any size are reflect-padded
on the bottom and right to a multiple of 2^levels and cropped back, keeping the stride-2 grid anchored
at the top-left, as in :mod:`~genlab.image.restoration.dae`.

Training loss (Liu et al. 2018): the pixel loss of the raw prediction on the known pixels plus
``hole_weight`` (their 6) times that on the missing pixels, both averaged over all pixels. With
``adversarial_weight`` > 0 an SN-PatchGAN discriminator (Yu et al. 2019: spectral normalisation
(Miyato et al. 2018), a map of scores over overlapping patches as in pix2pix's PatchGAN, Isola et al.
2017) sees the completed image with its mask and is trained with the hinge loss; the generator adds
``adversarial_weight`` × its hinge loss (−D).

References:
    J. Yu, Z. Lin, J. Yang, X. Shen, X. Lu and T. Huang, "Free-Form Image Inpainting with Gated
    Convolution", ICCV 2019.
    G. Liu, F. A. Reda, K. J. Shih, T.-C. Wang, A. Tao and B. Catanzaro, "Image Inpainting for Irregular
    Holes Using Partial Convolutions", ECCV 2018.
    O. Ronneberger, P. Fischer and T. Brox, "U-Net: Convolutional Networks for Biomedical Image
    Segmentation", MICCAI 2015.
    P. Isola, J.-Y. Zhu, T. Zhou and A. A. Efros, "Image-to-Image Translation with Conditional Adversarial
    Networks", CVPR 2017.
    T. Miyato, T. Kataoka, M. Koyama and Y. Yoshida, "Spectral Normalization for Generative Adversarial
    Networks", ICLR 2018.

Reading order: config → receptive radius → networks → model.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.core.errors import BadInputError
from genlab.core.model import OptimizerSpec, register_model
from genlab.image.restoration.base import RestorationConfig, RestorationModel
from genlab.image.restoration.tiling import tiled
from genlab.nn.adversarial import d_hinge, frozen, g_linear
from genlab.nn.layers import maybe_spectral_norm

TASK = "inpainting"
#: dilations of the gated convs in the middle, at the coarsest level (Yu et al. use 2, 4, 8, 16 at 1/4 size)
MIDDLE_DILATIONS = (2, 4)
#: the widest level has this many times ``width`` channels
MAX_WIDTH_MULT = 4

# --------------------------------------------------------------------------- config


class InpaintConfig(RestorationConfig):
    """The gated U-Net's size, its hole-weighted pixel loss and the optional adversarial term."""

    color: Literal["rgb", "gray"] = Field(
        "rgb", description="what the channels hold (rgb or gray; a luma-only model could not fill colour holes)"
    )
    width: int = Field(32, ge=1, le=256, description="channels at full resolution, doubled per level up to 4×")
    levels: int = Field(
        3, ge=1, le=5, description="stride-2 downsamplings (inputs are padded to multiples of 2^levels)"
    )
    loss: Literal["l1", "mse"] = Field(
        "l1", description="pixel loss between the prediction and the clean image (l1: Liu et al. 2018)"
    )
    hole_weight: float = Field(
        6.0, ge=0, description="weight of the pixel loss inside the hole; the known pixels weigh 1 (Liu et al.: 6)"
    )
    adversarial_weight: float = Field(
        0.0,
        ge=0,
        description="weight of the generator's hinge loss against an SN-PatchGAN discriminator (0 = no "
        "discriminator, pixel loss only)",
    )
    d_width: int = Field(
        32, ge=1, le=512, description="discriminator channels after its first conv (×4 at the end); adversarial only"
    )


# --------------------------------------------------------------------------- receptive radius


def inpaint_receptive_radius(levels: int) -> int:
    """Input pixels each output pixel of a ``levels``-level gated U-Net depends on, per side (exact).

    Traces an output pixel's dependence back as an interval [lo, hi] on each layer's own grid, as
    :func:`~genlab.image.restoration.dae.dae_receptive_radius` does: a k×k conv with dilation d widens it
    by d·(k − 1)/2; a nearest 2× upsampling maps fine positions to coarse ones (⌊i/2⌋); a stride-2 3×3
    conv (padding 1) maps coarse j to fine 2j − 1 … 2j + 1. A decoder conv reads the concatenation of the
    upsampled coarser decoder and the encoder's skip, so its interval is the hull of both paths. The
    deepest path dominates; the result depends on the pixel's phase modulo 2^levels and this is the
    largest over phases: 11·2^levels − 1 (21, 43, 87, 175 at 1–4 levels).
    """

    def encoder(level: int, lo: int, hi: int) -> tuple[int, int]:
        lo, hi = lo - 1, hi + 1  # the level's 3×3 gated conv
        if level == 0:
            return lo - 2, hi + 2  # the 5×5 input conv
        return encoder(level - 1, 2 * lo - 1, 2 * hi + 1)  # the stride-2 conv from the finer level

    def decoder(level: int, lo: int, hi: int) -> tuple[int, int]:
        if level == levels:  # the dilated middle
            widen = sum(MIDDLE_DILATIONS)
            return encoder(levels, lo - widen, hi + widen)
        lo, hi = lo - 1, hi + 1  # the decoder conv over [upsampled coarser level, skip]
        skip = encoder(level, lo, hi)
        coarse = decoder(level + 1, lo // 2, hi // 2)
        return min(skip[0], coarse[0]), max(skip[1], coarse[1])

    radius = 0
    for p in range(2**levels):
        lo, hi = decoder(0, p - 1, p + 1)  # the output conv first
        radius = max(radius, p - lo, hi - p)
    return radius


# --------------------------------------------------------------------------- networks


class GatedConv2d(nn.Module):
    """ELU(conv_f(x)) · σ(conv_g(x)) (Yu et al. 2019); both convs are one with twice the output channels."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1, dilation: int = 1):
        super().__init__()
        padding = dilation * (kernel // 2)
        self.conv = nn.Conv2d(in_channels, 2 * out_channels, kernel, stride, padding, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gate = self.conv(x).chunk(2, dim=1)  # (B, 2·out, H, W) -> 2 × (B, out, H, W)
        return F.elu(features) * torch.sigmoid(gate)


def level_widths(width: int, levels: int) -> list[int]:
    """Channels of each level, full resolution first: ``width`` doubled per level, at most 4·``width``."""
    return [width * min(2**i, MAX_WIDTH_MULT) for i in range(levels + 1)]


class GatedUNet(nn.Module):
    """(masked image + mask (B, C + 1, H, W), H and W multiples of 2^levels) → prediction (B, C, H, W) in [0, 1]."""

    def __init__(self, channels: int, width: int, levels: int):
        super().__init__()
        widths = level_widths(width, levels)
        self.encoders = nn.ModuleList(
            [nn.Sequential(GatedConv2d(channels + 1, widths[0], 5), GatedConv2d(widths[0], widths[0]))]
        )
        for i in range(1, levels + 1):
            down = GatedConv2d(widths[i - 1], widths[i], stride=2)
            self.encoders.append(nn.Sequential(down, GatedConv2d(widths[i], widths[i])))
        self.middle = nn.Sequential(*(GatedConv2d(widths[-1], widths[-1], dilation=d) for d in MIDDLE_DILATIONS))
        # decoders[i] makes level i from the upsampled level i + 1 and the skip of level i
        self.decoders = nn.ModuleList(GatedConv2d(widths[i + 1] + widths[i], widths[i]) for i in range(levels))
        self.head = nn.Conv2d(widths[0], channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for encoder in self.encoders:
            h = encoder(h)
            skips.append(h)
        h = self.middle(h)
        for i in reversed(range(len(self.decoders))):
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = self.decoders[i](torch.cat([h, skips[i]], dim=1))
        return torch.sigmoid(self.head(h))


class PatchDiscriminator(nn.Module):
    """SN-PatchGAN: (image + mask (B, C + 1, H, W)) → a map of scores (B, 1, H/8, W/8), one per overlapping patch.

    Three spectrally normalised 4×4 stride-2 convs (``width``, 2·``width``, 4·``width``) and a 3×3 conv
    at 4·``width``, each followed by LeakyReLU(0.2), then a 3×3 conv to one score per position; no
    normalisation layers (spectral normalisation bounds the Lipschitz constant, Miyato et al. 2018).
    pix2pix's PatchGAN ends with 4×4 stride-1 convs; the 3×3 ones keep 12-pixel patches scorable.
    """

    def __init__(self, channels: int, width: int):
        super().__init__()
        widths = [width, 2 * width, 4 * width]
        layers: list[nn.Module] = []
        for a, b in zip([channels + 1, *widths[:-1]], widths, strict=True):
            layers += [maybe_spectral_norm(nn.Conv2d(a, b, 4, 2, 1), True), nn.LeakyReLU(0.2)]
        layers += [maybe_spectral_norm(nn.Conv2d(widths[-1], widths[-1], 3, 1, 1), True), nn.LeakyReLU(0.2)]
        layers.append(maybe_spectral_norm(nn.Conv2d(widths[-1], 1, 3, 1, 1), True))
        self.net = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Scores (B, N) of every patch, high for real images."""
        return self.net(torch.cat([images, mask], dim=1)).flatten(1)


# --------------------------------------------------------------------------- model


@register_model("image/unet-inpaint")
class UNetInpaint(RestorationModel):
    """A gated-convolution U-Net (Yu et al. 2019) trained with a hole-weighted L1 (Liu et al. 2018), optionally
    against an SN-PatchGAN discriminator.

    ``forward(image, mask)`` and :meth:`restore` take the image (B, C, H, W) in [0, 1] and the mask
    (B or 1, 1, H, W), 1 = missing; the pixels under the mask are ignored (set to 0 before the network).
    Optimizer groups: ``model`` alone (Adam at ``lr``, β = (0.9, 0.999)), or, when ``adversarial_weight`` > 0,
    ``discriminator`` then ``model`` (the generator), both Adam at ``lr`` with β = (0.5, 0.999) as in Yu et
    al.'s training.
    """

    config_class = InpaintConfig
    task: ClassVar[str] = TASK
    description: ClassVar[str] = "gated-convolution U-Net inpainting (Yu et al. 2019), hole-weighted L1, optional GAN"
    config: InpaintConfig
    #: Adam betas of both networks when adversarial (Yu et al. 2019 train DeepFill v2 with β1 = 0.5)
    adversarial_betas: ClassVar[tuple[float, float]] = (0.5, 0.999)

    def __init__(self, config: InpaintConfig):
        super().__init__(config)
        self.net = GatedUNet(config.channels, config.width, config.levels)
        self.discriminator = PatchDiscriminator(config.channels, config.d_width) if self.adversarial else None

    @property
    def adversarial(self) -> bool:
        return self.config.adversarial_weight > 0

    @property
    def size_multiple(self) -> int:  # type: ignore[override]  # depends on the config's levels
        """2^levels: the sizes the stride-2 convs halve exactly."""
        return 2**self.config.levels

    @property
    def receptive_radius(self) -> int:
        """:func:`inpaint_receptive_radius`, rounded up to a multiple of :attr:`size_multiple` (44 at 2 levels,
        88 at 3)."""
        m = self.size_multiple
        return -(-inpaint_receptive_radius(self.config.levels) // m) * m

    # --- the network ------------------------------------------------------------
    def predict(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The network's raw prediction (B, C, H, W) in [0, 1] for every pixel, known ones included."""
        h, w = image.shape[-2:]
        mask = mask.expand(image.shape[0], 1, h, w)
        x = torch.cat([image * (1 - mask), mask], dim=1)
        m = self.size_multiple
        pad_h, pad_w = -h % m, -w % m
        if pad_h or pad_w:  # reflect needs the pad smaller than the side; tiny images are replicated
            mode = "reflect" if pad_h < h and pad_w < w else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        return self.net(x)[..., :h, :w]

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The completed images (B, C, H, W): the known pixels of ``image`` exactly, the prediction in the hole."""
        return self.complete(image, mask, self.predict(image, mask))

    @staticmethod
    def complete(image: torch.Tensor, mask: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        """``image·(1 − mask) + prediction·mask``."""
        return image * (1 - mask) + prediction * mask

    # --- training -----------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        if not self.adversarial:
            return super().optimizer_groups()
        betas = self.adversarial_betas
        return [
            OptimizerSpec("discriminator", list(self.discriminator.parameters()), c.lr, betas, schedule=c.schedule),
            OptimizerSpec("model", list(self.net.parameters()), c.lr, betas, schedule=c.schedule),
        ]

    def hole_loss(
        self, prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(known-pixel loss, hole loss) of the raw prediction, each summed over its pixels and divided by
        the number of all pixels (Liu et al. 2018's L_valid and L_hole)."""
        error = (prediction - target).abs() if self.config.loss == "l1" else (prediction - target).pow(2)
        n = error.numel()
        mask = mask.expand_as(error)
        return (error * (1 - mask)).sum() / n, (error * mask).sum() / n

    def training_losses(self, batch: Any, group: str = "model") -> dict[str, torch.Tensor]:
        """``batch`` = ((masked images, masks), clean images).

        ``model``: {loss, valid, hole, psnr} (+ adversarial when on); ``discriminator``: {loss, d_real, d_fake}.
        """
        (image, mask), target = batch
        if group == "discriminator" and self.adversarial:
            return self.discriminator_losses(image, mask, target)
        if group != "model":
            groups = "'discriminator' and 'model'" if self.adversarial else "'model'"
            raise BadInputError(f"unknown optimizer group '{group}'", f"this model's groups are {groups}")
        prediction = self.predict(image, mask)
        valid, hole = self.hole_loss(prediction, target, mask)
        output = self.complete(image, mask, prediction)
        mse = F.mse_loss(output.detach().clamp(0, 1), target)
        losses = {
            "loss": valid + self.config.hole_weight * hole,
            "valid": valid,
            "hole": hole,
            "psnr": 10 * torch.log10(1 / mse.clamp_min(1e-10)),
        }
        if self.adversarial:
            with frozen(self.discriminator):
                adversarial = g_linear(self.discriminator(output, mask))
            losses["adversarial"] = adversarial
            losses["loss"] = losses["loss"] + self.config.adversarial_weight * adversarial
        return losses

    def discriminator_losses(self, image: torch.Tensor, mask: torch.Tensor, target: torch.Tensor):
        """The hinge loss of D on the clean images (real) and the detached completions (fake), with their masks."""
        with torch.no_grad():  # the generator is not trained here: skip its graph
            output = self(image, mask)
        real, fake = self.discriminator(torch.cat([target, output]), torch.cat([mask, mask])).chunk(2)
        return {"loss": d_hinge(real, fake), "d_real": real.mean(), "d_fake": fake.mean()}

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        """The generator's pixel losses and PSNR: {loss, valid, hole, psnr}, without the adversarial term."""
        with torch.no_grad():
            losses = self.training_losses(batch, "model")
        if "adversarial" in losses:
            del losses["adversarial"]
            losses["loss"] = losses["valid"] + self.config.hole_weight * losses["hole"]
        return losses

    # --- inference ------------------------------------------------------------------
    def check_input(self, image: torch.Tensor, mask: torch.Tensor | None = None) -> None:  # type: ignore[override]
        """Clear errors for images with the wrong channels and masks of the wrong shape."""
        super().check_input(image)
        b, _, h, w = image.shape
        if mask is None or mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] not in (1, b):
            got = None if mask is None else tuple(mask.shape)
            raise BadInputError(
                f"{self.registry_name} needs a mask (B, 1, H, W) beside the images {tuple(image.shape)}, got {got}",
                "pass a mask tensor with 1 where pixels are missing and 0 where they are known",
            )
        if tuple(mask.shape[-2:]) != (h, w):
            raise BadInputError(
                f"mask is {mask.shape[-1]}×{mask.shape[-2]} but the image is {w}×{h}",
                f"resize the mask to {w}×{h}",
            )

    @torch.no_grad()
    def restore(self, image: torch.Tensor, mask: torch.Tensor, tile: int | None = 256) -> torch.Tensor:  # type: ignore[override]
        """Fill the holes of images (B, C, H, W) in [0, 1] where ``mask`` (B or 1, 1, H, W) is 1.

        ``tile`` (pixels per tile; None = whole image): image and mask are cut into tiles together,
        overlapping by the receptive radius, so the result equals the untiled one. The radius of an
        encoder–decoder is large (88 pixels at 3 levels), so a tile does 1 + 2·88/``tile`` times the
        work per side: prefer tiles of 512 or more.
        """
        self.check_input(image, mask)
        c = self.config.channels
        both = torch.cat([image, mask.to(image.dtype).expand(image.shape[0], 1, *image.shape[-2:])], dim=1)
        was_training = self.training
        self.eval()
        device = next(self.parameters(), torch.empty(0)).device
        try:
            run = lambda t: self(t[:, :c].to(device), t[:, c:].to(device)).cpu()  # noqa: E731
            if tile is None:
                out = run(both)
            else:
                m = self.size_multiple
                tile, overlap = -(-tile // m) * m, self.receptive_radius  # the radius is a multiple of m already
                out = tiled(run, both, tile, overlap, out_channels=c)
        finally:
            self.train(was_training)
        return out.clamp(0, 1)
