"""Restoration pipelines: ``genlab upscale`` (super-resolution) and ``genlab denoise``.

Both take a photo of any size (read at full size, EXIF-rotated), restore it tile by tile, and save
it at full size: ``pipe("photo.jpg")`` → :class:`~genlab.image.restoration.photo.PhotoOutput`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.core.seeding import make_generator
from genlab.image.restoration.degrade import add_noise
from genlab.image.restoration.photo import PhotoInput, PhotoOutput, photo_input, restore_photo


class RestoreRequest(Request):
    """Options shared by the restoration verbs."""

    image: str = Field(
        description="input photo (PNG, JPEG, WebP, BMP), any size",
        json_schema_extra={"file": "image", "positional": True},
    )
    tile: int = Field(256, ge=16, le=4096, description="input pixels per tile: bounds memory on large photos")


class Upscaling(RestoreRequest):
    """Options of ``genlab upscale``."""

    scale: int | None = Field(None, ge=2, le=8, description="upscaling factor; must be the model's (checked)")


class Denoising(RestoreRequest):
    """Options of ``genlab denoise``."""

    add_noise: float | None = Field(
        None, ge=0, le=255, description="first add Gaussian noise of this σ (0–255 scale): a demo on a clean photo"
    )


class _RestorationPipeline(Pipeline):
    output_class = PhotoOutput
    positional_out = True

    def _restore(self, photo: torch.Tensor, tile: int) -> torch.Tensor:
        model = self.model
        return restore_photo(photo, model.config.color, model.output_scale, lambda x: model.restore(x, tile=tile))


@register_pipeline("image/upscale")
class SuperResolutionPipeline(_RestorationPipeline):
    """``pipe("photo.jpg")`` → the photo ``scale`` times larger (:class:`PhotoOutput`)."""

    task = "super-resolution"
    verb = "upscale"
    description = "upscale a photo with a super-resolution model (any size: processed in tiles)"
    request_class = Upscaling

    def default_filename(self, request: Upscaling) -> str:
        return f"{Path(request.image).stem}_x{self.model.output_scale}.png"

    def __call__(self, image: PhotoInput, scale: int | None = None, tile: int = 256) -> PhotoOutput:
        own = self.model.output_scale
        if scale is not None and scale != own:
            raise BadInputError(
                f"this model upscales ×{own}, not ×{scale}",
                f"use --scale {own}, or train a ×{scale} model (genlab train super-resolution --scale {scale})",
            )
        photo = photo_input(image)
        out = self._restore(photo, tile)
        return PhotoOutput(out, {"scale": own, "input_size": list(photo.shape[-2:]), "size": list(out.shape[-2:])})

    def run(self, request: Upscaling) -> PhotoOutput:
        return self(request.image, request.scale, request.tile)


@register_pipeline("image/denoise")
class DenoisingPipeline(_RestorationPipeline):
    """``pipe("noisy.png")`` → the denoised photo (:class:`PhotoOutput`)."""

    task = "denoising"
    verb = "denoise"
    description = "remove noise from a photo with a denoising model (any size: processed in tiles)"
    request_class = Denoising

    def default_filename(self, request: Denoising) -> str:
        return f"{Path(request.image).stem}_denoised.png"

    def __call__(
        self, image: PhotoInput, add_noise_sigma: float | None = None, tile: int = 256, seed: int | None = None
    ) -> PhotoOutput:
        photo = photo_input(image)
        if add_noise_sigma:
            photo = add_noise(photo, add_noise_sigma, make_generator(seed)).clamp(0, 1)
        return PhotoOutput(self._restore(photo, tile), {"added_noise_sigma": add_noise_sigma})

    def run(self, request: Denoising) -> PhotoOutput:
        return self(request.image, request.add_noise, request.tile, request.seed)
