"""Running a model on onnxruntime: its exported graphs stand in for the parts they compute.

``onnx_twin(model)`` returns a shallow copy of ``model`` (the same weights, no copy) in which every graph that
declares what it computes (:attr:`~genlab.core.export.ExportGraph.attach`: a method such as ``decode``, or a
submodule such as ``unet``) is replaced by its ONNX file in an onnxruntime session; everything around it — latent
draws, label checks, the diffusion sampler loop, guidance — stays the model's own Python code, so a sample drawn
with the same seed matches the PyTorch one up to the graphs' parity tolerance. The original model is untouched
(a server can answer ``backend=torch`` and ``backend=onnx`` requests from the same loaded model).

The files are exported once per set of weights, into ``$GENLAB_CACHE_DIR/onnx/<sha256 of the weights>``
(default ``~/.cache/genlab``), and reused while that folder's ``export.json`` names the same weights.
"""

from __future__ import annotations

import copy
import os
import threading
import weakref
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genlab.core.errors import BadInputError
from genlab.exporters.onnx import MANIFEST, OnnxGraphRunner, export_onnx, load_manifest

_lock = threading.Lock()
_twins: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loaded model -> its onnx twin


def cache_root() -> Path:
    """``$GENLAB_CACHE_DIR``, else ``~/.cache/genlab``."""
    return Path(os.environ.get("GENLAB_CACHE_DIR") or Path.home() / ".cache" / "genlab")


def cached_export(model: nn.Module) -> Path:
    """The export folder of ``model``'s weights, exported (with the parity check) on first use."""
    sha = getattr(getattr(model, "provenance", None), "raw", {}).get("weights_sha256")
    if not sha:
        raise BadInputError(
            "the onnx backend needs a model loaded from disk (its weights' sha256 names the export)",
            "save the model (save_pretrained) and load it, or export it yourself: genlab export RUN --out DIR",
        )
    folder = cache_root() / "onnx" / sha[:32]
    with _lock:
        if (folder / MANIFEST).is_file():
            manifest = load_manifest(folder)
            files = [folder / g["file"] for g in manifest["graphs"].values()]
            if manifest.get("weights_sha256") == sha and all(f.is_file() for f in files):
                return folder
        export_onnx(model, folder)
    return folder


class OnnxStandIn(nn.Module):
    """One exported graph as a module: tensors in (None ones skipped: an unconditional model's labels), tensors out,
    cast to the dtypes the graph was exported with."""

    def __init__(self, path: Path, spec: dict[str, Any], threads: int | None = None):
        super().__init__()
        self.runner = OnnxGraphRunner(path, threads=threads)
        self.inputs = [(i["name"], getattr(torch, i["dtype"])) for i in spec["inputs"]]
        # an empty parameter on the CPU, where onnxruntime runs: ``model.device`` (its first parameter's device)
        # still answers for a model whose only submodule was replaced
        self.anchor = nn.Parameter(torch.empty(0), requires_grad=False)

    def forward(self, *args: torch.Tensor | None):
        given = [a for a in args if a is not None]
        if len(given) != len(self.inputs):
            raise BadInputError(f"the exported graph takes {len(self.inputs)} inputs, got {len(given)}",
                                "inputs: " + ", ".join(n for n, _ in self.inputs))  # fmt: skip
        feed = {name: x.detach().to("cpu", dtype) for (name, dtype), x in zip(self.inputs, given, strict=True)}
        outputs = [torch.from_numpy(y) for y in self.runner(**feed).values()]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


def onnx_twin(model: nn.Module, threads: int | None = None) -> nn.Module:
    """A copy of ``model`` sharing its weights, with each attachable graph computed by onnxruntime."""
    folder = cached_export(model)
    manifest = load_manifest(folder)
    graphs = model.export_graphs()
    twin = copy.copy(model)
    twin._modules = dict(model._modules)  # replacing a submodule must not touch the original
    attached = 0
    for name, graph in graphs.items():
        if graph.attach is None:
            continue
        stand_in = OnnxStandIn(folder / manifest["graphs"][name]["file"], manifest["graphs"][name], threads)
        if graph.attach in twin._modules:
            twin._modules[graph.attach] = stand_in
        else:
            object.__setattr__(twin, graph.attach, stand_in)  # shadows the method on this instance only
        attached += 1
    if not attached:
        raise BadInputError(f"{model.registry_name} has no graph that can stand in for its PyTorch code",
                            "use the exported files directly (genlab export) or the torch backend")  # fmt: skip
    return twin


def backend_model(model: nn.Module, backend: str) -> nn.Module:
    """The model a pipeline runs for a request's ``backend``: ``model`` itself for ``torch``; for ``onnx`` its twin
    (:func:`onnx_twin`), made once per loaded model and kept while the model lives."""
    if backend == "torch":
        return model
    if backend != "onnx":
        raise BadInputError(f"unknown backend '{backend}'", "use torch or onnx")
    from genlab.core.optional import require

    require("onnxruntime", "export", "--backend onnx")
    twin = _twins.get(model)
    if twin is None:
        twin = _twins[model] = onnx_twin(model)
    return twin
