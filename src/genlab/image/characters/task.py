"""The ``character`` task: attribute-conditioned character generators trained on ``builtin:lpc-characters``.

Data: :func:`~genlab.image.characters.data.load_characters` (``train`` and ``val`` splits as the data
module defines them), drawn as RGB over the dataset's background and scaled to [-1, 1], optionally
shrunk to 32 or 16 px; the condition is the (N, 11) attribute label matrix. A batch is
``(images (B, 3, S, S), labels (B, 11))``, and with ``data.layer_targets`` also the layers each image is
composited from, ``(B, K, 4, S, S)`` uint8 premultiplied RGBA in drawing order (what a layered CVAE's
``layer_weight`` compares its own layers with). The data info carries the data's attribution, which the
engine writes into every trained model's card.

``genlab train character --data builtin:lpc-characters --max-minutes 30 --name chars``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch.utils.data import TensorDataset

from genlab.core.data import DataInfo
from genlab.core.errors import ConfigError
from genlab.core.model import GenerativeModel
from genlab.core.registry import TASKS
from genlab.core.task import Task
from genlab.image.characters import cgan, models  # noqa: F401  (register character/cgan, /cvae and /layered)
from genlab.image.characters.compose import CharacterLayers
from genlab.image.characters.data import (
    DATASET,
    LICENSE,
    CharacterDataConfig,
    CharacterSet,
    load_characters,
    standing_layers,
)
from genlab.image.characters.pipelines import CharacterDrawPipeline

NATIVE_SIZE = 64


class CharacterTaskDataConfig(CharacterDataConfig):
    """The character data of a training run: the dataset's sizes and seed, plus the image size."""

    source: Literal["builtin:lpc-characters"] = Field(DATASET, description="the labelled character dataset")
    image_size: Literal[16, 32, 64] = Field(64, description="pixels; 32 and 16 average 2×2 / 4×4 blocks of 64")
    layer_targets: bool = Field(
        True,
        description="also give every image the layers it is composited from (a third batch item, (B, K, 4, S, S) "
        "premultiplied RGBA), for a layered CVAE's layer_weight",
    )


@dataclass
class CharacterDataInfo(DataInfo):
    """What was loaded; written to ``data.json``, the model's ``config.json`` and its card (attribution too)."""

    source: str
    image_size: int
    channels: int
    attributes: list[str]
    values: dict[str, list[str]]
    not_applicable: dict[str, list[list[str]]]
    layers: dict[str, list[str]] = field(default_factory=dict)
    layer_targets: bool = False
    n_train: int = 0
    n_val: int = 0
    license: str = LICENSE
    attribution: str = ""
    skipped: list[str] = field(default_factory=list)
    split: dict[str, Any] = field(default_factory=dict)


def to_tensors(data: CharacterSet, image_size: int, layers: np.ndarray | None = None) -> TensorDataset:
    """Images (N, 3, S, S) in [-1, 1] on the background colour, and long labels (N, A); with the images'
    ``layers`` (N, K, 64, 64, 4 straight RGBA, :func:`~.data.standing_layers`), also those layers as uint8
    premultiplied RGBA (N, K, 4, S, S) (premultiplied, so that shrinking averages what each pixel shows)."""
    x = torch.from_numpy(np.ascontiguousarray(data.rgb())).permute(0, 3, 1, 2).float() / 127.5 - 1
    if image_size != NATIVE_SIZE:
        x = F.avg_pool2d(x, NATIVE_SIZE // image_size)  # (N, 3, 64, 64) -> (N, 3, S, S)
    labels = torch.from_numpy(data.labels.copy())
    if layers is None:
        return TensorDataset(x, labels)
    return TensorDataset(x, labels, premultiplied_layers(layers, image_size))


def premultiplied_layers(layers: np.ndarray, image_size: int, chunk: int = 256) -> torch.Tensor:
    """Straight-alpha uint8 RGBA layers (N, K, 64, 64, 4) -> premultiplied uint8 RGBA (N, K, 4, S, S).

    At 64 px they composite to the images (to rounding); shrunk, only roughly where layers overlap partly
    ("over" is not linear, so the average of composites is not the composite of averages)."""
    n, k = layers.shape[:2]
    out = torch.empty((n, k, 4, image_size, image_size), dtype=torch.uint8)
    for start in range(0, n, chunk):  # in chunks: the float copy of the whole train split would take 2 GB
        rgba = torch.from_numpy(layers[start : start + chunk]).flatten(0, 1).permute(0, 3, 1, 2).float() / 255
        rgba = torch.cat([rgba[:, :3] * rgba[:, 3:], rgba[:, 3:]], dim=1)
        if image_size != NATIVE_SIZE:
            rgba = F.avg_pool2d(rgba, NATIVE_SIZE // image_size)
        out[start : start + chunk] = (rgba * 255).round().to(torch.uint8).view(-1, k, 4, image_size, image_size)
    return out


def not_applicable_rules(data: CharacterSet) -> dict[str, list[list[str]]]:
    """Attribute -> [other, value] pairs under which its label is −1 in the data (hair_color: hair_style=none)."""
    rules: dict[str, list[list[str]]] = {}
    for j, a in enumerate(data.attributes):
        missing = data.labels[:, j] < 0
        if not missing.any():
            continue
        for k, other in enumerate(data.attributes):
            for v, value in enumerate(data.values[other]):
                if k != j and np.array_equal(data.labels[:, k] == v, missing):
                    rules.setdefault(a, []).append([other, value])
    return rules


class CharacterTask(Task):
    name = "character"
    modality = "image"  # the data is an image dataset; the models are named character/<family>
    model_prefix = "character/"
    description = "attribute-conditioned game-character generators (LPC sprites: sex, hair, clothes, direction …)"
    data_config_class = CharacterTaskDataConfig
    default_model = "layered"
    pipeline_class = CharacterDrawPipeline
    cli_options = {"--image-size": "data.image_size", "--n-train": "data.n_train"}

    def load_data(self, data_cfg: CharacterTaskDataConfig):
        options = data_cfg.model_dump(exclude={"source", "image_size", "layer_targets"})
        train, val = load_characters("train", **options), load_characters("val", **options)
        targets = data_cfg.layer_targets
        folder = CharacterLayers.locate(data_cfg.data_dir)
        info = CharacterDataInfo(
            source=DATASET,
            image_size=data_cfg.image_size,
            channels=3,
            attributes=list(train.attributes),
            values={k: list(v) for k, v in train.values.items()},
            not_applicable=not_applicable_rules(train),
            layers={step: list(folder.layers[step]["depends_on"]) for step in folder.z_order},
            layer_targets=targets,
            n_train=len(train.images),
            n_val=len(val.images),
            attribution=train.attribution,
            split={"train": f"{DATASET}:train", "val": f"{DATASET}:val", "seed": data_cfg.seed},
        )
        size = data_cfg.image_size
        if not targets:
            return to_tensors(train, size), to_tensors(val, size), info
        train_layers, val_layers = (standing_layers(folder, data.characters) for data in (train, val))
        return to_tensors(train, size, train_layers), to_tensors(val, size, val_layers), info

    def __init__(self):
        self._layer_weight = 0.0  # the default layer_weight of the model about to be built

    def check_model_fits_data(self, model_cls: type[GenerativeModel], info: CharacterDataInfo) -> None:
        field = model_cls.config_class.model_fields.get("layer_weight")
        self._layer_weight = field.default if field is not None else 0.0  # character/layered: 1, not 0

    def fill_model_config(self, values: dict[str, Any], info: CharacterDataInfo) -> dict[str, Any]:
        if "image_size" in values and values["image_size"] != info.image_size:
            raise ConfigError(
                f"model.image_size={values['image_size']} does not match the data ({info.image_size})",
                f"set it on the data instead (--image-size {values['image_size']})",
            )
        weight = values.get("layer_weight", self._layer_weight)
        if weight and not info.layer_targets:
            raise ConfigError(
                f"model.layer_weight={weight} needs the layers of the training images",
                "set data.layer_targets=true (--set data.layer_targets=true)",
            )
        from_data = {"image_size": info.image_size, "channels": 3, "attributes": info.attributes}
        from_data |= {"values": info.values, "not_applicable": info.not_applicable, "layers": info.layers}
        return {**values, **from_data}

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        """Eight characters in their four directions (a row each), or 32 random ones."""
        pipe = CharacterDrawPipeline(model)  # the engine restores the training mode after this call
        sheet = "direction" in model.config.attributes
        return pipe.run(pipe.request(n=8 if sheet else 32, sheet=sheet, seed=seed)).save(stem.with_suffix(".png"))

    def describe_data(self, info: CharacterDataInfo) -> str:
        return (
            f"data {info.source}: {info.n_train} train / {info.n_val} val images, "
            f"{info.image_size}×{info.image_size}×3, {len(info.attributes)} attributes"
        )


TASKS.register(CharacterTask.name)(CharacterTask())
