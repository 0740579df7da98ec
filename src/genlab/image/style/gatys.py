"""Style transfer by optimisation (Gatys et al. 2016), and ``image/gatys``: the model with nothing to train.

Gatys et al. synthesise the output image x directly: starting from the content photo (or noise),
they minimise α·L_content(x) + β·L_style(x) — the distance between x's activations and the content
photo's at one layer, and between x's Gram matrices and the style image's at several layers
(:mod:`~genlab.image.style.loss`) — by gradient descent on the pixels with L-BFGS. Here a
total-variation term is added (weight ``tv_weight``) and Adam is offered besides L-BFGS. Each image
costs ``steps`` forward and backward passes through the feature network, so the optimisation runs at
a small ``size`` (the longest side, default 256 px; smaller photos are not enlarged) and the output
has that size. The style image is brought to the same longest side, so that both are seen at the
same scale.

``image/gatys`` is registered so that a run can hold the settings: ``genlab train style-transfer
--model gatys --style s.jpg`` fits nothing (``fits_in_closed_form``; ``fit`` returns ``{}``) and
stores the style image, the feature-network choice and the optimisation settings; ``genlab stylize
CONTENT [STYLE] OUT --model RUN`` then optimises each photo (another STYLE may be given per call).

Reading order: :func:`optimise`, :func:`gatys_stylize`, :class:`Gatys`.

References:
    L. A. Gatys, A. S. Ecker, M. Bethge, "Image Style Transfer Using Convolutional Neural Networks",
    CVPR 2016.
    D. C. Liu, J. Nocedal, "On the limited memory BFGS method for large scale optimization",
    Mathematical Programming 45, 1989.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field

from genlab.core.config import Config
from genlab.core.console import console, info, is_rank_zero
from genlab.core.errors import BadInputError, GenlabError
from genlab.core.model import OptimizerSpec, register_model
from genlab.image.style.images import longest_side_shape, resize
from genlab.image.style.loss import PerceptualLoss
from genlab.image.style.model import StyleConfig, StyleModel

PROGRESS_SECONDS = 10.0  # how often a log (not a terminal) gets a progress line


class GatysSettings(Config):
    """The optimisation settings (part of :class:`GatysConfig`; a fast-style run uses the defaults)."""

    steps: int = Field(200, ge=1, le=10000, description="optimisation steps (L-BFGS iterations or Adam steps)")
    size: int = Field(256, ge=16, le=4096, description="longest side (pixels) the optimisation and the output run at")
    optimizer: Literal["lbfgs", "adam"] = Field("lbfgs", description="lbfgs (as Gatys et al.) or adam")
    lr: float | None = Field(
        None, gt=0, le=10, description="step size; default 1 for L-BFGS, 0.02 for Adam (pixels in [0, 1])"
    )
    init: Literal["content", "noise"] = Field(
        "content", description="start from the content photo (deterministic) or from uniform noise (seeded)"
    )


class GatysConfig(GatysSettings, StyleConfig):
    """``image/gatys``: the feature network, loss weights, optional stored style and the optimisation settings."""


@dataclass
class GatysResult:
    """The stylised image (3, H, W) in [0, 1], the total loss before every step, and the final loss terms."""

    image: torch.Tensor
    losses: list[float]
    final: dict[str, float] = field(default_factory=dict)


@contextmanager
def progress(label: str | None, total: int) -> Iterator[Callable[[], None]]:
    """Yield ``advance()``: a transient bar on a terminal, a line every few seconds in a log, or nothing."""
    if label is None or not is_rank_zero():
        yield lambda: None
        return
    if console.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(label, total=total)
            yield lambda: bar.advance(task)
        return
    start = last = time.monotonic()
    done = 0

    def advance() -> None:
        nonlocal done, last
        done, now = done + 1, time.monotonic()
        if now - last >= PROGRESS_SECONDS and done < total:
            last = now
            info(f"{label}: {done}/{total} loss evaluations [{now - start:.0f}s]")

    yield advance


def optimise(
    loss_fn: PerceptualLoss,
    content: torch.Tensor,
    steps: int,
    optimizer: str = "lbfgs",
    lr: float | None = None,
    init: str = "content",
    generator: torch.Generator | None = None,
    label: str | None = None,
) -> GatysResult:
    """Optimise an image (3, H, W) to match ``content``'s features and ``loss_fn``'s style (Gatys et al. 2016).

    L-BFGS runs ``steps`` iterations with a strong-Wolfe line search (at most 5/4 · ``steps`` loss
    evaluations; it stops earlier when the loss stops changing); the pixels are left unclamped while it
    runs, since clamping between iterations would corrupt its curvature history. Adam takes ``steps``
    steps and clamps the pixels to [0, 1] after each. The result is clamped. ``label``: show progress
    under that name (one tick per loss evaluation).
    """
    device = content.device
    target = loss_fn.content_targets(content.unsqueeze(0))
    if init == "noise":
        start = torch.rand(content.shape, generator=generator).to(device)
    else:
        start = content.detach().clone(memory_format=torch.contiguous_format)
    x = start.unsqueeze(0).requires_grad_(True)
    evaluations = steps * 5 // 4 if optimizer == "lbfgs" else steps
    if optimizer == "lbfgs":
        opt: torch.optim.Optimizer = torch.optim.LBFGS(
            [x], lr=lr or 1.0, max_iter=steps, max_eval=evaluations, history_size=50, line_search_fn="strong_wolfe"
        )
    else:
        opt = torch.optim.Adam([x], lr=lr or 0.02)
    losses: list[float] = []

    with progress(label, evaluations) as advance:

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = loss_fn(x, target)["loss"]
            loss.backward()
            losses.append(float(loss.detach()))
            advance()
            return loss

        if optimizer == "lbfgs":
            opt.step(closure)
        else:
            for _ in range(steps):
                opt.step(closure)
                with torch.no_grad():
                    x.clamp_(0, 1)
    image = x.detach()[0].clamp(0, 1)
    with torch.no_grad():
        final = {k: float(v) for k, v in loss_fn(image.unsqueeze(0), target).items()}  # of the clamped image
    return GatysResult(image, losses, final)


def gatys_stylize(
    model: StyleModel,
    content: torch.Tensor,
    style: torch.Tensor | None = None,
    settings: GatysSettings | None = None,
    *,
    steps: int | None = None,
    size: int | None = None,
    style_weight: float | None = None,
    generator: torch.Generator | None = None,
    label: str | None = None,
) -> GatysResult:
    """Stylise ``content`` (3, H, W) in [0, 1] with ``style`` (default: the model's stored style) using the
    model's feature network and loss weights and ``settings`` (default: the model's config when it has
    them, else :class:`GatysSettings`' defaults); ``steps``, ``size`` and ``style_weight`` override them."""
    s = settings or (model.config if isinstance(model.config, GatysSettings) else GatysSettings())
    steps, size = steps or s.steps, size or s.size
    use_stored = style is None
    if style is None:
        style = model.style_pixels()
    if style is None:
        raise BadInputError(
            f"no style image: this {model.registry_name} model stores none", "give one (a STYLE argument)"
        )
    device = model.device
    shape = longest_side_shape(tuple(content.shape[-2:]), size, enlarge=False)
    work = resize(content.float(), shape).to(device)
    style_shape = longest_side_shape(tuple(style.shape[-2:]), max(shape), enlarge=False)
    style_work = resize(style.float(), style_shape).to(device)
    if use_stored and style_weight is None and style_shape == tuple(style.shape[-2:]):
        loss_fn = model.perceptual_loss(device)
    else:
        loss_fn = model.perceptual_loss(device, style_work, style_weight)
    return optimise(loss_fn, work, steps, s.optimizer, s.lr, s.init, generator, label)


@register_model("image/gatys")
class Gatys(StyleModel):
    """Style transfer by optimising each image (Gatys et al. 2016); nothing to train, the run holds the settings."""

    config_class = GatysConfig
    config: GatysConfig
    description: ClassVar[str] = (
        "Gatys et al. 2016: optimise each output image to match content features and style Gram matrices "
        "(nothing to train; slow per image)"
    )
    method: ClassVar[str] = "gatys"
    fits_in_closed_form: ClassVar[bool] = True

    def fit(self, train_dataset: Any, val_dataset: Any | None = None) -> dict[str, float]:
        """Nothing to learn: the optimisation runs per image, when stylising."""
        return {}

    def optimizer_groups(self) -> list[OptimizerSpec]:
        raise GenlabError(f"{self.registry_name} has no parameters: it optimises each image when stylising")

    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor | None = None,
        *,
        steps: int | None = None,
        size: int | None = None,
        style_weight: float | None = None,
        generator: torch.Generator | None = None,
        label: str | None = None,
    ) -> GatysResult:
        """``content`` (3, H, W) in [0, 1] stylised with ``style`` (default: the stored one): :func:`gatys_stylize`."""
        return gatys_stylize(
            self, content, style, steps=steps, size=size, style_weight=style_weight, generator=generator, label=label
        )
