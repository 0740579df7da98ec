"""Editing pipelines for diffusion and flow models: inpainting (RePaint) and image-to-image (SDEdit).

``ImageInpaintingPipeline.from_pretrained(run)(image, mask="bottom", n=8, seed=0)`` and
``Image2ImagePipeline.from_pretrained(run)(image, strength=0.6)`` return PIL images (or a
tensor with ``output_type="pt"``). Images may be a file path, a PIL image or a tensor
(N, C, H, W) in [-1, 1]; they are resized to the model's image size and channels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from pydantic import Field

from genlab.core.errors import BadInputError, DataError
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.core.seeding import make_generator
from genlab.image.diffusion.editing import MASK_SHAPES, half_mask, img2img, inpaint
from genlab.image.io import ImagesOutput
from genlab.image.pipelines import TASK, OutputType, _check_n, _output, grid_scale
from genlab.nn.precision import Precision

ImageInput = str | Path | Image.Image | torch.Tensor


def read_image(image: ImageInput, size: int, channels: int) -> torch.Tensor:
    """A path, PIL image or tensor → (N, C, size, size) float in [-1, 1] (tensors are only checked)."""
    if isinstance(image, torch.Tensor):
        x = image if image.dim() == 4 else image.unsqueeze(0)
        if x.shape[1:] != (channels, size, size):
            raise BadInputError(f"image tensor has shape {tuple(x.shape)}", f"expected (N, {channels}, {size}, {size})")
        return x.float()
    if not isinstance(image, Image.Image):
        path = Path(image)
        if not path.is_file():
            raise DataError(f"image file not found: {path}", "give the path of a PNG or JPEG image")
        try:
            image = Image.open(path)
            image.load()
        except OSError as e:
            raise DataError(f"cannot read image {path}: {e}", "give a PNG or JPEG image") from None
    img = image.convert("L" if channels == 1 else "RGB").resize((size, size), Image.BICUBIC)
    arr = np.asarray(img, dtype=np.float32).reshape(size, size, channels)
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0) / 127.5 - 1.0


def read_mask(mask: ImageInput, size: int) -> torch.Tensor:
    """A mask image (white = regenerate), a tensor, or one of left/right/top/bottom/center → (N, 1, size, size)."""
    if isinstance(mask, str) and mask in MASK_SHAPES:
        return half_mask(mask, size)
    if isinstance(mask, torch.Tensor):
        m = mask.float().reshape(-1, 1, *mask.shape[-2:])
        if m.shape[-2:] != (size, size):
            raise BadInputError(f"mask tensor is {tuple(m.shape[-2:])}", f"expected {size}×{size}")
        return (m > 0.5).float()
    return (read_image(mask, size, 1) > 0).float()  # [-1, 1] scale: white (> mid grey) = regenerate


class EditRequest(Request):
    """Options shared by the editing pipelines."""

    image: str = Field(
        description="input image file (PNG/JPEG); resized to the model's size and channels",
        json_schema_extra={"file": "image"},
    )
    label: int | list[int] | None = Field(None, description="class label (conditional models)")
    sampler: str | None = Field(None, description="diffusion/flow sampler (default: the model's)")
    steps: int | None = Field(None, ge=1, description="number of sampling steps")
    guidance_scale: float | None = Field(
        None, ge=0, description="classifier-free guidance scale", json_schema_extra={"flag": "--guidance"}
    )
    precision: Literal["32", "bf16"] | None = Field(
        None, description="bf16 runs the UNet in bfloat16 (faster on CPUs with AVX-512 BF16 or AMX)"
    )


class Inpainting(EditRequest):
    """Options of ``genlab inpaint``."""

    mask: str = Field(
        description="mask image (white = fill) or one of left/right/top/bottom/center",
        json_schema_extra={"file": "image", "names": True},
    )
    n: int = Field(8, ge=1, description="number of different fills")
    steps: int | None = Field(50, ge=1, description="number of sampling steps")
    jump_length: int = Field(5, ge=1, description="RePaint: steps per jump back")
    resamples: int = Field(4, ge=1, description="RePaint: times each stretch is sampled")


class ImageToImage(EditRequest):
    """Options of ``genlab img2img``."""

    strength: float = Field(0.6, ge=0, le=1, description="0–1: how far to noise the input before denoising")
    n: int = Field(4, ge=1, description="number of variations")
    eta: float | None = Field(None, ge=0, description="DDIM stochasticity η")


class _EditingPipeline(Pipeline):
    task = TASK
    output_class = ImagesOutput

    model_hint = "editing needs a diffusion or flow model (ddpm, flow)"

    @classmethod
    def model_problem(cls, model) -> str | None:
        return None if hasattr(model, "prepare_sampling") else f"{model.registry_name} cannot edit images"

    def default_filename(self, request: EditRequest) -> str:
        return f"{self.verb}-seed{request.seed}.png"

    def _grid(self, first: torch.Tensor, edited: torch.Tensor, n: int) -> ImagesOutput:
        return ImagesOutput(edited, nrow=min(n + 1, 9), scale=grid_scale(self.model.config.image_size), lead=first)

    def _inputs(self, image: ImageInput, n: int | None, label, seed) -> tuple[torch.Tensor, Any, Any]:
        c = self.model.config
        images = read_image(image, c.image_size, c.channels)
        if n is not None:
            _check_n(n)
            if len(images) not in (1, n):
                raise BadInputError(f"got {len(images)} images for n={n}", "give one image or n images")
            images = images.expand(n, -1, -1, -1)
        labels = self.model.check_labels(None if label is None else torch.as_tensor(label), len(images))
        return images, labels, make_generator(seed)


@register_pipeline("image/inpaint")
class ImageInpaintingPipeline(_EditingPipeline):
    """``pipe(image, mask, n=8, seed=0)``: RePaint inpainting; kept pixels stay exactly those of ``image``."""

    verb = "inpaint"
    description = "fill the masked part of an image (RePaint resampling) with a diffusion or flow model"
    request_class = Inpainting

    def run(self, request: Inpainting) -> ImagesOutput:
        mask = request.mask if request.mask in MASK_SHAPES else Path(request.mask)
        options = request.model_dump(exclude={"image", "mask", "n", "label", "seed"})
        edited = self(Path(request.image), mask, request.n, request.label, request.seed, output_type="pt", **options)
        c = self.model.config
        first = read_image(Path(request.image), c.image_size, c.channels) * (1 - read_mask(mask, c.image_size))
        return self._grid(first, edited, request.n)  # the kept pixels, the region to fill in grey

    def __call__(
        self,
        image: ImageInput,
        mask: ImageInput = "bottom",
        n: int | None = None,
        label: int | list[int] | None = None,
        seed: int | None = None,
        sampler: str | None = None,
        steps: int | None = 50,
        guidance_scale: float | None = None,
        eta: float | None = None,
        jump_length: int = 5,
        resamples: int = 4,
        precision: Precision | None = None,
        output_type: OutputType = "pil",
    ):
        """Fill the white (1) pixels of ``mask``; ``n`` copies of one image give ``n`` different fills.

        Diffusion models default to the ancestral ``ddpm`` sampler, as in RePaint.
        """
        images, labels, g = self._inputs(image, n, label, seed)
        m = read_mask(mask, self.model.config.image_size)
        if sampler is None and self.model.family == "diffusion":
            sampler = "ddpm"
        out = inpaint(
            self.model, images, m, labels, g, jump_length, resamples,
            sampler=sampler, steps=steps, guidance_scale=guidance_scale, eta=eta, precision=precision,
        )  # fmt: skip
        return _output(out, output_type)


@register_pipeline("image/img2img")
class Image2ImagePipeline(_EditingPipeline):
    """``pipe(image, strength=0.6, n=4, seed=0)``: SDEdit; low strength stays close to ``image``."""

    verb = "img2img"
    description = "image-to-image (SDEdit): noise the input to --strength, then denoise it into the model's data"
    request_class = ImageToImage

    def run(self, request: ImageToImage) -> ImagesOutput:
        options = request.model_dump(exclude={"image", "n", "label", "seed"})
        edited = self(
            Path(request.image), n=request.n, label=request.label, seed=request.seed, output_type="pt", **options
        )
        c = self.model.config
        return self._grid(read_image(Path(request.image), c.image_size, c.channels), edited, request.n)

    def __call__(
        self,
        image: ImageInput,
        strength: float = 0.6,
        n: int | None = None,
        label: int | list[int] | None = None,
        seed: int | None = None,
        sampler: str | None = None,
        steps: int | None = None,
        guidance_scale: float | None = None,
        eta: float | None = None,
        precision: Precision | None = None,
        output_type: OutputType = "pil",
    ):
        """Re-imagine ``image`` (a sketch, a noisy or odd image) as the model's data."""
        images, labels, g = self._inputs(image, n, label, seed)
        options = {"sampler": sampler, "steps": steps, "guidance_scale": guidance_scale, "eta": eta}
        options["precision"] = precision
        return _output(img2img(self.model, images, strength, labels, g, **options), output_type)
