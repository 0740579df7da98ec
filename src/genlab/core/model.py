"""The model contract shared by every modality.

A genlab model is an ``nn.Module`` built from its pydantic config that
(a) computes its training losses for a batch, per optimizer group,
(b) generates modality-native outputs, and
(c) saves and loads itself through the checkpoint contract.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from genlab.core import checkpoint
from genlab.core.config import Config
from genlab.core.errors import CheckpointError
from genlab.core.export import ExportGraph, not_exportable
from genlab.core.provenance import Provenance
from genlab.core.registry import MODELS


class ModelConfig(Config):
    """Base config of a model; subclasses add their hyper-parameters."""


@contextmanager
def evaluating(module: nn.Module) -> Iterator[None]:
    """Run ``module`` in eval mode (BatchNorm running statistics, no dropout), restoring its mode after."""
    was = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was)


def cosine_factor(step: int, total: int) -> float:
    """Cosine decay from 1 to 0 over ``total`` steps: ``½(1 + cos(π·min(step, total)/total))`` (the ``"cosine"``
    schedule of :class:`OptimizerSpec`)."""
    return 0.5 * (1 + math.cos(math.pi * min(step, total) / total))


@dataclass
class OptimizerSpec:
    """One parameter group with its own optimizer.

    ``every``: step this optimizer on every ``every``-th training batch
    (WGAN-GP's generator uses ``every=n_critic``).
    ``schedule``: the learning rate over the run. ``"constant"`` keeps ``lr``; ``"cosine"`` decays it
    to 0 as ``lr · ½(1 + cos(π·min(s, S)/S))`` after ``s`` of this optimizer's ``S`` steps in the run
    (``train.max_steps`` or ``train.max_epochs``; with only ``train.max_minutes``, over the clock).
    ``warmup_steps``: the rate first rises linearly, ``× min(1, (s + 1)/warmup_steps)`` on top of the
    schedule (Transformers' warm-up, Vaswani et al. 2017, §5.3); 0: none.
    """

    name: str
    params: Iterable[nn.Parameter]
    lr: float
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    every: int = 1
    schedule: Literal["constant", "cosine"] = "constant"
    warmup_steps: int = 0


def minimal_card(meta: dict[str, Any]) -> str:
    """The model card of a model saved outside a training run: what it is, without a training record."""
    import json

    return (
        f"# {meta['model']}\n\nTask: {meta['task']}. Saved with `save_pretrained` outside a genlab training run, "
        "so this card has no data, budget or measured metrics (a model trained by `genlab train` gets them).\n\n"
        f"## Config\n\n```json\n{json.dumps(meta['config'], indent=2, ensure_ascii=False)}\n```\n"
    )


def register_model(name: str):
    """Class decorator: register a model under ``name`` (e.g. ``image/dcgan``)."""

    def deco(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        cls.registry_name = name
        return MODELS.register(name)(cls)

    return deco


class GenerativeModel(nn.Module):
    """Base class of genlab models. Subclasses set ``config_class``, ``task`` and ``description``."""

    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    registry_name: ClassVar[str] = ""
    task: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        #: The training record read from ``config.json`` by :meth:`from_pretrained` (empty until then).
        self.provenance = Provenance()

    #: The optimizer groups whose losses read the training examples, which differentially private training
    #: (``train.dp``, DP-SGD) must train with per-example clipping and noise; None: every group. A GAN names its
    #: discriminator/critic only (DP-GAN, Xie et al. 2018, "Differentially Private Generative Adversarial
    #: Network"): the generator learns through the privatised discriminator, which is post-processing. A group
    #: left out must not read the batch's examples (labels included); one that draws as many latents as the
    #: batch has examples depends on the Poisson batch size, which the accounting leaves out (the usual
    #: simplification of DP-GAN code; drawing a fixed number of latents avoids it).
    private_groups: ClassVar[tuple[str, ...] | None] = None

    #: True for models fitted in closed form (n-gram counts, Gaussian/GMM on pixels): the trainer calls
    #: :meth:`fit` once instead of running gradient steps.
    fits_in_closed_form: ClassVar[bool] = False

    # --- training -----------------------------------------------------------
    def fit(self, train_dataset: Any, val_dataset: Any | None = None) -> dict[str, float]:
        """Fit the model in closed form (only when ``fits_in_closed_form``); returns metrics to log."""
        raise NotImplementedError

    def optimizer_groups(self) -> list[OptimizerSpec]:
        """Parameter groups with their optimizer settings, in stepping order."""
        raise NotImplementedError

    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """Losses for optimizer group ``group``; the ``"loss"`` entry is back-propagated."""
        raise NotImplementedError

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        """Losses on a validation batch (default: the first group's training losses)."""
        return self.training_losses(batch, self.optimizer_groups()[0].name)

    # --- export contract ----------------------------------------------------
    def export_graphs(self) -> dict[str, ExportGraph]:
        """The computations of this model that can be exported (ONNX), by name, with example inputs
        (:mod:`genlab.core.export`); models that offer none raise :class:`BadInputError` saying what can."""
        raise not_exportable(self)

    # --- checkpoint contract ------------------------------------------------
    def save_pretrained(self, directory: str | Path, card: str | None = None, extra: dict | None = None) -> Path:
        """Write ``config.json``, ``model.safetensors`` and the model card ``README.md``."""
        meta = {
            "model": self.registry_name,
            "class_name": type(self).__name__,
            "task": self.task,
            "config": self.config.to_dict(),
            **(extra or {}),
        }
        state = self.state_dict()
        quantization = getattr(self, "quantization", None)  # an int8 model (genlab compress --quantize)
        if quantization:
            from genlab.core.quantized import int8_state

            meta["quantization"], state = quantization, int8_state(self)
        card = card if card is not None else minimal_card(meta)
        return checkpoint.save_checkpoint(directory, state, meta, card, self.extra_files())

    def extra_files(self) -> dict[str, str]:
        """Files (name → text) exported beside the weights, e.g. a tokenizer in another tool's format."""
        return {}

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str = "cpu") -> GenerativeModel:
        """Build the model recorded in ``directory`` and load its weights (never unpickles)."""
        meta = checkpoint.read_meta(directory)
        model_cls = MODELS.get(meta["model"])
        if cls is not GenerativeModel and not issubclass(model_cls, cls):
            raise CheckpointError(f"{directory} holds a {meta['model']} model, not a {cls.__name__}")
        model = model_cls(model_cls.config_class.build(meta["config"], where="config"))
        state = checkpoint.load_weights(directory, meta)
        try:
            if meta.get("quantization"):
                from genlab.core.quantized import load_int8

                load_int8(model, meta["quantization"], state)
            else:
                model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise CheckpointError(
                f"weights in {directory} do not fit {meta['model']}: {str(e).splitlines()[0]}",
                "the config and weights come from different models; re-run the training command with the same --name",
            ) from None
        model.provenance = Provenance.from_meta(meta)
        return model.to(map_location).eval()
