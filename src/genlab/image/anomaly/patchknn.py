"""``anomaly/patch-knn``: the non-generative baseline, PatchCore-style (Roth et al. 2022).

Fitting (closed form, no gradient steps): every normal training image goes through the first two conv layers of
a frozen LeNet (:mod:`genlab.image.extractors`; run at the image's own size with "same" padding, so a patch
feature describes a 5-pixel neighbourhood at half resolution), the two layers' activations are stacked per
position (32 + 48 = 80 values) and averaged over a 3×3 neighbourhood; a memory bank of ``memory_size`` of these
patch features is kept, chosen at random or by greedy k-center coreset selection on a random projection
(PatchCore's coreset). Scoring: each test patch's distance to its nearest bank feature is its anomaly value; the
image score is the largest over the image, the heat map the patch distances upsampled (bilinear) to the image.

The extractor must not have seen the anomalous classes' labels: on MNIST the Fashion-MNIST LeNet is used, on
Fashion-MNIST the MNIST one (``extractor=auto`` resolves so from the training data and records the choice).
A classifier the user trained (``python -m genlab.image.classifier``) can be given by its folder.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from genlab.core.errors import BadInputError, ConfigError, GenlabError
from genlab.core.model import GenerativeModel, register_model
from genlab.image.anomaly.base import AnomalyDetector
from genlab.image.base import ImageShapeConfig
from genlab.image.classifier import WEIGHTS_DIR, load_classifier
from genlab.image.data import to_pixels
from genlab.image.extractors import LUMA

#: the extractor ``auto`` picks for a training source: one trained on another data set
AUTO_EXTRACTOR = {"builtin:mnist-oneclass": "fashion-mnist-lenet", "builtin:fashion-mnist-oneclass": "mnist-lenet"}
DEFAULT_EXTRACTOR = "fashion-mnist-lenet"
SHIPPED = ("mnist-lenet", "fashion-mnist-lenet")


class PatchKNNConfig(ImageShapeConfig):
    """``anomaly/patch-knn``: extractor, memory bank size and how the bank is subsampled."""

    extractor: str = Field(
        "auto", description="mnist-lenet, fashion-mnist-lenet, a classifier folder, or auto (the other data set's)"
    )
    memory_size: int = Field(1000, ge=1, le=1_000_000, description="patch features kept in the memory bank")
    sampling: Literal["coreset", "random"] = Field("coreset", description="bank subsampling: coreset or random")
    projection_dim: int = Field(32, ge=1, le=1024, description="coreset: random projection size for distances")
    neighbourhood: int = Field(3, ge=1, le=9, description="patch features are averaged over k×k positions (odd)")
    max_fit_images: int = Field(300, ge=1, description="normal images whose patches feed the bank (seeded choice)")
    seed: int = Field(0, ge=0, description="seed of the image choice, the projection and the coreset start")


def resolve_extractor(name: str, source: str | None = None) -> str:
    """The extractor ``name`` stands for: ``auto`` -> the one trained on other data than ``source``."""
    if name != "auto":
        return name
    return AUTO_EXTRACTOR.get(source or "", DEFAULT_EXTRACTOR)


def greedy_coreset(features: torch.Tensor, m: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of ``m`` rows of ``features`` (N, P) chosen by greedy k-center selection: each pick is the row
    farthest from those already picked (the first at random). Returns long (m,)."""
    n = len(features)
    chosen = torch.empty(m, dtype=torch.long)
    chosen[0] = torch.randint(n, (1,), generator=generator)
    norms = features.pow(2).sum(1)

    def distances(i: int) -> torch.Tensor:  # squared distances of every row to row i: |a|² + |b|² − 2ab
        return norms + norms[i] - 2 * (features @ features[i])

    nearest = distances(int(chosen[0]))  # squared distance of each row to the chosen set
    for i in range(1, m):
        chosen[i] = torch.argmax(nearest)
        torch.minimum(nearest, distances(int(chosen[i])), out=nearest)
    return chosen


@register_model("anomaly/patch-knn")
class PatchKNN(AnomalyDetector, GenerativeModel):
    """Nearest-neighbour distance of patch features to a memory bank of normal patches (no training steps)."""

    config_class: ClassVar[type[PatchKNNConfig]] = PatchKNNConfig
    description: ClassVar[str] = "PatchCore-style k-NN on LeNet patch features: the non-generative baseline"
    fits_in_closed_form: ClassVar[bool] = True
    score_batch_size: ClassVar[int] = 16
    config: PatchKNNConfig

    def __init__(self, config: PatchKNNConfig):
        super().__init__(config)
        if config.neighbourhood % 2 == 0:
            raise ConfigError(f"neighbourhood must be odd, got {config.neighbourhood}", "use 1, 3, 5, …")
        self._load_extractor(resolve_extractor(config.extractor))
        self.register_buffer("bank", torch.zeros(config.memory_size, self.feature_dim))

    def _load_extractor(self, name: str) -> None:
        """The frozen LeNet, kept out of the module tree: it is not this model's weights (not saved, not trained)."""
        net, meta = load_classifier(WEIGHTS_DIR / name if name in SHIPPED else name)
        net.requires_grad_(False).eval()
        object.__setattr__(self, "_net", net)  # bypasses nn.Module registration on purpose
        self.extractor_name, self.extractor_sha256 = name, meta["sha256"]
        self.feature_dim = sum(net.config.conv_widths)

    @property
    def device(self) -> torch.device:
        return self.bank.device

    def extractor_protocol(self) -> dict[str, Any]:
        """Which extractor made the patch features, with its weights' sha256."""
        return {"extractor": self.extractor_name, "extractor_sha256": self.extractor_sha256}

    # --- features -------------------------------------------------------------
    def patch_features(self, images: torch.Tensor) -> torch.Tensor:
        """Patch features (B, D, H/2, W/2) of images (B, C, H, W) in [-1, 1]."""
        net = self._net.to(images.device)
        x = images
        if x.shape[1] == 3 and net.config.channels == 1:
            x = sum(w * x[:, i : i + 1] for i, w in enumerate(LUMA))
        elif x.shape[1] == 1 and net.config.channels == 3:
            x = x.repeat(1, 3, 1, 1)
        h1 = F.max_pool2d(F.relu(F.conv2d(x, net.conv1.weight, net.conv1.bias, padding=2)), 2)  # (B, c1, H/2, W/2)
        h2 = F.relu(F.conv2d(h1, net.conv2.weight, net.conv2.bias, padding=2))  # (B, c2, H/2, W/2)
        k = self.config.neighbourhood
        return F.avg_pool2d(torch.cat([h1, h2], 1), k, stride=1, padding=k // 2, count_include_pad=False)

    # --- fitting --------------------------------------------------------------
    def fit(self, train_dataset: Any, val_dataset: Any | None = None) -> dict[str, float]:
        """Fill the memory bank from the normal training images; ``auto`` extractor resolved from the data."""
        c = self.config
        source = getattr(train_dataset, "source", None)
        if c.extractor == "auto" and resolve_extractor("auto", source) != self.extractor_name:
            self._load_extractor(resolve_extractor("auto", source))
        if c.extractor == "auto":  # record the choice: the saved model must load the same extractor
            self.config = c = c.model_copy(update={"extractor": self.extractor_name})
        images = train_dataset.images
        if len(images) == 0:
            raise BadInputError("no normal images to fit the memory bank on", "give a folder of normal images")
        g = torch.Generator().manual_seed(c.seed)
        if len(images) > c.max_fit_images:
            images = images[torch.randperm(len(images), generator=g)[: c.max_fit_images]]
        feats = []
        with torch.no_grad():
            for start in range(0, len(images), 64):
                f = self.patch_features(to_pixels(images[start : start + 64]).to(self.device))
                feats.append(f.permute(0, 2, 3, 1).reshape(-1, self.feature_dim).cpu())  # (B, D, h, w) -> (Bhw, D)
        feats = torch.cat(feats)
        n = len(feats)
        if c.sampling == "random" or n <= c.memory_size:
            index = torch.randperm(n, generator=g)[: c.memory_size]
        else:
            proj = torch.randn(self.feature_dim, c.projection_dim, generator=g) / math.sqrt(c.projection_dim)
            index = greedy_coreset(feats @ proj, c.memory_size, g)
        index = index.repeat(math.ceil(c.memory_size / len(index)))[: c.memory_size]  # a small set: repeat rows
        self.bank.copy_(feats[index].to(self.bank.device))
        metrics = {"patches": float(n), "bank_size": float(len(set(index.tolist())))}
        if val_dataset is not None and len(val_dataset):
            val_scores, _ = self.score(to_pixels(val_dataset.images[:256]))
            metrics["val_score_mean"] = float(val_scores.mean())
        return metrics

    def optimizer_groups(self):
        raise GenlabError(f"{self.registry_name} is fitted in closed form, not by gradient steps")

    # --- scoring --------------------------------------------------------------
    def score_batch(self, images: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.patch_features(images)
        b, d, h, w = f.shape
        flat = f.permute(0, 2, 3, 1).reshape(-1, d)  # (B, D, h, w) -> (B·h·w, D)
        dist = torch.cdist(flat, self.bank).min(1).values.view(b, 1, h, w)
        maps = F.interpolate(dist, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        return dist.flatten(1).amax(1), maps
