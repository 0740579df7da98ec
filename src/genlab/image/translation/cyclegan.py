"""CycleGAN (Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks").

Two generators translate between image domains A and B without paired examples — G_AB: A → B and
G_BA: B → A — and two discriminators tell real from translated images of each domain, D_A and D_B.
The generators are trained with

* a least-squares adversarial loss (LSGAN, Mao et al. 2017): (D_B(G_AB(a)) − 1)² + (D_A(G_BA(b)) − 1)²;
* a cycle-consistency loss, λ_cycle · (‖G_BA(G_AB(a)) − a‖₁ + ‖G_AB(G_BA(b)) − b‖₁), λ_cycle = 10;
* an identity loss, λ_id · (‖G_AB(b) − b‖₁ + ‖G_BA(a) − a‖₁), λ_id = 0.5 · λ_cycle (Zhu et al., section 5.2,
  after Taigman et al. 2017): a generator given an image of its target domain should leave it alone;

the discriminators with ½(D(real) − 1)² + ½D(fake)², on translations drawn from a history of the 50
latest ones (Shrivastava et al. 2017) rather than only the newest.

Networks follow the paper's appendix 7.2, with widths and depths as config fields (small defaults for
a CPU and 28-pixel digits): the generator (Johnson et al. 2016) is a 7×7 conv, two stride-2 3×3 convs,
``num_blocks`` residual blocks, two fractionally-strided 3×3 convs and a 7×7 conv to a Tanh, with
instance normalization (Ulyanov et al. 2016) and reflection padding; the discriminator is a PatchGAN
(Isola et al. 2017): stride-2 4×4 convs with LeakyReLU(0.2), then a 4×4 conv scoring every patch.
Weights start from N(0, 0.02). Adam lr 2e-4, β = (0.5, 0.999).

Images are float tensors (B, C, H, W) in [-1, 1], as for the generative image models; H and W are
multiples of 4 (two halvings and two doublings). A training batch is ``(images_a, images_b)``.

Optimizer groups follow :mod:`genlab.image.gan`: ``discriminator`` (both D's, stepped first on every
batch) and ``generator`` (both G's). Reading order: config → networks → model.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import nn

from genlab.core.errors import BadInputError, ConfigError
from genlab.core.model import GenerativeModel, OptimizerSpec, register_model
from genlab.image.base import ImageShapeConfig
from genlab.image.translation.strokes import THICK, THIN
from genlab.nn.adversarial import d_least_squares, frozen

TASK = "translation"
DIRECTIONS: tuple[str, ...] = ("a2b", "b2a")

# --------------------------------------------------------------------------- config


class CycleGANConfig(ImageShapeConfig):
    """Hyper-parameters of ``image/cyclegan``; ``image_size``, ``channels`` and the domain names come from the data."""

    image_size: int = Field(28, ge=8, le=512, description="height = width of the images, pixels; set from the data")
    channels: Literal[1, 3] = Field(1, description="image channels (1 gray, 3 RGB); set from the data")
    domain_a: str = Field(THIN, description="where domain A's images come from; set from the data (data.source_a)")
    domain_b: str = Field(THICK, description="where domain B's images come from; set from the data (data.source_b)")
    width: int = Field(32, ge=1, le=512, description="generator channels after its first conv (×2 per downsampling)")
    num_blocks: int = Field(4, ge=0, le=32, description="residual blocks of each generator (Zhu et al.: 6 or 9)")
    d_width: int = Field(32, ge=1, le=512, description="discriminator channels after its first conv (×2 per layer)")
    d_layers: int = Field(
        2, ge=1, le=6,
        description="stride-2 convs of the PatchGAN discriminator: 3 scores 70×70 patches (Zhu et al.), "
        "2 scores 34×34 patches (the default, for 28–64 pixel images)",
    )  # fmt: skip
    cycle_weight: float = Field(10.0, ge=0, description="λ_cycle, the weight of the cycle-consistency L1 loss")
    identity_ratio: float = Field(
        0.5, ge=0, description="identity loss weight as a share of λ_cycle: λ_id = identity_ratio·λ_cycle (0 = off)"
    )
    pool_size: int = Field(
        50, ge=0, le=10_000, description="translations kept to train the discriminators on (0: only the newest)"
    )
    lr: float = Field(2e-4, gt=0, le=1, description="Adam learning rate of both groups")
    betas: tuple[float, float] = Field((0.5, 0.999), description="Adam betas of both groups")

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, betas: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in betas):
            raise ValueError("Adam betas must lie in [0, 1), e.g. [0.5, 0.999]")
        return betas


def check_sizes(config: CycleGANConfig, who: str = "image/cyclegan") -> None:
    """Refuse image sizes the networks cannot handle, with a size that works in the hint."""
    size = config.image_size
    if size % 4:
        good = sorted({size - size % 4, size + 4 - size % 4} - {0})
        raise ConfigError(
            f"{who} needs an image size that is a multiple of 4 (two halvings, two doublings), got {size}",
            f"use --image-size {' or '.join(str(s) for s in good)}",
        )
    side = size // 2**config.d_layers
    if side < 3:
        smallest = 3 * 2**config.d_layers
        raise ConfigError(
            f"a PatchGAN with d_layers={config.d_layers} has no patch left on {size}×{size} images",
            f"lower model.d_layers, or use images of at least {smallest}×{smallest} pixels",
        )


# --------------------------------------------------------------------------- networks


def init_weights_(module: nn.Module) -> None:
    """Conv weights ~ N(0, 0.02), biases 0 (Zhu et al. 2017, section 4 / their reference code)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def conv_norm_relu(a: int, b: int, kernel: int, stride: int = 1, reflect: int = 0) -> list[nn.Module]:
    """[reflection pad] → conv → instance norm → ReLU."""
    pad = [nn.ReflectionPad2d(reflect)] if reflect else []
    padding = 0 if reflect else kernel // 2
    return [*pad, nn.Conv2d(a, b, kernel, stride, padding), nn.InstanceNorm2d(b), nn.ReLU(inplace=True)]


class ResidualBlock(nn.Module):
    """x + (pad → 3×3 conv → IN → ReLU → pad → 3×3 conv → IN)(x) (He et al. 2016; Johnson et al. 2016)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            *conv_norm_relu(channels, channels, 3, reflect=1),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """images (B, C, H, W) in [-1, 1] -> translated images (B, C, H, W) in [-1, 1].

    c7s1-w, d2w, d4w, R4w × num_blocks, u2w, uw, c7s1-C + Tanh (Zhu et al. 2017, appendix 7.2):
    28 px and width 32: 32@28 → 64@14 → 128@7 (residual blocks) → 64@14 → 32@28 → C@28.
    """

    def __init__(self, channels: int, width: int, num_blocks: int):
        super().__init__()
        w = width
        layers: list[nn.Module] = conv_norm_relu(channels, w, 7, reflect=3)
        layers += conv_norm_relu(w, 2 * w, 3, stride=2) + conv_norm_relu(2 * w, 4 * w, 3, stride=2)
        layers += [ResidualBlock(4 * w) for _ in range(num_blocks)]
        for a, b in ((4 * w, 2 * w), (2 * w, w)):  # fractionally strided: exactly doubles H and W
            layers += [nn.ConvTranspose2d(a, b, 3, 2, padding=1, output_padding=1), nn.InstanceNorm2d(b), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(w, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(init_weights_)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """images (B, C, H, W) -> patch scores (B, 1, h, w), high for real images (Isola et al. 2017).

    ``layers`` stride-2 4×4 convs (channels d_width·2^i, capped at 8·d_width), a stride-1 4×4 conv, then a
    4×4 conv to one score per patch; LeakyReLU(0.2), instance norm after every conv but the first and last.
    28 px, layers 2: 14 → 7 → 6 → 5×5 scores, each seeing a 34×34 patch.
    """

    def __init__(self, channels: int, width: int, layers: int):
        super().__init__()
        widths = [width * min(2**i, 8) for i in range(layers + 1)]
        modules: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for i in range(1, layers + 1):
            stride = 2 if i < layers else 1
            modules += [nn.Conv2d(widths[i - 1], widths[i], 4, stride, 1), nn.InstanceNorm2d(widths[i])]
            modules += [nn.LeakyReLU(0.2, True)]
        modules += [nn.Conv2d(widths[-1], 1, 4, 1, 1)]
        self.net = nn.Sequential(*modules)
        self.apply(init_weights_)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


class ImagePool:
    """A history of generated images for the discriminator (Shrivastava et al. 2017; Zhu et al. 2017, section 4).

    Until ``size`` images are stored, :meth:`query` stores and returns the new ones; then each new image
    is, with probability ½, returned as it is, or swapped for a random stored one (which it replaces).
    ``size`` 0 returns the new images unchanged. Not saved with the model: a resumed run starts it afresh.
    """

    def __init__(self, size: int):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif float(torch.rand(())) < 0.5:  # torch's generator: seeded with the run like everything else
                i = int(torch.randint(self.size, ()))
                out.append(self.images[i])
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)


# --------------------------------------------------------------------------- model


@register_model("image/cyclegan")
class CycleGAN(GenerativeModel):
    """``image/cyclegan``: unpaired translation between two image domains (Zhu et al. 2017).

    ``translate(x, "a2b")`` runs G_AB, ``translate(x, "b2a")`` G_BA. Training: :meth:`training_losses`
    per optimizer group (``discriminator``, then ``generator``) on batches ``(images_a, images_b)``.
    """

    config_class: ClassVar[type[CycleGANConfig]] = CycleGANConfig
    task: ClassVar[str] = TASK
    description: ClassVar[str] = (
        "CycleGAN: unpaired image-to-image translation with cycle consistency (Zhu et al. 2017)"
    )
    config: CycleGANConfig

    def __init__(self, config: CycleGANConfig):
        super().__init__(config)
        check_sizes(config, self.registry_name)
        c = config.channels
        self.g_ab = ResnetGenerator(c, config.width, config.num_blocks)
        self.g_ba = ResnetGenerator(c, config.width, config.num_blocks)
        self.d_a = PatchDiscriminator(c, config.d_width, config.d_layers)
        self.d_b = PatchDiscriminator(c, config.d_width, config.d_layers)
        self.pool_a, self.pool_b = ImagePool(config.pool_size), ImagePool(config.pool_size)

    @property
    def generators(self) -> list[nn.Module]:
        return [self.g_ab, self.g_ba]

    @property
    def discriminators(self) -> list[nn.Module]:
        return [self.d_a, self.d_b]

    # --- inference ------------------------------------------------------------
    def generator_for(self, direction: str) -> nn.Module:
        """G_AB for ``a2b``, G_BA for ``b2a``; anything else is refused with the two choices."""
        if direction not in DIRECTIONS:
            raise BadInputError(
                f"unknown direction '{direction}'",
                f"use a2b ({self.config.domain_a} → {self.config.domain_b}) or b2a (the other way)",
            )
        return self.g_ab if direction == "a2b" else self.g_ba

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: str = "a2b") -> torch.Tensor:
        """Translate images (B, C, H, W) in [-1, 1] from domain A to B (``a2b``) or B to A (``b2a``).

        H and W must be multiples of 4 (the generators are convolutional: any such size works, the
        training size works best). Returns (B, C, H, W) in [-1, 1].
        """
        generator = self.generator_for(direction)
        c = self.config.channels
        if x.dim() != 4 or x.shape[1] != c or x.shape[-1] % 4 or x.shape[-2] % 4:
            raise BadInputError(
                f"{self.registry_name} translates {c}-channel images (B, {c}, H, W) with H and W multiples of 4, "
                f"got shape {tuple(x.shape)}",
                f"pass images of the model's size, (B, {c}, {self.config.image_size}, {self.config.image_size})",
            )
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        try:
            return generator(x.to(device).float()).clamp(-1, 1).cpu()
        finally:
            self.train(was_training)

    # --- training -------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        d_params = [p for d in self.discriminators for p in d.parameters()]
        g_params = [p for g in self.generators for p in g.parameters()]
        return [
            OptimizerSpec("discriminator", d_params, lr=c.lr, betas=c.betas),
            OptimizerSpec("generator", g_params, lr=c.lr, betas=c.betas),
        ]

    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """``discriminator``: {loss, d_a, d_b}; ``generator``: {loss, g_adv, cycle, identity}."""
        a, b = self._unpack(batch)
        if group == "discriminator":
            return self.discriminator_losses(a, b)
        if group == "generator":
            return self.generator_losses(a, b)
        raise BadInputError(f"unknown optimizer group '{group}'", "CycleGAN groups are 'discriminator' and 'generator'")

    def discriminator_losses(self, a: torch.Tensor, b: torch.Tensor, pool: bool = True) -> dict[str, torch.Tensor]:
        """LSGAN losses of D_A (real a vs G_BA(b)) and D_B (real b vs G_AB(a)); translations come from the pools."""
        with torch.no_grad():  # the generators are not trained here: skip their graphs
            fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        if pool:
            fake_a, fake_b = self.pool_a.query(fake_a), self.pool_b.query(fake_b)
        d_a = d_least_squares(self.d_a(a).flatten(), self.d_a(fake_a).flatten())
        d_b = d_least_squares(self.d_b(b).flatten(), self.d_b(fake_b).flatten())
        return {"loss": d_a + d_b, "d_a": d_a, "d_b": d_b}

    def generator_losses(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        """Adversarial (frozen D's), cycle-consistency and identity losses of both generators, weighted."""
        c = self.config
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        with frozen(self.d_a), frozen(self.d_b):
            g_adv = (self.d_b(fake_b) - 1).pow(2).mean() + (self.d_a(fake_a) - 1).pow(2).mean()
        cycle = F.l1_loss(self.g_ba(fake_b), a) + F.l1_loss(self.g_ab(fake_a), b)
        loss = g_adv + c.cycle_weight * cycle
        if c.identity_ratio > 0:
            identity = F.l1_loss(self.g_ab(b), b) + F.l1_loss(self.g_ba(a), a)
            loss = loss + c.identity_ratio * c.cycle_weight * identity
        else:
            with torch.no_grad():  # still logged, so runs with and without it compare
                identity = F.l1_loss(self.g_ab(b), b) + F.l1_loss(self.g_ba(a), a)
        return {"loss": loss, "g_adv": g_adv, "cycle": cycle, "identity": identity}

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        """d_a, d_b (on the newest translations, no pool), g_adv, cycle and identity on a held-out batch."""
        a, b = self._unpack(batch)
        with torch.no_grad():
            d = self.discriminator_losses(a, b, pool=False)
            g = self.generator_losses(a, b)
        return {"d_a": d["d_a"], "d_b": d["d_b"], "g_adv": g["g_adv"], "cycle": g["cycle"], "identity": g["identity"]}

    def _unpack(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        ok = isinstance(batch, (tuple, list)) and len(batch) == 2
        ok = ok and all(isinstance(x, torch.Tensor) and x.dim() == 4 for x in batch)
        if not ok:
            raise BadInputError(
                "a CycleGAN batch is (images_a, images_b), two (B, C, H, W) tensors",
                "train it with the translation task's data",
            )
        return batch[0], batch[1]
