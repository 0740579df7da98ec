"""Post-training int8 quantisation of any genlab model, without per-model code.

Which layers: those the model's inference computations use — found by running its export graphs (the decoder of
an image generator, a diffusion model's denoiser, a GPT's logits; :meth:`~genlab.core.model.GenerativeModel.
export_graphs`) with hooks on every layer — so a GAN's discriminator, which sampling never calls, stays float. A
model without export graphs has all its layers of the scheme's types quantised. Layers whose weight is shared with
another module (a language model's output layer tied to its embedding) stay float: quantising one would untie them.

* ``int8-dynamic`` (Linear, LSTM, GRU): nothing to calibrate.
* ``int8-static`` (Conv, ConvTranspose, Linear): the inputs' scales come from a calibration set — the model's own
  samples (``generate``, the path sampling takes, so every layer sees the activations it will see in use). Each
  layer is then timed in float and int8 on one thread on a calibration batch, and stays int8 only where that is
  at least 10 % faster: quantising and dequantising around a layer costs time, and some int8 kernels (transposed
  convolutions with few output channels) are slower than float ones.

The storage of int8 weights and their reload live in :mod:`genlab.core.quantized`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from genlab.core.devices import best_time, cpu_threads
from genlab.core.errors import BadInputError
from genlab.core.quantized import DYNAMIC_TYPES, SCHEMES, STATIC_TYPES, finish_static, make_int8


def inference_layers(model: nn.Module, types: tuple[type[nn.Module], ...]) -> list[str]:
    """Names of the layers of ``types`` the model's export graphs call, in call order (all of them for a model
    without graphs), less those whose weight another module shares."""
    by_module = {m: n for n, m in model.named_modules() if isinstance(m, types) and n}
    try:
        graphs = model.export_graphs() if hasattr(model, "export_graphs") else {}
    except BadInputError:
        graphs = {}
    called: list[str] = []
    if graphs:
        hooks = [m.register_forward_hook(lambda m, i, o: called.append(by_module[m])) for m in by_module]
        try:
            with torch.no_grad():
                for graph in graphs.values():
                    graph.module(*graph.inputs)
        finally:
            for h in hooks:
                h.remove()
    names = list(dict.fromkeys(called)) if graphs else list(by_module.values())
    tied = tied_layers(model)
    return [n for n in names if n not in tied]


def tied_layers(model: nn.Module) -> set[str]:
    """Modules holding a parameter that another module holds too."""
    owners: dict[int, set[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        owners.setdefault(id(p), set()).add(name.rpartition(".")[0])
    return {n for names in owners.values() if len(names) > 1 for n in names}


def quantize(
    model: nn.Module, scheme: str, calibration: int = 256, seed: int = 0, all_layers: bool = False
) -> dict[str, Any]:
    """Quantise ``model`` in place with ``scheme``; returns ``{"layers": those now in int8}`` (and, for
    ``int8-static``, ``"timings"`` of every candidate layer). ``calibration``: samples drawn to calibrate
    ``int8-static``; ``all_layers`` keeps every candidate layer int8 (no timing)."""
    if scheme not in SCHEMES:
        raise BadInputError(f"unknown quantisation '{scheme}'", f"use one of {', '.join(SCHEMES)}")
    name = getattr(model, "registry_name", type(model).__name__)
    if scheme == "int8-static" and not hasattr(model, "generate"):
        raise BadInputError(f"int8-static needs a model that draws images to calibrate on; {name} does not",
                            "use --quantize int8-dynamic (Linear/LSTM/GRU layers) for this model")  # fmt: skip
    types = DYNAMIC_TYPES if scheme == "int8-dynamic" else STATIC_TYPES
    layers = inference_layers(model, types)
    if not layers:
        kinds = ", ".join(t.__name__ for t in types)
        hint = "int8-dynamic covers Linear/LSTM/GRU layers, int8-static Conv/ConvTranspose/Linear"
        raise BadInputError(f"{name} has no {kinds} layer in its inference path to quantise with {scheme}", hint)
    model.eval()
    floats = {n: copy.deepcopy(m) for n, m in model.named_modules() if n in layers}
    make_int8(model, scheme, layers)
    if scheme == "int8-dynamic":
        return {"layers": layers}
    seen: dict[str, torch.Tensor] = {}  # one calibration input per layer, to time it on
    modules = dict(model.named_modules())
    hooks = [modules[n].register_forward_pre_hook(lambda m, args, n=n: seen.__setitem__(n, args[0].detach()))
             for n in layers]  # fmt: skip
    try:
        for _ in _calibrate(model, calibration, seed):
            pass
    finally:
        for h in hooks:
            h.remove()
    finish_static(model)
    return {"layers": layers} if all_layers else keep_faster(model, floats, seen)


def keep_faster(model: nn.Module, floats: dict[str, nn.Module], inputs: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Put the float layer back wherever int8 is not ≥ 10 % faster on one thread (timed on a calibration batch) or
    strays by more than 10 % of the output's mean magnitude; returns the int8 layers and every layer's timings."""
    modules = dict(model.named_modules())
    kept, timings = [], []
    with cpu_threads(1), torch.no_grad():
        for name, layer in floats.items():
            x = inputs[name]
            int8 = modules[name]
            t_float = best_time(lambda f=layer, x=x: f(x), 5)
            t_int8 = best_time(lambda f=int8, x=x: f(x), 5)
            want = layer(x)
            error = float((int8(x) - want).abs().mean() / want.abs().mean().clamp_min(1e-12))
            faster = t_int8 < 0.9 * t_float and error < 0.1
            timings.append({"layer": name, "float_ms": round(1000 * t_float, 3), "int8_ms": round(1000 * t_int8, 3),
                            "relative_error": round(error, 4), "int8": faster})  # fmt: skip
            if faster:
                kept.append(name)
            else:
                parent, _, child = name.rpartition(".")
                setattr(modules[parent] if parent else model, child, layer)
    if not kept:
        name = getattr(model, "registry_name", type(model).__name__)
        raise BadInputError(f"int8-static makes no layer of {name} faster on this CPU; nothing was written",
                            "try --quantize int8-dynamic, or --prune")  # fmt: skip
    model.quantization = {"scheme": "int8-static", "layers": kept}
    return {"layers": kept, "timings": timings}


def _calibrate(model: nn.Module, n: int, seed: int, batch: int = 64) -> Iterable[torch.Tensor]:
    """Draw ``n`` samples through the observed model, in batches (labels cycle through the classes)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for start in range(0, n, batch):
            yield model.generate(min(batch, n - start), generator=g)
