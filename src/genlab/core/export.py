"""The export contract: what part of a model can leave PyTorch, as a graph with named inputs and outputs.

A model lists its exportable computations in :meth:`GenerativeModel.export_graphs
<genlab.core.model.GenerativeModel.export_graphs>` — an image generator its decoder (latent [+ label] -> images),
a diffusion model its denoiser (noisy images, time [+ label] -> prediction), a GPT its logits and its one-step
decoder with past keys and values as inputs and outputs. Each :class:`ExportGraph` carries a module that computes
exactly that, example inputs, the names of inputs and outputs and which axes may change size. The writers in
:mod:`genlab.exporters` turn graphs into files (ONNX) and check them against PyTorch; nothing here imports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from genlab.core.errors import BadInputError

#: What a model family must offer to be exported, for the message of models that offer nothing.
EXPORTABLE = (
    "image generators with a latent decoder (GANs, VAEs), diffusion/flow denoisers, GPT language models, "
    "audio GANs (WaveGAN, SpecGAN) and mel vocoders (Vocos)"
)


@dataclass
class ExportGraph:
    """One computation of a model to export.

    ``module(*inputs)`` returns a tensor or a tuple of tensors named ``output_names``; ``dynamic_axes`` maps an
    input or output name to ``{axis: symbolic name}`` for the axes that may change size (the batch, a sequence).
    ``tolerance`` is the largest absolute difference from PyTorch a faithful export may show on these inputs.
    """

    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]] = field(default_factory=dict)
    description: str = ""
    tolerance: float = 1e-4
    #: The model attribute this graph computes (a method such as ``decode`` or a submodule such as ``unet``), so an
    #: exported file can stand in for it at inference (:func:`genlab.exporters.onnx_twin`); None: not replaceable.
    attach: str | None = None

    def __post_init__(self) -> None:
        if len(self.inputs) != len(self.input_names):
            raise ValueError(f"{len(self.inputs)} example inputs but {len(self.input_names)} input names")


def not_exportable(model: nn.Module, why: str = "") -> BadInputError:
    """The error for a model with nothing to export: which model, why, and what can be exported."""
    name = getattr(model, "registry_name", type(model).__name__)
    return BadInputError(f"{name} cannot be exported" + (f": {why}" if why else ""), f"exportable: {EXPORTABLE}")


class Bound(nn.Module):
    """A bound method of a model as a module (``Bound(model, "decode")(z, labels) == model.decode(z, labels)``),
    so an exporter sees the model's parameters."""

    def __init__(self, model: nn.Module, method: str):
        super().__init__()
        self.model, self.method = model, method

    def forward(self, *args: torch.Tensor):
        return getattr(self.model, self.method)(*args)
