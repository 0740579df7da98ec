"""SRResNet and SRGAN: a deep residual super-resolution network, trained alone or adversarially.

The network (Ledig et al. 2017, figure 4): conv 9×9 → width, PReLU; ``num_blocks`` residual blocks
[conv 3×3 → BatchNorm → PReLU → conv 3×3 → BatchNorm, + skip]; conv 3×3 → BatchNorm, + the long skip
from the first PReLU; upsampling at the end by sub-pixel convolution (Shi et al. 2016): for ×2 and ×4
one or two stages [conv 3×3 → 4·width, pixel shuffle 2, PReLU], for ×3 one stage [conv 3×3 → 9·width,
pixel shuffle 3, PReLU]; conv 9×9 → C. All but the last layers run at the input resolution.

* ``image/srresnet``: the network trained with the MSE, Adam at 1e-4 (the paper's SRResNet-MSE).
* ``image/srgan``: the same network as the generator of a GAN, against the paper's VGG-style
  discriminator (eight 3×3 convs with LeakyReLU 0.2, widths ×1 ×1 ×2 ×2 ×4 ×4 ×8 ×8 of ``d_width``,
  strides 1 2 1 2 1 2 1 2, so the map halves four times; BatchNorm after all but the first; average
  pooling; dense 16·d_width (1024 at d_width 64) → LeakyReLU → dense 1). The generator minimises
  pixel MSE + ``feature_weight`` × feature matching + ``adversarial_weight`` × the non-saturating loss.

The paper's perceptual (content) loss compares VGG-19 feature maps of the output and the target. No
pretrained VGG can be downloaded here, so the offline stand-in is feature matching on the
discriminator: the mean squared difference between its intermediate feature maps for the target and
for the output, layer by layer (as the discriminator feature loss of pix2pixHD, Wang et al. 2018). The
pairs are aligned (the output super-resolves the target's own low-resolution image), so the loss
compares the two images position by position, as the VGG loss does, in features the discriminator
learns to tell apart. Like the paper, which rescaled its VGG maps by 1/12.75 to bring the VGG loss to
the MSE's scale, the default ``feature_weight`` (1e-2) brings it near the pixel MSE: on bicubic ×2 and
×4 upscalings of scikit-image photo patches (96 pixels), an initial discriminator (BatchNorm maps of
unit scale) gives a feature loss 60–80 times their pixel MSE (0.05 vs 0.0007 at ×2, 0.10 vs 0.0018 at ×4).
As the discriminator learns, its features separate real from fake more and the term grows.

References:
    C. Ledig, L. Theis, F. Huszár, J. Caballero, A. Cunningham, A. Acosta, A. Aitken, A. Tejani,
    J. Totz, Z. Wang and W. Shi, "Photo-Realistic Single Image Super-Resolution Using a Generative
    Adversarial Network", CVPR 2017.
    W. Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel
    Convolutional Neural Network", CVPR 2016.
    T.-C. Wang, M.-Y. Liu, J.-Y. Zhu, A. Tao, J. Kautz and B. Catanzaro, "High-Resolution Image Synthesis
    and Semantic Manipulation with Conditional GANs", CVPR 2018.

Reading order: configs → receptive radius → networks → models.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.core.errors import BadInputError
from genlab.core.model import OptimizerSpec, register_model
from genlab.image.restoration.base import RestorationModel
from genlab.image.restoration.sr import TASK, SRConfig
from genlab.nn.adversarial import d_non_saturating, frozen, g_non_saturating

# --------------------------------------------------------------------------- configs


class SRResNetConfig(SRConfig):
    """SRResNet's width and depth, and the paper's MSE loss and learning rate."""

    width: int = Field(64, ge=1, le=512, description="feature channels of the network (the paper's: 64)")
    num_blocks: int = Field(16, ge=0, le=64, description="residual blocks (the paper's: 16)")
    loss: Literal["l1", "mse"] = Field(
        "mse", description="pixel loss between the restored and the clean image (the paper's: mse)"
    )
    lr: float = Field(1e-4, gt=0, le=1, description="Adam learning rate (the paper's: 1e-4)")


class SRGANConfig(SRResNetConfig):
    """The generator's config plus the discriminator's width and the weights of the generator's losses."""

    d_width: int = Field(
        64, ge=1, le=512, description="discriminator channels after its first conv (×8 at the end; the paper's: 64)"
    )
    feature_weight: float = Field(
        1e-2,
        ge=0,
        description="weight of the discriminator feature-matching loss (the offline stand-in for the VGG loss); "
        "1e-2 puts it near the pixel MSE on bicubic-quality outputs",
    )
    adversarial_weight: float = Field(
        1e-3, ge=0, description="weight of the generator's non-saturating adversarial loss (the paper's: 1e-3)"
    )
    lr: float = Field(1e-4, gt=0, le=1, description="Adam learning rate of both networks (the paper's: 1e-4)")


# --------------------------------------------------------------------------- receptive radius


def srresnet_receptive_radius(num_blocks: int) -> int:
    """Input pixels each output pixel of SRResNet depends on, per side: ``2·num_blocks + 8`` (40 for 16 blocks).

    At the input resolution: the 9×9 head conv reaches 4 pixels, each residual block's two 3×3 convs
    2, the conv after the blocks 1 and the first upsampling conv 1: 2·num_blocks + 6. The rest runs at
    higher resolutions; traced back from output row y = s·k + a (phase a = 0 … s − 1) of input row k:

    * ×2: the 9×9 tail conv reads rows y − 4 … y + 4 at 2×, from input rows ⌊(y − 4)/2⌋ … ⌊(y + 4)/2⌋
      = k − 2 … k + 2;
    * ×3: the same at 3×: ⌊(y − 4)/3⌋ … ⌊(y + 4)/3⌋ = k − 2 (a = 0) … k + 2 (a = 2);
    * ×4: the tail conv reads 2× rows ⌊(y − 4)/2⌋ … ⌊(y + 4)/2⌋ = 2k − 2 … 2k + 3, the second upsampling
      conv (3×3 at 2×) 2k − 3 … 2k + 4, from input rows ⌊(2k − 3)/2⌋ … ⌊(2k + 4)/2⌋ = k − 2 … k + 2.

    So 2 more input pixels at every scale. BatchNorm (in eval mode) and PReLU act per pixel.
    """
    return 2 * num_blocks + 8


# --------------------------------------------------------------------------- networks


class ResidualBlock(nn.Module):
    """x + BN(conv(PReLU(BN(conv(x))))): the residual block of SRResNet (3×3 convs, stride 1)."""

    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.PReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.BatchNorm2d(width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def upsampling(width: int, scale: int) -> nn.Sequential:
    """Sub-pixel upsampling by ``scale``: ×2 and ×4 in stages of 2, ×3 in one stage; width channels in and out."""
    factors = {2: [2], 3: [3], 4: [2, 2]}[scale]
    layers: list[nn.Module] = []
    for r in factors:  # (B, width, h, w) -> (B, width·r², h, w) -> (B, width, h·r, w·r)
        layers += [nn.Conv2d(width, width * r * r, 3, padding=1), nn.PixelShuffle(r), nn.PReLU()]
    return nn.Sequential(*layers)


class SRResNetNetwork(nn.Module):
    """Low-resolution images (B, C, h, w) -> (B, C, h·scale, w·scale); the generator of SRGAN."""

    def __init__(self, channels: int, width: int, num_blocks: int, scale: int):
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, padding=4), nn.PReLU())
        self.blocks = nn.Sequential(*(ResidualBlock(width) for _ in range(num_blocks)))
        self.body_end = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width))
        self.upsample = upsampling(width, scale)
        self.tail = nn.Conv2d(width, channels, 9, padding=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        h = h + self.body_end(self.blocks(h))  # the long skip over every residual block
        return self.tail(self.upsample(h))


class SRGANDiscriminator(nn.Module):
    """Images (B, C, H, W) -> scores (B,), high for real images; any H, W (average pooling before the head).

    conv 3×3 → width, LeakyReLU(0.2); seven [conv 3×3 → BatchNorm → LeakyReLU(0.2)] with widths
    width·(1, 2, 2, 4, 4, 8, 8) and strides (2, 1, 2, 1, 2, 1, 2); global average pool; dense
    16·width → LeakyReLU(0.2) → dense 1. The paper flattens a 96-pixel patch's 6 × 6 map instead of
    pooling, which ties the head to one patch size; it ends with a sigmoid, here in the loss.
    """

    def __init__(self, channels: int, width: int):
        super().__init__()
        widths = [width * m for m in (1, 2, 2, 4, 4, 8, 8)]
        strides = (2, 1, 2, 1, 2, 1, 2)
        stages: list[nn.Module] = [nn.Sequential(nn.Conv2d(channels, width, 3, padding=1), nn.LeakyReLU(0.2))]
        for a, b, stride in zip([width, *widths[:-1]], widths, strides, strict=True):
            stages.append(nn.Sequential(nn.Conv2d(a, b, 3, stride, padding=1), nn.BatchNorm2d(b), nn.LeakyReLU(0.2)))
        self.stages = nn.ModuleList(stages)
        self.head = nn.Sequential(nn.Linear(widths[-1], 16 * width), nn.LeakyReLU(0.2), nn.Linear(16 * width, 1))

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The output of each of the eight conv stages (after its LeakyReLU)."""
        out, h = [], images
        for stage in self.stages:
            h = stage(h)
            out.append(h)
        return out

    def score(self, features: list[torch.Tensor]) -> torch.Tensor:
        """Scores (B,) from the last stage's map (B, 8·width, H/16, W/16), average-pooled."""
        return self.head(features[-1].mean((2, 3))).squeeze(1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.score(self.features(images))


# --------------------------------------------------------------------------- models


@register_model("image/srresnet")
class SRResNet(RestorationModel):
    """SRResNet (Ledig et al. 2017): ``num_blocks`` residual blocks and sub-pixel upsampling, trained with the MSE."""

    config_class = SRResNetConfig
    task: ClassVar[str] = TASK
    description: ClassVar[str] = "SRResNet super-resolution: deep residual network with sub-pixel upsampling (MSE)"
    config: SRResNetConfig

    def __init__(self, config: SRResNetConfig):
        super().__init__(config)
        self.net = SRResNetNetwork(config.channels, config.width, config.num_blocks, config.scale)

    @property
    def receptive_radius(self) -> int:
        """``2·num_blocks + 8``, see :func:`srresnet_receptive_radius`."""
        return srresnet_receptive_radius(self.config.num_blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The upscaled images (B, C, h·scale, w·scale) of low-resolution images (B, C, h, w)."""
        return self.net(x)


@register_model("image/srgan")
class SRGAN(RestorationModel):
    """SRGAN (Ledig et al. 2017): the SRResNet network trained against a VGG-style discriminator.

    Optimizer groups: ``discriminator`` then ``generator``, each stepped on every batch with Adam
    (lr ``lr``, β = (0.9, 0.999)). The target and the output go through the discriminator as one
    batch, in both steps, so BatchNorm normalises them with the same statistics: the generator is
    scored as the discriminator was trained, and the feature maps of a pair are comparable.
    """

    config_class = SRGANConfig
    task: ClassVar[str] = TASK
    description: ClassVar[str] = "SRGAN super-resolution: SRResNet trained against a discriminator (adversarial)"
    config: SRGANConfig
    #: Adam betas of both networks (Ledig et al. 2017: β1 = 0.9)
    betas: ClassVar[tuple[float, float]] = (0.9, 0.999)

    def __init__(self, config: SRGANConfig):
        super().__init__(config)
        self.generator = SRResNetNetwork(config.channels, config.width, config.num_blocks, config.scale)
        self.discriminator = SRGANDiscriminator(config.channels, config.d_width)

    @property
    def receptive_radius(self) -> int:
        """The generator's: ``2·num_blocks + 8``, see :func:`srresnet_receptive_radius`."""
        return srresnet_receptive_radius(self.config.num_blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The generator's upscaled images (B, C, h·scale, w·scale) of low-resolution images (B, C, h, w)."""
        return self.generator(x)

    # --- training -------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        lr, schedule = self.config.lr, self.config.schedule
        return [
            OptimizerSpec("discriminator", list(self.discriminator.parameters()), lr, self.betas, schedule=schedule),
            OptimizerSpec("generator", list(self.generator.parameters()), lr, self.betas, schedule=schedule),
        ]

    def training_losses(self, batch: Any, group: str = "generator") -> dict[str, torch.Tensor]:
        """``batch`` = (low-resolution inputs, high-resolution targets).

        ``discriminator``: {loss, d_real, d_fake} (mean raw scores); ``generator``: {loss, pixel,
        feature, adversarial, psnr}.
        """
        inputs, target = batch
        if group == "discriminator":
            return self.discriminator_losses(inputs, target)
        if group == "generator":
            return self.generator_losses(inputs, target)
        raise BadInputError(f"unknown optimizer group '{group}'", "SRGAN's groups are 'discriminator' and 'generator'")

    def _discriminate(
        self, target: torch.Tensor, output: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Feature maps and scores (B,) of the targets and of the outputs, from one discriminator pass over both."""
        n = target.shape[0]
        features = self.discriminator.features(torch.cat([target, output]))
        scores = self.discriminator.score(features)
        return [f[:n] for f in features], [f[n:] for f in features], scores[:n], scores[n:]

    def discriminator_losses(self, inputs: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """The non-saturating loss of D on the targets (real) and the detached outputs (fake)."""
        with torch.no_grad():  # the generator is not trained here: skip its graph
            output = self.generator(inputs)
        _, _, real, fake = self._discriminate(target, output)
        return {"loss": d_non_saturating(real, fake), "d_real": real.mean(), "d_fake": fake.mean()}

    def generator_losses(self, inputs: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Pixel loss + ``feature_weight`` × feature matching + ``adversarial_weight`` × non-saturating loss,
        scored by a frozen D (its weights get no gradients)."""
        c = self.config
        output = self.generator(inputs)
        with frozen(self.discriminator):
            real_features, fake_features, _, fake = self._discriminate(target, output)
        feature = torch.stack(
            [F.mse_loss(f, r.detach()) for f, r in zip(fake_features, real_features, strict=True)]
        ).mean()
        pixel = self.pixel_loss(output, target)
        adversarial = g_non_saturating(fake)
        mse = F.mse_loss(output.detach().clamp(0, 1), target)
        return {
            "loss": pixel + c.feature_weight * feature + c.adversarial_weight * adversarial,
            "pixel": pixel,
            "feature": feature,
            "adversarial": adversarial,
            "psnr": 10 * torch.log10(1 / mse.clamp_min(1e-10)),
        }

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        """The generator's pixel loss and PSNR: {loss, psnr}, as the other restoration models report."""
        with torch.no_grad():
            return RestorationModel.training_losses(self, batch)
