"""Image generation pipeline: sample, interpolate, reconstruct."""

from __future__ import annotations

from typing import Literal

import torch

from genlab.core.errors import BadInputError
from genlab.core.pipeline import Pipeline
from genlab.core.seeding import make_generator
from genlab.image.io import to_pil

OutputType = Literal["pil", "pt"]


class ImageGenerationPipeline(Pipeline):
    """``pipe(n=16, label=3, seed=0)`` → list of PIL images (or a tensor with ``output_type="pt"``)."""

    task = "image-generation"

    def __call__(
        self,
        n: int = 16,
        label: int | list[int] | None = None,
        seed: int | None = None,
        output_type: OutputType = "pil",
        **sampling,
    ):
        """Generate ``n`` images; ``label`` (one or one per image) for conditional models.

        ``sampling`` options (``sampler``, ``steps``, ``guidance_scale``, ``eta``) go to diffusion and
        flow models; other models reject them.
        """
        _check_n(n)
        labels = None if label is None else torch.as_tensor(label, dtype=torch.long)
        sampling = {k: v for k, v in sampling.items() if v is not None}
        if sampling and not hasattr(self.model, "prepare_sampling"):
            raise BadInputError(
                f"{self.model.registry_name} takes no sampling options ({', '.join(sampling)})",
                "sampler, steps, guidance and eta apply to diffusion and flow models (ddpm, flow)",
            )
        images = self.model.generate(n, labels=labels, generator=make_generator(seed), **sampling)
        return _output(images, output_type)

    @torch.no_grad()
    def interpolate(
        self, n: int = 8, label: int | None = None, seed: int | None = None, output_type: OutputType = "pil"
    ):
        """A latent walk of ``n`` images between two random latents (spherical interpolation)."""
        _check_n(n, minimum=2)
        g = make_generator(seed)
        z0, z1 = self.model.sample_latent(2, generator=g)
        ts = torch.linspace(0, 1, n, device=z0.device)
        z = torch.stack([slerp(z0, z1, float(t)) for t in ts])
        labels = self.model.check_labels(None if label is None else torch.tensor([label]), n)
        return _output(self.model.decode(z, labels).clamp(-1, 1), output_type)

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, labels: torch.Tensor | None = None, output_type: OutputType = "pil"):
        """Encode and decode ``images`` (N, C, H, W) in [-1, 1] (VAEs)."""
        if labels is not None and not self.model.conditional:
            labels = None  # dataset labels are irrelevant to an unconditional VAE
        return _output(self.model.reconstruct(images.to(self.model.device), labels), output_type)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between latents ``a`` and ``b`` (keeps Gaussian norms typical)."""
    af, bf = a.flatten(), b.flatten()
    cos = torch.dot(af, bf) / (af.norm() * bf.norm() + 1e-8)
    omega = torch.arccos(cos.clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    if so.abs() < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def _check_n(n: int, minimum: int = 1) -> None:
    from genlab.core.errors import BadInputError

    if n < minimum:
        raise BadInputError(f"--n must be at least {minimum}, got {n}")


def _output(images: torch.Tensor, output_type: OutputType):
    return images.cpu() if output_type == "pt" else to_pil(images)
