"""Feature extractors for sample-quality metrics, available offline.

* ``mnist-lenet`` and ``fashion-mnist-lenet``: LeNet classifiers shipped in
  ``genlab/image/weights/<name>/`` (see :mod:`genlab.image.classifier`); 128-d features,
  and class logits for the inception score and ``label_accuracy``.
* ``inception-v3``: the standard FID network (2048-d pool features), built from the
  usual weights file the user supplies (``--inception-weights`` or
  ``$GENLAB_INCEPTION_WEIGHTS``); see :mod:`genlab.image.inception`.
* a path to a classifier the user trained with ``python -m genlab.image.classifier
  --dataset FOLDER``: the folder it saved (``config.json`` + ``model.safetensors``), or an
  ``X.safetensors`` with ``X.json`` beside it (the earlier single-file format).

Every extractor records its name, the sha256 of its weights and how images are
brought to its input (resize method, channel conversion) in the evaluation protocol.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from genlab.core.errors import BadInputError, unknown_name
from genlab.image.classifier import WEIGHTS_DIR, load_classifier

INCEPTION_ENV = "GENLAB_INCEPTION_WEIGHTS"
#: Luma weights (ITU-R 601-2), as Pillow's "L" conversion uses.
LUMA = (0.299, 0.587, 0.114)


@dataclass
class FeatureExtractor:
    """A frozen network turning images (N, C, H, W) in [-1, 1] into features (N, D) and, if it can, logits.

    ``features_fn`` and ``logits_fn`` take images already at ``input_size`` × ``input_size``
    with ``channels`` channels (see :meth:`prepare`).
    """

    name: str
    sha256: str
    input_size: int
    channels: int
    features_fn: Callable[[torch.Tensor], torch.Tensor]
    logits_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
    num_classes: int = 0
    class_names: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 500

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Bring images to the extractor's size (bilinear, antialiased) and channel count (luma / repeat)."""
        if images.ndim != 4:
            raise BadInputError(f"expected images (N, C, H, W), got shape {tuple(images.shape)}")
        x = images.float()
        if x.shape[1] == 3 and self.channels == 1:
            x = sum(w * x[:, i : i + 1] for i, w in enumerate(LUMA))
        elif x.shape[1] == 1 and self.channels == 3:
            x = x.repeat(1, 3, 1, 1)
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            size = (self.input_size, self.input_size)
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        return x.clamp(-1, 1)

    def preprocessing(self, image_size: int, channels: int) -> dict[str, str]:
        """How images of this size/channel count are prepared, for the protocol."""
        resize = f"bilinear (antialiased) {image_size}→{self.input_size}" if image_size != self.input_size else "none"
        convert = {(3, 1): "RGB→luma (ITU-R 601-2)", (1, 3): "gray repeated to RGB"}.get((channels, self.channels))
        return {"resize": resize, "channels": convert or "unchanged"}

    @torch.no_grad()
    def _batched(self, fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor) -> torch.Tensor:
        out = [fn(self.prepare(images[i : i + self.batch_size])) for i in range(0, len(images), self.batch_size)]
        return torch.cat(out).float()

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Features (N, D) of images (N, C, H, W) in [-1, 1]."""
        return self._batched(self.features_fn, images)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits (N, K); raises when the extractor has no classifier head."""
        if self.logits_fn is None:
            raise BadInputError(
                f"extractor {self.name} has no class logits", "use a classifier extractor, e.g. --extractor mnist-lenet"
            )
        return self._batched(self.logits_fn, images)

    def protocol(self) -> dict[str, Any]:
        """Name and weights checksum for the evaluation protocol."""
        return {"extractor": self.name, "extractor_sha256": self.sha256, **self.info}


ExtractorFactory = Callable[[dict[str, Any]], FeatureExtractor]
EXTRACTORS: dict[str, ExtractorFactory] = {}


def register_extractor(name: str) -> Callable[[ExtractorFactory], ExtractorFactory]:
    """Decorator: register a factory ``(options) -> FeatureExtractor`` under ``name``."""

    def deco(factory: ExtractorFactory) -> ExtractorFactory:
        EXTRACTORS[name] = factory
        return factory

    return deco


def from_classifier(path: str | Path, name: str | None = None) -> FeatureExtractor:
    """A :class:`FeatureExtractor` from a saved classifier (its folder or an ``X.safetensors``; sha256 checked)."""
    model, meta = load_classifier(path)
    cfg = model.config
    info = {"extractor_test_accuracy": meta.get("test_accuracy"), "extractor_trained_on": meta.get("dataset")}
    return FeatureExtractor(
        name=name or meta["name"],
        sha256=meta["sha256"],
        input_size=cfg.image_size,
        channels=cfg.channels,
        features_fn=model.features,
        logits_fn=model,
        num_classes=cfg.num_classes,
        class_names=list(cfg.class_names),
        info={k: v for k, v in info.items() if v is not None},
    )


def _shipped(name: str) -> ExtractorFactory:
    def factory(options: dict[str, Any]) -> FeatureExtractor:
        return from_classifier(WEIGHTS_DIR / name, name)

    factory.__doc__ = f"The shipped {name} classifier (genlab/image/weights/{name}/)."
    return factory


register_extractor("mnist-lenet")(_shipped("mnist-lenet"))
register_extractor("fashion-mnist-lenet")(_shipped("fashion-mnist-lenet"))


@register_extractor("inception-v3")
def _inception(options: dict[str, Any]) -> FeatureExtractor:
    """Inception-v3 pool features (2048-d) from the FID weights file the user points to."""
    from genlab.image.inception import load_fid_inception

    path = options.get("inception_weights") or os.environ.get(INCEPTION_ENV)
    network, sha = load_fid_inception(path)
    return FeatureExtractor(
        name="inception-v3",
        sha256=sha,
        input_size=299,
        channels=3,
        features_fn=network,
        info={"extractor_weights": Path(path).name},
        batch_size=50,
    )


def get_extractor(name: str, **options: Any) -> FeatureExtractor:
    """The extractor registered as ``name``, or a classifier loaded from a path (its folder or a ``.safetensors``)."""
    if name in EXTRACTORS:
        return EXTRACTORS[name](options)
    path = Path(name).expanduser()
    if name.endswith(".safetensors") or os.sep in name or "/" in name or path.is_dir():
        return from_classifier(path)
    err = unknown_name("feature extractor", name, EXTRACTORS)
    err.hint = f"{err.hint}; or give the folder of a classifier saved by python -m genlab.image.classifier"
    raise err


def default_extractor(source: str | None, image_size: int, channels: int) -> str:
    """The extractor to use when none is given: the shipped classifier of the data, else Inception-v3.

    Fashion-MNIST data gets ``fashion-mnist-lenet``; gray images up to 64 pixels (digits)
    get ``mnist-lenet``; anything else (colour, large) ``inception-v3``.
    """
    if source and "fashion" in source:
        return "fashion-mnist-lenet"
    if channels == 1 and image_size <= 64:
        return "mnist-lenet"
    return "inception-v3"
