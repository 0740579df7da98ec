"""``genlab inpaint-image``: fill the white part of a mask in a photo of any size with an inpainting model.

``genlab inpaint-image photo.png mask.png filled.png --model RUN`` (or ``genlab inpaint-image RUN photo.png
mask.png filled.png``); in Python ``genlab.load(run)("photo.png", "mask.png").save("filled.png")``. The
mask is an image of the photo's size: white (above mid-grey) = fill, black = keep. The photo is read at
full size (EXIF-rotated), filled tile by tile, and saved at full size as a
:class:`~genlab.image.restoration.photo.PhotoOutput`; its known pixels are kept exactly. (``genlab
inpaint`` is the diffusion models' RePaint verb.)
"""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import Field

from genlab.core.errors import BadInputError, DataError
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.image.inpainting.model import TASK
from genlab.image.restoration.data import read_photo
from genlab.image.restoration.photo import PhotoOutput, photo_input, restore_photo

ImageInput = str | Path | torch.Tensor


class InpaintImage(Request):
    """Options of ``genlab inpaint-image``."""

    image: str = Field(
        description="input photo (PNG, JPEG, WebP, BMP), any size",
        json_schema_extra={"file": "image", "positional": True},
    )
    mask: str = Field(
        description="mask image of the photo's size: white = fill, black = keep",
        json_schema_extra={"file": "image", "positional": True},
    )
    tile: int = Field(
        512, ge=16, le=4096, description="pixels per tile: bounds memory on large photos (tiles overlap by the "
        "model's receptive radius, so larger tiles waste less work)",
    )  # fmt: skip


def read_mask(mask: ImageInput) -> torch.Tensor:
    """A mask (1, H, W) of 0 (keep) and 1 (fill) from an image file (white = fill) or a tensor ((H, W),
    (1, H, W) or (1, 1, H, W); values above 0.5 are filled)."""
    if isinstance(mask, torch.Tensor):
        m = mask.detach().float()
        if m.dim() == 4 and m.shape[0] == 1:
            m = m[0]
        if m.dim() == 2:
            m = m.unsqueeze(0)
        if m.dim() != 3 or m.shape[0] != 1:
            raise BadInputError(f"expected a mask tensor (H, W) or (1, H, W), got {tuple(mask.shape)}")
    else:
        if not Path(mask).is_file():
            raise DataError(f"mask {mask} not found", "give a mask image of the photo's size (white = fill)")
        m = read_photo(mask, "gray")
    return (m > 0.5).float()


@register_pipeline("image/inpaint-image")
class InpaintingPipeline(Pipeline):
    """``pipe("photo.png", "mask.png")`` → the photo with the white part of the mask filled (:class:`PhotoOutput`)."""

    task = TASK
    verb = "inpaint-image"
    description = "fill the white part of a mask in a photo with an inpainting model (any size: processed in tiles)"
    request_class = InpaintImage
    output_class = PhotoOutput
    positional_out = True

    def default_filename(self, request: InpaintImage) -> str:
        return f"{Path(request.image).stem}_filled.png"

    def __call__(self, image: ImageInput, mask: ImageInput, tile: int = 512) -> PhotoOutput:
        photo, holes = photo_input(image), read_mask(mask)
        (h, w), (mh, mw) = photo.shape[-2:], holes.shape[-2:]
        if (mh, mw) != (h, w):
            raise BadInputError(
                f"mask is {mw}×{mh} but the image is {w}×{h}",
                f"resize the mask to {w}×{h} (white = fill, black = keep)",
            )
        model = self.model
        batch_mask = holes.unsqueeze(0)
        out = restore_photo(photo, model.config.color, 1, lambda x: model.restore(x, batch_mask, tile=tile))
        # known pixels exactly as read (a gray photo through an RGB model comes back as a channel mean)
        out = photo * (1 - holes) + out * holes
        info = {"size": [h, w], "filled_fraction": round(float(holes.mean()), 4)}
        return PhotoOutput(out, info)

    def run(self, request: InpaintImage) -> PhotoOutput:
        return self(request.image, request.mask, request.tile)
