"""The LeNet classifier model, its config and its files (``save_pretrained`` folders)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
import yaml
from pydantic import Field
from safetensors.torch import load_file

from genlab.core.checkpoint import CONFIG_NAME, sha256_file
from genlab.core.errors import CheckpointError
from genlab.core.model import GenerativeModel, ModelConfig, OptimizerSpec, register_model

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
TASK = "image-classification"


class ClassifierConfig(ModelConfig):
    """Architecture of a LeNet-style classifier; images are (channels, image_size, image_size) in [-1, 1]."""

    image_size: int = Field(28, ge=16, le=64, description="input height = width, pixels (16 leaves a 1×1 map)")
    channels: int = Field(1, ge=1, le=3)
    num_classes: int = Field(10, ge=2)
    conv_widths: tuple[int, int] = Field((32, 48), description="channels of the two 5×5 conv layers")
    feature_dim: int = Field(128, ge=8, description="size of the feature layer used by FID/KID/PR")
    class_names: list[str] = Field(default_factory=list)
    lr: float = Field(2e-3, gt=0, le=1, description="Adam learning rate (peak of the cosine schedule)")
    schedule: Literal["constant", "cosine"] = Field(
        "cosine",
        description="learning rate over the run: cosine decay to 0 (over the steps or minutes of the run) or constant",
    )


@register_model("image/lenet-classifier")
class LeNetClassifier(GenerativeModel):
    """conv5×5 → ReLU → pool → conv5×5 → ReLU → pool → linear (features) → ReLU → dropout → linear (logits)."""

    config_class = ClassifierConfig
    task: ClassVar[str] = TASK
    description: ClassVar[str] = "LeNet-style classifier: the offline feature extractor of FID/KID and label accuracy"
    config: ClassifierConfig

    def __init__(self, config: ClassifierConfig):
        super().__init__(config)
        c1, c2 = config.conv_widths
        self.conv1 = torch.nn.Conv2d(config.channels, c1, 5)
        self.conv2 = torch.nn.Conv2d(c1, c2, 5)
        side = ((config.image_size - 4) // 2 - 4) // 2  # 28 -> 24 -> 12 -> 8 -> 4
        self.fc = torch.nn.Linear(c2 * side * side, config.feature_dim)
        self.dropout = torch.nn.Dropout(0.5)
        self.head = torch.nn.Linear(config.feature_dim, config.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature-layer activations (B, feature_dim) of images (B, C, H, W) in [-1, 1] (after the ReLU)."""
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return F.relu(self.fc(h.flatten(1)))  # (B, c2, side, side) -> (B, c2·side²) -> (B, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes)."""
        return self.head(self.dropout(self.features(x)))

    # --- model contract -------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        """One Adam group over every parameter; cosine decay by default (the recipe of the shipped weights)."""
        return [OptimizerSpec("classifier", list(self.parameters()), lr=self.config.lr, schedule=self.config.schedule)]

    def training_losses(self, batch: tuple[torch.Tensor, torch.Tensor], group: str = "classifier") -> dict:
        """Cross-entropy of a batch ``(images (B, C, H, W) in [-1, 1], labels (B,))``, and its accuracy."""
        images, labels = batch
        logits = self(images)
        accuracy = (logits.argmax(1) == labels).float().mean().detach()
        return {"loss": F.cross_entropy(logits, labels), "accuracy": accuracy}


@torch.no_grad()
def evaluate_accuracy(model: LeNetClassifier, images: torch.Tensor, labels: torch.Tensor, batch: int = 1000) -> float:
    """Top-1 accuracy of ``model`` (put in eval mode) on images (N, C, H, W) in [-1, 1] with labels (N,)."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for i in range(0, len(images), batch):
        predicted = model(images[i : i + batch].to(device)).argmax(1).cpu()
        correct += int((predicted == labels[i : i + batch]).sum())
    return correct / len(images)


# --------------------------------------------------------------------------- files


def save_classifier(model: LeNetClassifier, directory: str | Path, record: dict[str, Any]) -> Path:
    """Save ``model`` with ``save_pretrained`` into ``directory``; ``record`` (name, dataset, test accuracy,
    recipe, command, …) goes into ``config.json`` and the model card. Returns the directory."""
    directory = Path(directory)
    record = {"name": directory.name, **record}
    return model.save_pretrained(directory, card=model_card(model, record), extra=record)


def model_card(model: LeNetClassifier, record: dict[str, Any]) -> str:
    """The ``README.md`` of a saved classifier: data, measured test accuracy, recipe, reproduce command."""
    accuracy = record.get("test_accuracy")
    recipe = record.get("recipe", {})
    lines = [
        f"# {TASK} / lenet-classifier — {record['name']}",
        "",
        f"A LeNet-style classifier genlab uses as a feature extractor (`--extractor {record['name']}`):",
        f"{model.config.feature_dim}-d features for FID, KID, precision and recall, and "
        f"{model.config.num_classes} class logits for the inception score and label accuracy.",
        "",
        "## Data",
        f"- dataset: {record.get('dataset')}",
        f"- training images: {record.get('n_train')}",
        f"- test split: {record.get('test_split')} ({record.get('n_test')} images)",
        "",
        "## Measured metrics",
        "| metric | value |",
        "|---|---|",
        f"| test accuracy | {accuracy} ({accuracy:.2%}) |" if accuracy is not None else "| (not measured) | |",
        "",
        "## Training budget",
        "- " + ", ".join(f"{k}: {v}" for k, v in recipe.items()),
        f"- training time: {record.get('train_seconds')} s (torch {record.get('torch_version')})",
    ]
    if "converted_from" in record:
        old = record["converted_from"]
        lines += ["", f"Weights converted unchanged from `{old['file']}` (sha256 `{old['sha256']}`)."]
    config = yaml.safe_dump(model.config.to_dict(), sort_keys=False, allow_unicode=True).rstrip()
    lines += ["", "## Model config", "```yaml", config, "```", "", "## Reproduce", "```", record.get("command", "?")]
    return "\n".join([*lines, "```", ""])


def load_classifier(path: str | Path) -> tuple[LeNetClassifier, dict[str, Any]]:
    """Load a classifier saved by :func:`save_classifier` (its directory, or the ``model.safetensors`` in it).

    The earlier single-file format (``X.safetensors`` with ``X.json`` beside it) is still read.
    Returns the model (eval mode) and its metadata (config, ``sha256`` of the weights, test accuracy, …).
    """
    path = Path(path)
    if path.is_file() and (path.parent / CONFIG_NAME).is_file():
        path = path.parent
    if path.is_dir():
        model = LeNetClassifier.from_pretrained(path)
        meta = dict(model.provenance.raw)
        return model, meta | {"name": meta.get("name", path.name), "sha256": meta["weights_sha256"]}
    if path.suffix == ".safetensors" and path.with_suffix(".json").is_file():
        return _load_single_file(path)
    raise CheckpointError(
        f"no classifier at {path}",
        "pass a directory written by `python -m genlab.image.classifier` (config.json, model.safetensors), "
        "or an X.safetensors with X.json beside it (the earlier single-file format)",
    )


def _load_single_file(path: Path) -> tuple[LeNetClassifier, dict[str, Any]]:
    """The earlier single-file format: ``X.safetensors`` + ``X.json`` (config, sha256, record)."""
    meta_path = path.with_suffix(".json")
    hint = "re-save it with save_classifier, or retrain it with python -m genlab.image.classifier"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        config = ClassifierConfig.build(meta["config"], where="extractor config")
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{meta_path} is not a classifier config: {e}", hint) from None
    if meta.get("architecture", "lenet") != "lenet":
        raise CheckpointError(f"{meta_path}: unknown architecture '{meta['architecture']}'", "supported: lenet")
    digest = sha256_file(path)
    if meta.get("sha256") and digest != meta["sha256"]:
        raise CheckpointError(
            f"{path} does not match the sha256 in {meta_path.name}: the weights were modified or truncated", hint
        )
    model = LeNetClassifier(config)
    try:
        model.load_state_dict(load_file(str(path)), strict=True)
    except (RuntimeError, OSError, ValueError) as e:
        raise CheckpointError(f"cannot load {path}: {str(e).splitlines()[0]}", hint) from None
    return model.eval(), {"name": path.stem, **meta, "sha256": digest}
