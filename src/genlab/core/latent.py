"""Generative models with a latent prior and optional class labels, whatever the modality.

A latent model draws ``z`` from a prior of shape ``latent_shape`` and maps it to a
sample; a *conditional* one also takes a class label per sample. The label rules are
the same for images, audio or tables: required iff the model is conditional, cycled
through the classes when none are given, and checked against ``config.num_classes``.
Modalities derive their base class from :class:`LatentGenerativeModel` and their base
config from :class:`ConditionalConfig`.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel, ModelConfig


class ConditionalConfig(ModelConfig):
    """Config of a model that may condition on class labels; the engine fills ``num_classes`` from the dataset."""

    num_classes: int = Field(0, ge=0, description="number of labels; 0 = unconditional data")


class LatentGenerativeModel(GenerativeModel):
    """A generator with a latent prior and, when ``conditional``, one class label per sample."""

    #: True when the model needs a label for every sample (cVAE, cGAN).
    conditional: ClassVar[bool] = False
    #: Samples per batch when evaluation draws many samples (diffusion models lower it).
    sample_batch_size: ClassVar[int] = 500
    #: Hint of the error raised when an unconditional model is given labels.
    conditional_hint: ClassVar[str] = "train a conditional model to pick labels"

    config: ConditionalConfig

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one latent sample (without the batch dimension); ``(config.latent_dim,)`` unless overridden."""
        return (self.config.latent_dim,)

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` latents from the prior, (n, *latent_shape), on the model's device."""
        z = torch.randn((n, *self.latent_shape), generator=generator)
        return z.to(self.device)

    def check_labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """Validate labels for ``n`` samples: required iff conditional, each in [0, num_classes).

        Returns None for unconditional models, the classes cycled (0, 1, …, K-1, 0, …) when a
        conditional model gets no labels, one label repeated ``n`` times, or the (n,) labels,
        as a long tensor on the model's device.
        """
        k = self.config.num_classes
        if not self.conditional:
            if labels is not None:
                raise BadInputError(f"{self.registry_name} is unconditional and takes no label", self.conditional_hint)
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
