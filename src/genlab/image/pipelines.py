"""Image generation pipelines: sample (and latent walks), reconstruct.

``genlab.load(run)`` gives :class:`ImageGenerationPipeline`; ``pipe(n=16, label=3, seed=0)`` returns
PIL images (a tensor with ``output_type="pt"``), ``pipe.run(pipe.request(...))`` an :class:`ImagesOutput`.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.core.seeding import make_generator
from genlab.image.io import ImagesOutput, to_pil

OutputType = Literal["pil", "pt"]
TASK = "image-generation"


class ImageSampling(Request):
    """Options of ``genlab sample`` on an image generator."""

    n: int = Field(16, ge=1, description="number of images")
    label: int | list[int] | None = Field(None, description="class label (conditional models); one or one per image")
    interpolate: bool = Field(False, description="a latent walk between two samples instead of independent samples")
    nrow: int | None = Field(None, ge=1, description="images per grid row")
    sampler: str | None = Field(None, description="diffusion/flow: ddpm, ddim, dpm++2m, euler, heun")
    steps: int | None = Field(None, ge=1, description="diffusion/flow: number of sampling steps")
    guidance_scale: float | None = Field(
        None, ge=0, description="classifier-free guidance scale (1 = none)", json_schema_extra={"flag": "--guidance"}
    )
    eta: float | None = Field(None, ge=0, description="DDIM stochasticity η (0 = deterministic)")
    precision: Literal["32", "bf16"] | None = Field(
        None,
        description="diffusion/flow: bf16 runs the UNet in bfloat16, about 1.6× faster on CPUs with AVX-512 BF16 "
        "or AMX (samples differ slightly from float32)",
    )
    backend: Literal["torch", "onnx"] = Field(
        "torch",
        description="onnx: the decoder / denoiser runs in onnxruntime (exported once per model, checked against "
        "PyTorch, cached); needs the export extra",
    )

    def sampling_options(self) -> dict:
        """The diffusion/flow options that were given."""
        values = {"sampler": self.sampler, "steps": self.steps, "guidance_scale": self.guidance_scale, "eta": self.eta}
        values["precision"] = self.precision
        return {k: v for k, v in values.items() if v is not None}


def grid_scale(image_size: int) -> int:
    """Small images are shown ×2 in grids."""
    return 2 if image_size <= 32 else 1


@register_pipeline("image/sample")
class ImageGenerationPipeline(Pipeline):
    """``pipe(n=16, label=3, seed=0)`` → list of PIL images (or a tensor with ``output_type="pt"``)."""

    task = TASK
    verb = "sample"
    description = "sample images from a trained generator into a grid PNG (or a folder of PNGs)"
    request_class = ImageSampling
    output_class = ImagesOutput

    def backend_model(self, backend: str):
        """The model for ``backend``: the loaded one, or (``onnx``) its twin whose exported graphs run in
        onnxruntime (:func:`genlab.exporters.backend_model`), made once per loaded model."""
        if backend == "torch":
            return self.model
        from genlab.exporters import backend_model

        return backend_model(self.model, backend)

    def run(self, request: ImageSampling) -> ImagesOutput:
        model = self.backend_model(request.backend)
        labels = None if request.label is None else torch.as_tensor(request.label, dtype=torch.long)
        sampling = request.sampling_options()
        if sampling and not hasattr(self.model, "prepare_sampling"):
            raise BadInputError(
                f"{self.model.registry_name} takes no sampling options ({', '.join(sampling)})",
                "sampler, steps, guidance and eta apply to diffusion and flow models (ddpm, flow)",
            )
        if request.interpolate:
            if sampling:
                raise BadInputError(
                    "--interpolate uses the model's default sampler", "drop --sampler/--steps/--guidance"
                )
            images = self._walk(model, request.n, labels, request.seed)
            return ImagesOutput(images, nrow=request.nrow or request.n)
        return ImagesOutput(self._draw(model, request.n, labels, request.seed, sampling), nrow=request.nrow)

    def batch_key(self, request: ImageSampling):
        """Plain samples of a latent generator (``generate = decode(sample_latent)``: GANs, VAEs) batch with
        each other; latent walks and iterative samplers (diffusion, flow) do not."""
        from genlab.image.base import ImageGenerativeModel

        plain = type(self.model).generate is ImageGenerativeModel.generate
        if not plain or request.interpolate or request.sampling_options():
            return None
        return ("sample", request.nrow, request.backend)

    @torch.no_grad()
    def run_batch(self, requests: list[ImageSampling]) -> list[ImagesOutput]:
        """Each request's latents drawn with its own seed, then one decoder call for all of them (split back):
        every request gets the images it would get alone."""
        if len(requests) == 1 or any(r.n > self.model.sample_batch_size for r in requests):
            return [self.run(r) for r in requests]
        latents, labels = [], []
        for r in requests:
            given = None if r.label is None else torch.as_tensor(r.label, dtype=torch.long)
            labels.append(self.model.check_labels(given, r.n))
            latents.append(self.model.sample_latent(r.n, make_generator(r.seed)))
        joined = None if labels[0] is None else torch.cat(labels)
        model = self.backend_model(requests[0].backend)  # one batch key, one backend
        images = model.decode(torch.cat(latents), joined).clamp(-1, 1).cpu()
        out, start = [], 0
        for r in requests:
            out.append(ImagesOutput(images[start : start + r.n], nrow=r.nrow))
            start += r.n
        return out

    @torch.no_grad()
    def _draw(self, model, n: int, labels: torch.Tensor | None, seed: int | None, sampling: dict) -> torch.Tensor:
        """``n`` images drawn ``sample_batch_size`` at a time (memory stays bounded for any ``n``), on the CPU."""
        g, step = make_generator(seed), model.sample_batch_size
        if n <= step:
            return model.generate(n, labels=labels, generator=g, **sampling).cpu()
        labels = model.check_labels(labels, n)  # one label or one per image, checked once for all n
        chunks = []
        for i in range(0, n, step):
            m = min(step, n - i)
            chunk_labels = None if labels is None else labels[i : i + m]
            chunks.append(model.generate(m, labels=chunk_labels, generator=g, **sampling).cpu())
        return torch.cat(chunks)

    def default_filename(self, request: ImageSampling) -> str:
        return f"sample{'-walk' if request.interpolate else ''}-seed{request.seed}.png"

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
        out = self.run(self.request(n=n, label=label, seed=seed, **sampling))
        return _output(out.images, output_type)

    def interpolate(
        self, n: int = 8, label: int | None = None, seed: int | None = None, output_type: OutputType = "pil"
    ):
        """A latent walk of ``n`` images between two random latents (spherical interpolation)."""
        return _output(self.run(self.request(n=n, label=label, seed=seed, interpolate=True)).images, output_type)

    @torch.no_grad()
    def _walk(self, model, n: int, labels: torch.Tensor | None, seed: int | None) -> torch.Tensor:
        if n < 2:
            raise BadInputError(f"--n must be at least 2 for a latent walk, got {n}")
        g = make_generator(seed)
        z0, z1 = model.sample_latent(2, generator=g)
        ts = torch.linspace(0, 1, n, device=z0.device)
        z = torch.stack([slerp(z0, z1, float(t)) for t in ts])
        labels = model.check_labels(None if labels is None else labels.reshape(-1)[:1], n)
        return model.decode(z, labels).clamp(-1, 1)

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, labels: torch.Tensor | None = None, output_type: OutputType = "pil"):
        """Encode and decode ``images`` (N, C, H, W) in [-1, 1] (VAEs)."""
        if labels is not None and not self.model.conditional:
            labels = None  # dataset labels are irrelevant to an unconditional VAE
        return _output(self.model.reconstruct(images.to(self.model.device), labels), output_type)


class ImageReconstruction(Request):
    """Options of ``genlab reconstruct``."""

    data: str = Field(
        description="images to reconstruct: a dataset name (builtin:digits, mnist) or a folder",
        json_schema_extra={"file": "dataset", "names": True},
    )
    n: int = Field(16, ge=1, description="number of images")
    data_dir: str | None = Field(None, description="folder of standard datasets", json_schema_extra={"server": False})


@register_pipeline("image/reconstruct")
class ImageReconstructionPipeline(Pipeline):
    """Encode and decode real images with a VAE: originals on top, reconstructions below."""

    task = TASK
    verb = "reconstruct"
    description = "reconstruct real images with a VAE: originals in the top row(s), reconstructions below"
    request_class = ImageReconstruction
    output_class = ImagesOutput

    model_hint = "reconstruction needs a VAE (vae, conv-vae, cvae)"

    @classmethod
    def model_problem(cls, model) -> str | None:
        return None if getattr(model, "can_reconstruct", False) else f"{model.registry_name} cannot reconstruct images"

    @torch.no_grad()
    def run(self, request: ImageReconstruction) -> ImagesOutput:
        from genlab.image.data import load_images

        cfg = self.model.config
        images, labels = load_images(request.data, cfg.image_size, cfg.channels, request.n, data_dir=request.data_dir)
        recon = self.model.reconstruct(images.to(self.model.device), labels if self.model.conditional else None)
        nrow = min(request.n, 8)
        rows = [torch.cat([images[i : i + nrow], recon[i : i + nrow].cpu()]) for i in range(0, len(images), nrow)]
        return ImagesOutput(torch.cat(rows), nrow=nrow, scale=grid_scale(cfg.image_size))

    def default_filename(self, request: ImageReconstruction) -> str:
        return "reconstruction.png"


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
    if n < minimum:
        raise BadInputError(f"--n must be at least {minimum}, got {n}")


def _output(images: torch.Tensor, output_type: OutputType):
    return images.cpu() if output_type == "pt" else to_pil(images)
