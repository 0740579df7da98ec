"""Input attributions of any differentiable score, through Captum (the ``explain`` extra).

``attribute(fn, inputs, method)`` explains a scalar score per example, ``fn(inputs) -> (B,)`` (a classifier's
logit of one class, a GAN discriminator's realness score, a language model's logit of the next token), by how
much each input element contributes:

* ``integrated-gradients`` — the path integral of the gradient from a baseline to the input (Sundararajan et al.
  2017, "Axiomatic Attribution for Deep Networks"); *complete*: the attributions of an example sum to
  ``fn(x) − fn(baseline)``, and the gap left by the finite Riemann sum is returned as ``delta``;
* ``saliency`` — the absolute gradient at the input (Simonyan et al. 2014);
* ``occlusion`` — the drop in the score when a sliding window of the input is replaced by the baseline
  (Zeiler & Fergus 2014); no gradients, so it also explains models whose gradients are not meaningful.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from genlab.core.errors import BadInputError
from genlab.core.optional import require

METHODS = ("integrated-gradients", "saliency", "occlusion")


@dataclass
class Attribution:
    """``values``: one attribution per input element (the inputs' shape); ``delta``: per example, the
    integrated-gradients completeness gap ``sum(values) − (fn(x) − fn(baseline))`` (None for other methods)."""

    values: torch.Tensor
    method: str
    delta: torch.Tensor | None = None


def attribute(
    fn: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    method: str = "integrated-gradients",
    baseline: torch.Tensor | float = 0.0,
    steps: int = 64,
    window: int | None = None,
) -> Attribution:
    """Attributions of ``fn``'s score (B,) to ``inputs`` (B, ...). ``baseline``: the reference input (a tensor of
    the inputs' shape or a constant); ``steps``: integration steps; ``window``: occlusion's square window on the
    last two axes (default: a quarter of the height)."""
    if method not in METHODS:
        raise BadInputError(f"unknown attribution method '{method}'", f"use one of {', '.join(METHODS)}")
    attr = require("captum.attr", "explain", "input attributions")
    inputs = inputs.detach().float()
    if method == "integrated-gradients":
        values, delta = attr.IntegratedGradients(fn).attribute(
            inputs, baselines=baseline, n_steps=steps, method="gausslegendre", return_convergence_delta=True
        )
        return Attribution(values.detach(), method, delta.detach())
    if method == "saliency":
        return Attribution(attr.Saliency(fn).attribute(inputs.clone().requires_grad_(True), abs=True).detach(), method)
    if inputs.ndim < 3:
        raise BadInputError("occlusion slides a window over the last two axes", "use it on images (N, C, H, W)")
    w = window or max(1, inputs.shape[-2] // 4)
    shape = (*inputs.shape[1:-2], w, w)
    strides = (*inputs.shape[1:-2], max(1, w // 2), max(1, w // 2))
    values = attr.Occlusion(fn).attribute(inputs, sliding_window_shapes=shape, strides=strides, baselines=baseline)
    return Attribution(values.detach(), method)
