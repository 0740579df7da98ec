"""The ``character`` task: attribute-conditioned character generators trained on ``builtin:lpc-characters``.

Data: :func:`~genlab.image.characters.data.load_characters` (``train`` and ``val`` splits as the data
module defines them), drawn as RGB over the dataset's background and scaled to [-1, 1], optionally
shrunk to 32 or 16 px; the condition is the (N, 11) attribute label matrix. A batch is
``(images (B, 3, S, S), labels (B, 11))``. The data info carries the data's attribution, which the
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
from genlab.image.characters import cgan, models  # noqa: F401  (register character/cgan and character/cvae)
from genlab.image.characters.compose import CharacterLayers
from genlab.image.characters.data import DATASET, LICENSE, CharacterDataConfig, CharacterSet, load_characters
from genlab.image.characters.pipelines import CharacterDrawPipeline

NATIVE_SIZE = 64


class CharacterTaskDataConfig(CharacterDataConfig):
    """The character data of a training run: the dataset's sizes and seed, plus the image size."""

    source: Literal["builtin:lpc-characters"] = Field(DATASET, description="the labelled character dataset")
    image_size: Literal[16, 32, 64] = Field(64, description="pixels; 32 and 16 average 2×2 / 4×4 blocks of 64")


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
    n_train: int = 0
    n_val: int = 0
    license: str = LICENSE
    attribution: str = ""
    skipped: list[str] = field(default_factory=list)
    split: dict[str, Any] = field(default_factory=dict)


def to_tensors(data: CharacterSet, image_size: int) -> TensorDataset:
    """Images (N, 3, S, S) in [-1, 1] on the background colour, and long labels (N, A)."""
    x = torch.from_numpy(np.ascontiguousarray(data.rgb())).permute(0, 3, 1, 2).float() / 127.5 - 1
    if image_size != NATIVE_SIZE:
        x = F.avg_pool2d(x, NATIVE_SIZE // image_size)  # (N, 3, 64, 64) -> (N, 3, S, S)
    return TensorDataset(x, torch.from_numpy(data.labels.copy()))


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
    default_model = "cvae"
    pipeline_class = CharacterDrawPipeline
    cli_options = {"--image-size": "data.image_size", "--n-train": "data.n_train"}

    def load_data(self, data_cfg: CharacterTaskDataConfig):
        options = data_cfg.model_dump(exclude={"source", "image_size"})
        train, val = load_characters("train", **options), load_characters("val", **options)
        folder = CharacterLayers.locate(data_cfg.data_dir)
        info = CharacterDataInfo(
            source=DATASET,
            image_size=data_cfg.image_size,
            channels=3,
            attributes=list(train.attributes),
            values={k: list(v) for k, v in train.values.items()},
            not_applicable=not_applicable_rules(train),
            layers={step: list(folder.layers[step]["depends_on"]) for step in folder.z_order},
            n_train=len(train.images),
            n_val=len(val.images),
            attribution=train.attribution,
            split={"train": f"{DATASET}:train", "val": f"{DATASET}:val", "seed": data_cfg.seed},
        )
        return to_tensors(train, data_cfg.image_size), to_tensors(val, data_cfg.image_size), info

    def fill_model_config(self, values: dict[str, Any], info: CharacterDataInfo) -> dict[str, Any]:
        if "image_size" in values and values["image_size"] != info.image_size:
            raise ConfigError(
                f"model.image_size={values['image_size']} does not match the data ({info.image_size})",
                f"set it on the data instead (--image-size {values['image_size']})",
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
