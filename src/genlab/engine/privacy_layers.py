"""Which parts of a model differentially private training trains, and whether Opacus can give their layers
per-example gradients (DP-SGD clips each example's gradient, so every layer must keep the examples of a batch
apart and expose its parameters to Opacus's hooks). Used by :mod:`genlab.engine.privacy`."""

from __future__ import annotations

from typing import Any, get_args

from torch import nn

from genlab.core.errors import ConfigError


def private_groups(model: Any, requested: list[str] | None = None) -> list[str]:
    """The optimizer groups trained privately: ``requested`` (``train.dp.groups``), or the groups the model
    declares as reading the data (``private_groups``; None: all). Leaving out a group that reads the data is
    refused."""
    names = [s.name for s in model.optimizer_groups()]
    declared = getattr(model, "private_groups", None)
    reading = [g for g in names if declared is None or g in declared]
    if requested is None:
        chosen = reading
    else:
        unknown = [g for g in requested if g not in names]
        if unknown:
            raise ConfigError(
                f"train.dp.groups names {', '.join(unknown)}, which {model_name(model)} does not have",
                f"its optimizer groups are: {', '.join(names)}",
            )
        left_out = [g for g in reading if g not in requested]
        if left_out:
            raise ConfigError(
                f"optimizer group {', '.join(left_out)} of {model_name(model)} reads the training data; "
                "training it without noise would void the privacy guarantee",
                "add it to train.dp.groups, or leave train.dp.groups unset",
            )
        chosen = [g for g in names if g in requested]
    if not chosen:
        raise ConfigError(
            f"{model_name(model)} declares no optimizer group that reads the training data",
            "name the groups to privatise with train.dp.groups",
        )
    return chosen


def group_params(model: Any, groups: list[str]) -> list[nn.Parameter]:
    """The trainable parameters of optimizer groups ``groups``."""
    return [p for s in model.optimizer_groups() if s.name in groups for p in s.params if p.requires_grad]


def private_modules(model: nn.Module, params: list[nn.Parameter]) -> list[tuple[str, nn.Module]]:
    """The top-most submodules of ``model`` (with their names) all of whose parameters are in ``params``."""
    ids = {id(p) for p in params}
    found: list[tuple[str, nn.Module]] = []

    def visit(name: str, module: nn.Module) -> None:
        own = list(module.parameters())
        if own and all(id(p) in ids for p in own):
            found.append((name, module))
            return
        for child, sub in module.named_children():
            visit(f"{name}.{child}" if name else child, sub)

    visit("", model)
    return found


def check_model(model: nn.Module, groups: list[str]) -> None:
    """Refuse, with the reason and what to do, layers of the privatised groups that Opacus cannot give
    per-example gradients for (:meth:`opacus.validators.ModuleValidator.validate` and more)."""
    params = group_params(model, groups)
    scope = private_modules(model, params)
    covered = {id(p) for _, m in scope for p in m.parameters()}
    names = {id(p): n for n, p in model.named_parameters()}
    shared = [names.get(id(p), "?") for p in params if id(p) not in covered]
    if shared:
        raise ConfigError(
            f"{model_name(model)} cannot be trained privately: parameter {shared[0]} of a privatised group "
            "sits in a module together with parameters of a group trained without noise",
            "keep each optimizer group's parameters in modules of their own",
        )
    for name, module in scope:
        offender = _unsupported(name, module)
        if offender is not None:
            where, layer, (why, fix) = offender
            options = _batch_norm_options(model) if isinstance(layer, nn.modules.batchnorm._BatchNorm) else []
            also = f"; {model_name(model)} has the option {', '.join(options)}" if options else ""
            raise ConfigError(
                f"{model_name(model)} cannot be trained with differential privacy: "
                f"{where or 'the model'} is a {type(layer).__name__}. {why}",
                fix + also,
            )


def model_name(model: Any) -> str:
    """The registered name of ``model`` (its class name when it has none)."""
    return model.registry_name or type(model).__name__


def _batch_norm_options(model: Any) -> list[str]:
    """The model's config fields that choose batch normalisation among others (``model.d_norm (auto, batch,
    layer, none)``), to name in a refusal."""
    found = []
    for name, field in type(model.config).model_fields.items():
        choices = [str(c) for c in get_args(field.annotation)]
        if len(choices) > 1 and any(c.lower() in ("batch", "batchnorm", "batch_norm", "bn") for c in choices):
            found.append(f"model.{name} ({', '.join(choices)})")
    return found


def _unsupported(name: str, module: nn.Module) -> tuple[str, nn.Module, tuple[str, str]] | None:
    """The first layer of ``module`` that DP-SGD cannot train: (its name, the layer, (why, what to do))."""
    from opacus.grad_sample import GradSampleModule
    from opacus.validators import ModuleValidator

    was_training = module.training
    module.train()  # the validator refuses modules in eval mode; the trainer trains them in train mode
    try:
        errors = [*ModuleValidator.validate(module, strict=False), *GradSampleModule.validate(module, strict=False)]
    finally:
        module.train(was_training)
    for sub_name, sub in module.named_modules(prefix=name):
        reason = _layer_problem(sub, GradSampleModule.GRAD_SAMPLERS)
        if reason is None and type(sub) in ModuleValidator.VALIDATORS:
            errors = ModuleValidator.VALIDATORS[type(sub)](sub)
            reason = (str(errors[0]), "replace the layer as the message says") if errors else None
        if reason is not None:
            return sub_name, sub, reason
    if errors:  # a check of Opacus's own that no layer above explains
        return name, module, (str(errors[0]), "replace the layers Opacus names, or train without --dp-epsilon")
    return None


def _layer_problem(layer: nn.Module, samplers: dict) -> tuple[str, str] | None:
    """Why one layer breaks DP-SGD, and what to do, in the user's words (None: it does not)."""
    own = [p for p in layer.parameters(recurse=False) if p.requires_grad]
    if isinstance(layer, nn.modules.batchnorm._BatchNorm):
        return (
            "BatchNorm mixes the examples of a batch (each one is normalised with its batch's mean and "
            "variance), so per-example gradients are undefined, and its running statistics would carry the "
            "data out without noise.",
            "use a model or model option without batch normalisation: GroupNorm, LayerNorm or InstanceNorm "
            "without running statistics keep examples apart (opacus.validators.ModuleValidator.fix swaps "
            "BatchNorm for GroupNorm)",
        )
    if isinstance(layer, nn.modules.instancenorm._InstanceNorm) and layer.track_running_stats:
        return (
            "Its running statistics are updated from the data without noise.",
            "build it with track_running_stats=False",
        )
    if isinstance(layer, (nn.LSTM, nn.GRU, nn.RNN)):
        return (
            "torch's fused recurrent layers hide their per-step weight use from per-example gradient hooks.",
            "build the model with opacus.layers.DPLSTM, DPGRU or DPRNN (drop-in replacements)",
        )
    if isinstance(layer, nn.MultiheadAttention):
        return (
            "Its fused projection hides per-example gradients from the hooks.",
            "build the model with opacus.layers.DPMultiheadAttention (a drop-in replacement)",
        )
    if own and list(layer.buffers(recurse=False)):
        return (
            "It is a trainable layer with buffers; a buffer updated from the data would be released without noise.",
            "keep buffers out of trainable layers, or make the layer's state a constant",
        )
    if own and type(layer) not in samplers and type(layer).forward is nn.Module.forward:
        return (
            f"Its parameters ({', '.join(n for n, p in layer.named_parameters(recurse=False))}) are used outside "
            "a forward call, where per-example gradient hooks cannot see them.",
            "hold them in a layer that is called (nn.Linear, nn.Embedding, or a small nn.Module with a forward)",
        )
    return None
