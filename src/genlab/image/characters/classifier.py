"""An attribute classifier for LPC characters: a small CNN with one softmax head per attribute.

It reads a 64×64 character (RGB over :data:`~genlab.image.characters.data.BACKGROUND_RGB`, or RGBA,
which is drawn over that colour first) and predicts every attribute at once — sex, skin, hair style
and colour, torso, legs, leg armour, feet, hat, weapon and facing direction — so
:func:`attribute_accuracy` can score a generator's characters against the attributes it was asked
for. Three stride-2 3×3 convolutions (64 → 32 → 16 → 8), a feature layer, and a linear head per
attribute; the loss is the sum of the heads' cross-entropies, a label of −1 (the hair colour of a
bald character) being ignored.

Training is a plain torch loop (Adam, seeded shuffles, an optional wall-clock budget), not the
engine: the engine's image tasks feed one class label per image, and this model needs the whole
label matrix of :class:`~genlab.image.characters.data.CharacterSet`. It is saved through the
checkpoint contract (``config.json`` + ``model.safetensors`` + model card, loaded without
unpickling), and the saved folder carries the artists' attribution, as everything made from the
layers must.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import nn

from genlab.core import checkpoint
from genlab.core.config import Config
from genlab.core.errors import BadInputError, CheckpointError
from genlab.core.model import cosine_factor
from genlab.image.characters.compose import on_background
from genlab.image.characters.data import BACKGROUND_RGB, LICENSE, CharacterSet

MODEL_NAME = "image/lpc-attribute-classifier"
TASK = "lpc-attribute-classification"


class AttributeClassifierConfig(Config):
    """Architecture: the attributes it predicts (name -> value names) and the network's widths."""

    attributes: dict[str, list[str]] = Field(description="one softmax head per attribute, over these values")
    image_size: int = Field(64, ge=16, le=256, description="input height = width, pixels (a multiple of 8)")
    channels: int = Field(3, ge=1, le=3, description="input channels (RGB)")
    conv_widths: tuple[int, int, int] = Field((16, 32, 64), description="channels of the three stride-2 convs")
    feature_dim: int = Field(128, ge=8, description="size of the shared feature layer")
    background_rgb: tuple[int, int, int] = Field(BACKGROUND_RGB, description="colour RGBA inputs are drawn over")

    @field_validator("attributes")
    @classmethod
    def _two_values_each(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if not value or any(len(v) < 2 for v in value.values()):
            raise ValueError("give at least one attribute, each with at least two values")
        return value


class AttributeTrainConfig(Config):
    """The training recipe of :func:`train_attribute_classifier`."""

    epochs: int = Field(5, ge=1, description="passes over the training images")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(2e-3, gt=0, le=1, description="Adam learning rate")
    seed: int = Field(0, description="seeds the weights and the shuffles")
    max_seconds: float | None = Field(None, gt=0, description="stop after this much wall-clock time")
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant", description="learning rate over the epochs: constant, or cosine decay to 0 by the last step"
    )


class AttributeClassifier(nn.Module):
    """conv3×3/2 → ReLU (×3) → linear (features) → ReLU → one linear head per attribute."""

    def __init__(self, config: AttributeClassifierConfig, attribution: str = ""):
        super().__init__()
        if config.image_size % 8:
            raise BadInputError(f"image_size {config.image_size} is not a multiple of 8", "use e.g. 64")
        self.config = config
        self.attribution = attribution  # the data's credits, saved with the model
        self.record: dict[str, Any] = {}  # training record (sizes, recipe, time), saved with the model
        w1, w2, w3 = config.conv_widths
        self.convs = nn.Sequential(
            nn.Conv2d(config.channels, w1, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(w1, w2, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(w2, w3, 3, stride=2, padding=1), nn.ReLU(),
        )  # fmt: skip
        side = config.image_size // 8
        self.features = nn.Linear(w3 * side * side, config.feature_dim)
        self.heads = nn.ModuleDict({a: nn.Linear(config.feature_dim, len(v)) for a, v in config.attributes.items()})

    @property
    def attributes(self) -> list[str]:
        """The attributes predicted, in label-column order."""
        return list(self.config.attributes)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits per attribute, each (B, n_values), of images (B, C, H, W) in [-1, 1]."""
        h = self.convs(x).flatten(1)  # (B, w3, H/8, W/8) -> (B, w3·H·W/64)
        h = F.relu(self.features(h))
        return {a: head(h) for a, head in self.heads.items()}

    def loss(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Sum over attributes of the cross-entropy; ``labels`` (B, A) long, −1 entries ignored."""
        logits = self(x)
        total = x.new_zeros(())
        for j, attribute in enumerate(self.attributes):
            target = labels[:, j]
            if (target >= 0).any():
                total = total + F.cross_entropy(logits[attribute], target, ignore_index=-1)
        return total

    @torch.no_grad()
    def predict(self, images: np.ndarray | torch.Tensor, batch: int = 256) -> np.ndarray:
        """Predicted value indices, int64 (N, A), of images as :func:`to_input` takes them."""
        self.eval()
        x = to_input(images, self.config.background_rgb)
        device = next(self.parameters()).device
        out = []
        for i in range(0, len(x), batch):
            logits = self(x[i : i + batch].to(device))
            out.append(torch.stack([logits[a].argmax(1) for a in self.attributes], dim=1).cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.attributes)), dtype=np.int64)

    # ---------------------------------------------------------------- checkpoint contract

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json`` (config, training record, licence, attribution), ``model.safetensors`` and a
        model card ``README.md`` into ``directory``. A model without the data's attribution is refused."""
        if not self.attribution:
            raise BadInputError(
                "this classifier carries no attribution, which a model trained on the LPC art must",
                "set model.attribution = genlab.image.characters.attribution() before saving",
            )
        meta = {
            "model": MODEL_NAME,
            "class_name": type(self).__name__,
            "task": TASK,
            "config": self.config.to_dict(),
            "record": self.record,
            "license": LICENSE,
            "attribution": self.attribution,
        }
        return checkpoint.save_checkpoint(directory, self.state_dict(), meta, model_card(self))

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str = "cpu") -> AttributeClassifier:
        """Load a classifier saved by :meth:`save_pretrained` (weights from safetensors, sha256 checked)."""
        meta = checkpoint.read_meta(directory)
        if meta.get("model") != MODEL_NAME:
            raise CheckpointError(f"{directory} holds a {meta.get('model')} model, not an LPC attribute classifier")
        model = cls(AttributeClassifierConfig.build(meta["config"], where="config"), meta.get("attribution", ""))
        try:
            model.load_state_dict(checkpoint.load_weights(directory, meta), strict=True)
        except RuntimeError as e:
            raise CheckpointError(
                f"weights in {directory} do not fit its config: {str(e).splitlines()[0]}", "save the model again"
            ) from None
        model.record = dict(meta.get("record") or {})
        return model.to(map_location).eval()


def model_card(model: AttributeClassifier) -> str:
    """The saved folder's ``README.md``: what it predicts, how it was trained, its licence and the credits."""
    record = model.record
    lines = [
        f"# {MODEL_NAME}",
        "",
        "Predicts the attributes of a 64×64 LPC character (one softmax head each), to score generated characters.",
        "",
        "| attribute | values |",
        "|---|---|",
        *(f"| {a} | {', '.join(v)} |" for a, v in model.config.attributes.items()),
        "",
        "## Training",
        "- " + ", ".join(f"{k}: {v}" for k, v in record.items() if k not in ("accuracy", "accuracy_on"))
        if record
        else "- (no record)",
    ]
    if record.get("accuracy"):
        lines += [
            "",
            f"## Measured accuracy ({record.get('accuracy_on', '?')})",
            "| attribute | accuracy |",
            "|---|---|",
        ]
        lines += [f"| {a} | {acc:.4f} |" for a, acc in record["accuracy"].items()]
    lines += ["", "## Licence and attribution (required)", "", f"Licence: {LICENSE}.", "", "```", model.attribution]
    return "\n".join([*lines, "```", ""])


def load_attribute_classifier(directory: str | Path) -> AttributeClassifier:
    """Load a saved attribute classifier (eval mode, CPU)."""
    return AttributeClassifier.from_pretrained(directory)


# ---------------------------------------------------------------- inputs, training, scoring


def to_input(images: np.ndarray | torch.Tensor, background: tuple[int, int, int] = BACKGROUND_RGB) -> torch.Tensor:
    """Images as the network takes them: float (N, 3, H, W) in [-1, 1].

    ``images`` is uint8 (N, H, W, 3|4) (RGBA is drawn over ``background``) or an already prepared float
    tensor (N, 3, H, W) in [-1, 1] (what genlab's image generators return).
    """
    if isinstance(images, torch.Tensor) and images.is_floating_point():
        if images.ndim != 4:
            raise BadInputError(f"expected images (N, C, H, W), got shape {tuple(images.shape)}")
        return images.float()
    array = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[3] not in (3, 4):
        raise BadInputError(
            f"expected uint8 images (N, H, W, 3 or 4), got {array.dtype} {array.shape}",
            "or pass a float tensor (N, 3, H, W) in [-1, 1]",
        )
    if array.shape[3] == 4:
        array = on_background(array, background)
    array = array if array.flags.writeable else array.copy()  # torch wants writable memory
    x = torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2)  # (N, H, W, 3) -> (N, 3, H, W)
    return x.float().div(127.5).sub(1.0)


def train_attribute_classifier(
    data: CharacterSet,
    recipe: AttributeTrainConfig | None = None,
    held_out: CharacterSet | None = None,
    architecture: dict[str, Any] | None = None,
    **options: Any,
) -> AttributeClassifier:
    """Train a classifier on every attribute of ``data`` (a training :class:`CharacterSet`).

    ``recipe`` (or its defaults) is updated with ``options`` (``epochs``, ``batch_size``, ``lr``, ``seed``,
    ``max_seconds``). When ``held_out`` (e.g. the ``test`` split) is given, its :func:`attribute_accuracy`
    goes into the record and the model card. ``architecture`` sets fields of :class:`AttributeClassifierConfig`
    (``conv_widths``, ``feature_dim``). Returns the model in eval mode, with the data's attribution
    and a training record.
    """
    recipe = AttributeTrainConfig.build({**(recipe.to_dict() if recipe else {}), **options}, where="train")
    torch.manual_seed(recipe.seed)
    config = AttributeClassifierConfig.build(
        {**(architecture or {}), "attributes": data.values, "image_size": data.images.shape[1]}, where="model"
    )
    model = AttributeClassifier(config, data.attribution)
    x = to_input(data.images, config.background_rgb)
    labels = torch.from_numpy(np.array(data.labels, dtype=np.int64))  # a writable copy
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    total_steps = recipe.epochs * math.ceil(len(x) / recipe.batch_size)
    schedule = (
        torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: cosine_factor(i, total_steps))
        if recipe.lr_schedule == "cosine"
        else None
    )
    shuffle = torch.Generator().manual_seed(recipe.seed)
    start, steps, epochs, loss = time.monotonic(), 0, 0, math.nan
    model.train()
    while epochs < recipe.epochs and not _out_of_time(start, recipe.max_seconds):
        for index in torch.randperm(len(x), generator=shuffle).split(recipe.batch_size):
            step_loss = model.loss(x[index], labels[index])
            optimizer.zero_grad(set_to_none=True)
            step_loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
            steps, loss = steps + 1, float(step_loss.detach())
            if _out_of_time(start, recipe.max_seconds):
                break
        epochs += 1
    model.record = {
        "dataset": f"{data.split} split of builtin:lpc-characters (seed {data.seed})",
        "n_train_images": len(x),
        **recipe.to_dict(),
        "epochs_run": epochs,
        "steps": steps,
        "final_loss": round(loss, 5),
        "train_seconds": round(time.monotonic() - start, 1),
        "torch_version": torch.__version__,
    }
    if held_out is not None:
        model.record["accuracy_on"] = f"{held_out.split} split ({len(held_out.images)} images, seed {held_out.seed})"
        model.record["accuracy"] = attribute_accuracy(model, held_out.images, held_out.labels, held_out.attributes)
    return model.eval()


def _out_of_time(start: float, budget: float | None) -> bool:
    return budget is not None and time.monotonic() - start >= budget


def attribute_accuracy(
    classifier: AttributeClassifier,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    attributes: list[str] | None = None,
    visible: dict[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """Share of ``images`` whose predicted value matches ``labels``, per attribute.

    ``images`` as :func:`to_input` takes them; ``labels`` int (N, A), column ``j`` naming a value index of
    ``attributes[j]`` (default: the classifier's attributes, in order), −1 = not applicable (left out).
    ``visible`` (optional, from :func:`~genlab.image.characters.data.visible_classes`) gives per attribute
    the values that render pixel-identically to the true one, bool (N, n_values): an image in which every
    value renders alike is left out of that attribute, and a prediction anywhere in the class counts as
    correct. An attribute with no applicable (or visible) label is left out of the result.
    """
    attributes = classifier.attributes if attributes is None else list(attributes)
    labels = np.asarray(labels, dtype=np.int64)
    unknown = [a for a in attributes if a not in classifier.attributes]
    if unknown:
        raise BadInputError(
            f"the classifier does not predict {', '.join(unknown)}", f"it predicts {classifier.attributes}"
        )
    if labels.ndim != 2 or labels.shape != (len(images), len(attributes)):
        raise BadInputError(
            f"labels have shape {labels.shape}, expected ({len(images)}, {len(attributes)})",
            "one row per image and one column per attribute: " + ", ".join(attributes),
        )
    for attribute, classes in (visible or {}).items():
        if attribute in attributes and classes.shape != (len(images), len(classifier.config.attributes[attribute])):
            raise BadInputError(
                f"visible classes of {attribute} have shape {classes.shape}, expected one row per image "
                f"and one column per value ({len(images)}, {len(classifier.config.attributes[attribute])})"
            )
    predicted = classifier.predict(images)
    result = {}
    for j, attribute in enumerate(attributes):
        column = predicted[:, classifier.attributes.index(attribute)]
        valid = labels[:, j] >= 0
        if visible is not None and attribute in visible:
            classes = visible[attribute]
            valid &= ~classes.all(axis=1)  # every value renders alike: the attribute cannot be seen here
            correct = classes[np.arange(len(column)), column]
        else:
            correct = column == labels[:, j]
        if valid.any():
            result[attribute] = float(correct[valid].mean())
    return result
