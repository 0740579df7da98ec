"""Base class and config shared by image generators.

Conventions: images are float tensors in [-1, 1] with shape (B, C, H, W);
a training batch is ``(images, labels)`` with ``labels`` a long tensor (B,)
(all zeros for unlabelled data, and then ``num_classes == 0``). The latent prior
and the label rules come from :class:`~genlab.core.latent.LatentGenerativeModel`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.export import Bound, ExportGraph
from genlab.core.latent import ConditionalConfig, LatentGenerativeModel
from genlab.core.model import ModelConfig


class ImageShapeConfig(ModelConfig):
    """Size and channels of the images a model makes."""

    image_size: int = Field(28, ge=8, le=512, description="height = width of generated images, pixels")
    channels: Literal[1, 3] = 1


# pydantic orders fields from the last base to the first: image_size, channels, then num_classes,
# the order config.json files and model cards have always had.
class ImageModelConfig(ConditionalConfig, ImageShapeConfig):
    """Fields every image model has; the engine fills them from the dataset."""


class ImageGenerativeModel(LatentGenerativeModel):
    """An image generator with a latent space: ``generate = decode(sample_latent)``."""

    task: ClassVar[str] = "image-generation"
    #: True for models that can encode and reconstruct images (VAEs).
    can_reconstruct: ClassVar[bool] = False
    conditional_hint: ClassVar[str] = (
        "train a conditional model (cvae, cgan, or ddpm with model.conditional=true) to pick labels"
    )

    config: ImageModelConfig

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Map latents (n, *latent_shape) to images (n, C, H, W) in [-1, 1]."""
        raise NotImplementedError

    @torch.no_grad()
    def generate(
        self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Sample ``n`` images (n, C, H, W) in [-1, 1]; ``labels`` (n,) for conditional models."""
        labels = self.check_labels(labels, n)
        return self.decode(self.sample_latent(n, generator), labels).clamp(-1, 1)

    def export_graphs(self) -> dict[str, ExportGraph]:
        """``decoder``: latents (B, *latent_shape) [+ labels (B,) for conditional models] -> images (B, C, H, W)
        in [-1, 1], the batch size free."""
        g = torch.Generator().manual_seed(0)
        z = self.sample_latent(2, g)
        inputs, names = (z,), ["z"]
        if self.conditional:
            inputs, names = (z, self.check_labels(None, 2)), ["z", "labels"]
        batch = {name: {0: "batch"} for name in [*names, "images"]}
        graph = ExportGraph(Bound(self, "decode"), inputs, names, ["images"], batch,
                            "latents [+ class labels] -> images in [-1, 1]", attach="decode")  # fmt: skip
        return {"decoder": graph}

    def reconstruct(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Encode and decode images (VAEs only)."""
        raise BadInputError(
            f"{self.registry_name} cannot reconstruct images", "reconstruction needs a VAE model (vae, conv-vae, cvae)"
        )
