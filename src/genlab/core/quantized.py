"""int8 models on disk and back: which layers of a model compute in int8, their int8 weights as plain tensors in
``model.safetensors``, and the same int8 model rebuilt when it is loaded (no unpickling).

Two schemes, both PyTorch's eager ``torch.ao`` quantisation on its x86 kernels:

* ``int8-dynamic`` — ``Linear``, ``LSTM`` and ``GRU`` layers hold int8 weights (per tensor, symmetric); each call
  quantises its input on the fly from that input's own range (Jacob et al. 2018, "Quantization and Training of
  Neural Networks for Efficient Integer-Arithmetic-Only Inference"; PyTorch's dynamic quantisation).
* ``int8-static`` — each ``Conv``/``ConvTranspose``/``Linear`` layer is wrapped: its input is quantised with a
  scale and zero point calibrated beforehand on representative data (histogram observer), the layer runs on int8
  weights (per output channel; per tensor for transposed convolutions) and its output is dequantised. Layers
  between them (normalisation, activations) stay float, so any architecture can be quantised layer by layer, and
  a layer that int8 does not speed up can stay float (:mod:`genlab.compress.quantize` measures which).

``config.json`` records ``"quantization": {"scheme": …, "layers": [names]}``. In the weights file an int8 tensor
``K`` is stored as ``K.int8`` (its integers), ``K.scales`` and ``K.zero_points`` (one per channel, or one) and
``K.axis`` (the channel axis, −1 per tensor); a packed linear layer's ``(weight, bias)`` as ``…weight``/``…bias``
entries. PyTorch packs an int8 LSTM/GRU in objects that are not tensors: those layers keep their float weights
in the file and are quantised again on load, which is deterministic.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

import torch
from torch import nn

from genlab.core.errors import BadInputError, CheckpointError

SCHEMES = ("int8-dynamic", "int8-static")
DYNAMIC_TYPES = (nn.Linear, nn.LSTM, nn.GRU)
STATIC_TYPES = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.Linear)
_PACKED = "_packed_params._packed_params"
_ENGINE = "x86"


@contextlib.contextmanager
def quiet_ao():
    """``torch.ao.quantization`` announces its move to torchao on every call; the eager API still works here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize.*deprecated.*")
        warnings.filterwarnings("ignore", message=".*must run observer before calling calculate_qparams.*")
        warnings.filterwarnings("ignore", message=".*reduce_range will be deprecated.*")
        yield


def _ao():
    with quiet_ao():
        import torch.ao.quantization as tq
    if _ENGINE in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = _ENGINE
    return tq


def make_int8(model: nn.Module, scheme: str, layers: list[str]) -> nn.Module:
    """Give ``model`` (in place) the int8 structure of ``scheme`` on ``layers`` (qualified module names). Dynamic:
    done. Static: the layers are wrapped and observed; run calibration data through the model, then
    :func:`finish_static`. The float weights of recurrent layers are kept on the model for saving."""
    tq = _ao()
    modules = dict(model.named_modules())
    missing = [n for n in layers if n not in modules]
    if missing:
        raise CheckpointError(f"the model has no layers named {missing[:5]}", "the quantisation record does not fit")
    if scheme == "int8-dynamic":
        recurrent = {n: {k: v.detach().clone() for k, v in modules[n].state_dict().items()} for n in layers
                     if isinstance(modules[n], (nn.LSTM, nn.GRU))}  # fmt: skip
        with quiet_ao():
            tq.quantize_dynamic(model, {n: tq.default_dynamic_qconfig for n in layers}, dtype=torch.qint8, inplace=True)
        object.__setattr__(model, "_int8_recurrent", recurrent)
    elif scheme == "int8-static":
        for name in layers:
            parent_name, _, child = name.rpartition(".")
            parent = modules[parent_name] if parent_name else model
            layer = modules[name]
            wrapper = tq.QuantWrapper(layer)
            weight = (
                # per tensor and affine: no per-channel int8 transposed convolution exists, and the symmetric one
                # (oneDNN's kernel) computes wrong outputs whenever input and output channels differ
                tq.MinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_tensor_affine)
                if isinstance(layer, (nn.ConvTranspose1d, nn.ConvTranspose2d))
                else tq.default_per_channel_weight_observer
            )
            wrapper.qconfig = tq.QConfig(activation=tq.HistogramObserver.with_args(reduce_range=True), weight=weight)
            setattr(parent, child, wrapper)
        with quiet_ao():
            tq.prepare(model, inplace=True)
    else:
        raise BadInputError(f"unknown quantisation scheme '{scheme}'", f"schemes: {', '.join(SCHEMES)}")
    object.__setattr__(model, "quantization", {"scheme": scheme, "layers": list(layers)})
    return model


def finish_static(model: nn.Module) -> nn.Module:
    """Convert a calibrated ``int8-static`` model (observers → int8 layers), in place."""
    tq = _ao()
    with quiet_ao():
        tq.convert(model, inplace=True)
    return model


def int8_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weights of an int8 model as plain tensors (see the module docstring)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        if key.endswith(_PACKED):
            weight, bias = value
            base = key[: -len(_PACKED)]
            _put(out, base + "weight", weight)
            if bias is not None:
                out[base + "bias"] = bias.detach().contiguous()
        elif isinstance(value, torch.Tensor):
            _put(out, key, value)
        # dtype records and packed recurrent weights are rebuilt from the quantisation record
    for layer, params in getattr(model, "_int8_recurrent", {}).items():
        out |= {f"{layer}.{k}": v.contiguous() for k, v in params.items()}
    return out


def _put(out: dict[str, torch.Tensor], key: str, t: torch.Tensor) -> None:
    if not t.is_quantized:
        out[key] = t.detach().contiguous()
        return
    out[key + ".int8"] = t.int_repr().contiguous()
    if t.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
        out[key + ".scales"] = t.q_per_channel_scales().double().contiguous()
        out[key + ".zero_points"] = t.q_per_channel_zero_points().long().contiguous()
        out[key + ".axis"] = torch.tensor(t.q_per_channel_axis())
    else:
        out[key + ".scales"] = torch.tensor([t.q_scale()], dtype=torch.float64)
        out[key + ".zero_points"] = torch.tensor([t.q_zero_point()])
        out[key + ".axis"] = torch.tensor(-1)


def _take(state: dict[str, torch.Tensor], key: str) -> torch.Tensor:
    if key in state:
        return state[key]
    ints, scales, zps, axis = (state[key + s] for s in (".int8", ".scales", ".zero_points", ".axis"))
    if int(axis) < 0:
        return torch._make_per_tensor_quantized_tensor(ints, float(scales[0]), int(zps[0]))
    return torch._make_per_channel_quantized_tensor(ints, scales, zps, int(axis))


def load_int8(model: nn.Module, record: dict[str, Any], state: dict[str, torch.Tensor]) -> nn.Module:
    """Rebuild the int8 model of ``record`` on a freshly built float ``model`` from the weights file ``state``."""
    scheme, layers = record.get("scheme"), list(record.get("layers", []))
    if scheme not in SCHEMES:
        raise CheckpointError(f"unknown quantisation scheme {scheme!r} in config.json", f"known: {', '.join(SCHEMES)}")
    modules = dict(model.named_modules())
    for name in layers:  # recurrent layers: their float weights first, quantised again below
        if isinstance(modules.get(name), (nn.LSTM, nn.GRU)):
            modules[name].load_state_dict({k: state[f"{name}.{k}"] for k in modules[name].state_dict()})
    make_int8(model, scheme, layers)
    if scheme == "int8-static":
        finish_static(model)
    done: list[str] = []  # int8 layers set as a whole (their packed-weight submodule with them)
    try:
        with torch.no_grad():
            for name, module in model.named_modules():
                prefix = name + "." if name else ""
                if not any(prefix.startswith(d) for d in done) and _load_module(module, prefix, state):
                    done.append(prefix)
    except KeyError as e:
        hint = "the weights file does not fit its config.json"
        raise CheckpointError(f"the int8 weights have no entry {e}", hint) from None
    return model


def _load_module(module: nn.Module, prefix: str, state: dict[str, torch.Tensor]) -> bool:
    """Set one module's own weights from ``state``: an int8 layer's packed weights and output scale, else its float
    parameters and buffers (an int8 recurrent layer has none: it was quantised from its float weights). True for an
    int8 layer."""
    if hasattr(module, "_all_weight_values"):  # an int8 LSTM/GRU: quantised from its float weights already
        return True
    if hasattr(module, "set_weight_bias"):
        module.set_weight_bias(_take(state, prefix + "weight"), state.get(prefix + "bias"))
        if isinstance(getattr(module, "scale", None), float):  # a static layer's output quantisation
            module.scale, module.zero_point = float(state[prefix + "scale"]), int(state[prefix + "zero_point"])
        return True
    for key, tensor in [*module._parameters.items(), *module._buffers.items()]:
        if tensor is None or key in module._non_persistent_buffers_set:
            continue
        value = _take(state, prefix + key)
        if value.shape != tensor.shape:
            raise CheckpointError(f"{prefix + key} is {tuple(value.shape)} in the file, {tuple(tensor.shape)} here")
        tensor.copy_(value)
    return False
