"""``genlab stylize``: apply a style to a photo with a style-transfer run.

``genlab stylize CONTENT [STYLE] [OUT] --model RUN`` (or ``genlab stylize RUN CONTENT [STYLE] [OUT]``):

* a **gatys** run optimises the photo (Gatys et al. 2016) towards STYLE — or the style the run
  stores, when STYLE is omitted — with the run's feature network and settings (``--steps``,
  ``--size``, ``--style-weight`` override them); the output has the optimisation's size;
* a **fast-style** run passes the photo once through its network (Johnson et al. 2016), at the
  photo's size (``--size`` resizes it first). Its style is built in: STYLE must be omitted or be the
  same image; ``--method gatys`` optimises instead, with this run's features and style (or STYLE).

Since arguments are filled in order, naming the output of a fast-style run without giving its style
takes ``--out``: ``genlab stylize photo.jpg --out styled.png --model RUN``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from pydantic import Field

from genlab.core.errors import BadInputError, DataError
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.core.seeding import make_generator
from genlab.image.restoration.photo import PhotoOutput
from genlab.image.style.gatys import GatysSettings, gatys_stylize
from genlab.image.style.images import BUILTIN_PREFIX, as_image, read_image, resize_longest
from genlab.image.style.model import TASK, StyleModel

ImageInput = str | Path | torch.Tensor


class Stylizing(Request):
    """Options of ``genlab stylize``."""

    content: str = Field(
        description="the content photo (PNG, JPEG, WebP, BMP), any size",
        json_schema_extra={"file": "image", "positional": True},
    )
    style: str | None = Field(
        None,
        description="the style image (a file or builtin:NAME); a gatys run needs one unless it stores one, a "
        "fast-style run has its own (omit it, or give the same image)",
        json_schema_extra={"file": "image", "names": True, "positional": True},
    )
    method: Literal["gatys", "fast"] | None = Field(
        None,
        description="gatys: optimise the image; fast: one pass through a fast-style run's network "
        "(default: the run's own method)",
    )
    steps: int | None = Field(None, ge=1, le=10000, description="gatys: optimisation steps (default: the run's)")
    size: int | None = Field(
        None,
        ge=16,
        le=4096,
        description="longest side of the output in pixels; gatys optimises at it (default: the run's, 256), "
        "fast resizes the photo to it (default: the photo's own size)",
    )
    style_weight: float | None = Field(None, ge=0, description="gatys: weight of the style loss (default: the run's)")


def _describe(source: ImageInput) -> str:
    return "the given tensor" if isinstance(source, torch.Tensor) else str(source)


def _read(source: ImageInput, what: str) -> torch.Tensor:
    """An image (3, H, W) in [0, 1] from a path, builtin:NAME or a tensor."""
    return as_image(source, what) if isinstance(source, torch.Tensor) else read_image(source)


@register_pipeline("image/stylize")
class StylizePipeline(Pipeline):
    """``pipe("photo.jpg", "style.jpg")`` → the stylised photo (:class:`PhotoOutput`)."""

    task = TASK
    verb = "stylize"
    description = "apply a style to a photo (Gatys optimisation, or a trained fast-style network)"
    request_class = Stylizing
    output_class = PhotoOutput
    positional_out = True
    model: StyleModel

    def default_filename(self, request: Stylizing) -> str:
        name = request.content[len(BUILTIN_PREFIX) :] if request.content.startswith(BUILTIN_PREFIX) else request.content
        return f"{Path(name).stem}_stylized.png"

    def __call__(
        self,
        content: ImageInput,
        style: ImageInput | None = None,
        method: str | None = None,
        steps: int | None = None,
        size: int | None = None,
        style_weight: float | None = None,
        seed: int | None = None,
    ) -> PhotoOutput:
        model = self.model
        method = method or model.method
        if method == "fast" and model.method != "fast":
            raise BadInputError(
                f"--method fast needs a fast-style run; this is a {model.registry_name} run, which has no trained "
                "network",
                "drop --method fast (a gatys run optimises each photo), or train a network for the style: "
                "genlab train style-transfer --model fast-style --style STYLE --data PHOTOS",
            )
        if method == "fast":
            return self._fast(content, style, steps, size, style_weight)
        return self._gatys(content, style, steps, size, style_weight, seed)

    def _fast(self, content, style, steps, size, style_weight) -> PhotoOutput:
        model = self.model
        given = [flag for flag, v in (("--steps", steps), ("--style-weight", style_weight)) if v is not None]
        if given:
            raise BadInputError(
                f"{' and '.join(given)} apply to --method gatys only",
                "a fast-style network stylises in one pass: drop them, or add --method gatys to optimise instead",
            )
        if style is not None:
            self._check_own_style(style)
        photo = _read(content, "content photo")
        if size is not None:
            photo = resize_longest(photo, size)
        out = model.stylize(photo)
        info = {"method": "fast", "style": model.config.style_image, "size": list(out.shape[-2:])}
        return PhotoOutput(out, info)

    def _check_own_style(self, style: ImageInput) -> None:
        model = self.model
        own = model.config.style_image
        self._check_style_exists(style)
        if not model.style_matches(_read(style, "style image")):
            raise BadInputError(
                f"this fast-style run was trained for the style {own}; {_describe(style)} is another image",
                "a fast-style network applies only its own style: omit STYLE; or add --method gatys to apply "
                f"{_describe(style)} by optimisation with this run's features; or train a network for it: "
                f"genlab train style-transfer --model fast-style --style {_describe(style)} --data PHOTOS",
            )

    def _check_style_exists(self, style: ImageInput) -> None:
        """A missing STYLE file; when the run has its own style, it was likely meant as OUT: say so."""
        if isinstance(style, torch.Tensor) or str(style).startswith(BUILTIN_PREFIX) or Path(style).is_file():
            return
        if self.model.has_style_slot:
            kind = (
                "a fast-style run has its style built in" if self.model.method == "fast" else "this run stores a style"
            )
            hint = (
                f"{kind}: omit STYLE and name the output with --out (genlab stylize CONTENT --out OUT --model RUN); "
                "a second argument is read as STYLE"
            )
        else:
            hint = "check the path"
        raise DataError(f"style image {style} not found", hint)

    def _gatys(self, content, style, steps, size, style_weight, seed) -> PhotoOutput:
        model = self.model
        if style is not None:
            self._check_style_exists(style)
        style_image = _read(style, "style image") if style is not None else model.style_pixels()
        if style_image is None:
            raise BadInputError(
                "missing STYLE: this gatys run stores no style image",
                "give one: genlab stylize CONTENT STYLE [OUT] --model RUN (or train the run with --style IMAGE)",
            )
        photo = _read(content, "content photo")
        settings = model.config if isinstance(model.config, GatysSettings) else GatysSettings()
        result = gatys_stylize(
            model, photo, style_image if style is not None else None, settings, steps=steps, size=size,
            style_weight=style_weight, generator=make_generator(seed), label="stylizing (Gatys optimisation)",
        )  # fmt: skip
        info = {
            "method": "gatys",
            "style": _describe(style) if style is not None else model.config.style_image,
            "steps": steps or settings.steps,
            "size": list(result.image.shape[-2:]),
            "loss": result.final,
        }
        return PhotoOutput(result.image, info)

    def run(self, request: Stylizing) -> PhotoOutput:
        return self(
            request.content, request.style, request.method, request.steps, request.size, request.style_weight,
            request.seed,
        )  # fmt: skip
