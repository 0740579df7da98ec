"""Base class and config shared by image generators.

Conventions: images are float tensors in [-1, 1] with shape (B, C, H, W);
a training batch is ``(images, labels)`` with ``labels`` a long tensor (B,)
(all zeros for unlabelled data, and then ``num_classes == 0``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel, ModelConfig


class ImageModelConfig(ModelConfig):
    """Fields every image model has; the engine fills them from the dataset."""

    image_size: int = Field(28, ge=8, le=512, description="height = width of generated images, pixels")
    channels: Literal[1, 3] = 1
    num_classes: int = Field(0, ge=0, description="number of labels; 0 = unconditional data")


class ImageGenerativeModel(GenerativeModel):
    """An image generator with a latent space: ``generate = decode(sample_latent)``."""

    task: ClassVar[str] = "image-generation"
    #: True when the model needs a label for every sample (cVAE, cGAN).
    conditional: ClassVar[bool] = False
    #: True for models that can encode and reconstruct images (VAEs).
    can_reconstruct: ClassVar[bool] = False
    #: Images per batch when evaluation draws many samples (diffusion models lower it).
    sample_batch_size: ClassVar[int] = 500

    config: ImageModelConfig

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one latent sample (without the batch dimension)."""
        return (self.config.latent_dim,)

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` latents from the prior, (n, *latent_shape), on the model's device."""
        z = torch.randn((n, *self.latent_shape), generator=generator)
        return z.to(self.device)

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

    def reconstruct(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Encode and decode images (VAEs only)."""
        raise BadInputError(
            f"{self.registry_name} cannot reconstruct images", "reconstruction needs a VAE model (vae, conv-vae, cvae)"
        )

    def check_labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """Validate labels for this model: required iff conditional, each in [0, num_classes)."""
        k = self.config.num_classes
        if not self.conditional:
            if labels is not None:
                raise BadInputError(
                    f"{self.registry_name} is unconditional and takes no label",
                    "train a conditional model (cvae, cgan, or ddpm with model.conditional=true) to pick labels",
                )
            return None
        if labels is None:
            # A conditional model with no label asked for: cycle through the classes.
            return (torch.arange(n) % k).to(self.device)
        labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
        if labels.numel() == 1:
            labels = labels.expand(n)
        if labels.numel() != n:
            raise BadInputError(f"got {labels.numel()} labels for {n} samples", "give one label or one per sample")
        bad = labels[(labels < 0) | (labels >= k)]
        if bad.numel():
            raise BadInputError(f"label {int(bad[0])} is out of range", f"this model has labels 0..{k - 1}")
        return labels.to(self.device)
