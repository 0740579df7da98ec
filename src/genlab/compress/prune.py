"""Pruning: zero the least important weights of the inference layers, then fine-tune with them held at zero.

* ``magnitude`` — unstructured, global: the fraction ``amount`` of the weights with the smallest absolute value
  across all pruned layers (Han et al. 2015, "Learning both Weights and Connections for Efficient Neural
  Networks").
* ``structured`` — whole output channels (filters, or a linear layer's output units) with the smallest L2 norm,
  ``amount`` of each layer's channels (Li et al. 2017, "Pruning Filters for Efficient ConvNets"). The last
  layer of the inference path, whose channels are the output itself (image channels, vocabulary), is kept.

Pruned weights are held at zero through the fine-tune by re-applying the masks after every optimizer step
(:class:`MaskCallback`). Zeros make the weights file compress well (the report gives its zipped size); they do not
make a dense layer faster — channels are zeroed, not removed, so that any architecture can be pruned.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import nn

from genlab.core.errors import BadInputError

METHODS = ("magnitude", "structured")
TYPES = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.Linear)


def prune_masks(
    model: nn.Module, layers: list[str], amount: float, method: str = "magnitude"
) -> dict[str, torch.Tensor]:
    """Masks (parameter name → bool tensor, True = kept) pruning ``amount`` (0 < amount < 1) of ``layers``."""
    if not 0 < amount < 1:
        raise BadInputError(f"--prune {amount:g} is not a fraction between 0 and 1", "e.g. --prune 0.5")
    if method not in METHODS:
        raise BadInputError(f"unknown pruning method '{method}'", f"use one of {', '.join(METHODS)}")
    modules = dict(model.named_modules())
    if method == "magnitude":
        weights = {f"{n}.weight": modules[n].weight.detach() for n in layers}
        scores = torch.cat([w.abs().flatten() for w in weights.values()])
        k = int(amount * scores.numel())
        if k == 0:
            return {name: torch.ones_like(w, dtype=torch.bool) for name, w in weights.items()}
        threshold = scores.kthvalue(k).values
        return {name: w.abs() > threshold for name, w in weights.items()}
    masks = {}
    for n in layers[:-1]:  # the last layer's channels are the model's outputs
        layer = modules[n]
        axis = 1 if isinstance(layer, (nn.ConvTranspose1d, nn.ConvTranspose2d)) else 0
        w = layer.weight.detach()
        norms = w.transpose(0, axis).flatten(1).norm(dim=1)
        drop = norms.argsort()[: int(amount * len(norms))]
        keep = torch.ones(len(norms), dtype=torch.bool)
        keep[drop] = False
        shape = [1] * w.ndim
        shape[axis] = -1
        masks[f"{n}.weight"] = keep.view(shape).expand_as(w).clone()
        if layer.bias is not None:
            masks[f"{n}.bias"] = keep.clone()
    return masks


def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Zero the pruned entries of ``model``'s parameters, in place."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, mask in masks.items():
            params[name].mul_(mask.to(params[name].device))


def sparsity(model: nn.Module, masks: dict[str, torch.Tensor]) -> float:
    """Fraction of the masked parameters' entries that are zero."""
    params = dict(model.named_parameters())
    total = sum(params[n].numel() for n in masks)
    zeros = sum(int((params[n] == 0).sum()) for n in masks)
    return zeros / max(total, 1)


class MaskCallback(L.Callback):
    """Holds pruned weights at zero while a run fine-tunes: masks applied at the start and after every step."""

    def __init__(self, masks: dict[str, torch.Tensor]):
        self.masks = masks

    def on_train_start(self, trainer, module) -> None:
        apply_masks(module.model, self.masks)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        apply_masks(module.model, self.masks)
