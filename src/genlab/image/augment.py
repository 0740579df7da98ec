"""Generative data augmentation: labelled synthetic images from a conditional generator, and the study that says
whether they help a classifier trained on little real data.

* ``genlab augment RUN --per-class 500 --out synthetic/`` draws ``per_class`` images of every class from a
  conditional image generator (cGAN, CVAE, conditional diffusion or flow) into ``synthetic/<class>/<n>.png`` —
  the folder layout genlab's image loaders read — with ``augment.json`` (counts, filter, seed). The quality
  filter ``confidence`` keeps only samples that a judge classifier (``--judge``: a classifier folder or a
  shipped extractor) assigns to their label with at least ``--min-confidence``; it draws up to ``--oversample``
  times the requested count to fill each class.
* ``genlab benchmark-augmentation RUN --data mnist --real-per-class 10,50,100 --seeds 3`` trains the same LeNet
  classifier on ``k`` real images per class (a seeded draw from the train split) alone and with ``synthetic`` generated
  images per class added, for each ``k`` and seed, and reports test accuracy (the dataset's test split): mean ±
  standard deviation over the seeds, and the gain in points — negative where synthetic data hurts. Both
  classifiers get the same number of optimiser steps. With ``--filter confidence`` the judge is the real-only
  classifier of the same ``k`` and seed, so no information beyond those real images and the generator enters.

What the generator was trained on decides what the study measures: a generator trained on the same ``k`` images
per class is augmentation in the strict sense; one trained on more data (all of MNIST-5k, say) also transfers
that data's knowledge. The report records the generator's training data beside the numbers.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field, field_validator

from genlab.core.errors import BadInputError
from genlab.core.html import ReportOutput, page, table
from genlab.core.io import atomic_write_text
from genlab.core.pipeline import Output, Pipeline, Request, register_pipeline
from genlab.core.seeding import make_generator
from genlab.image.io import to_pil

TASK = "image-generation"


class Augmentation(Request):
    """Options of ``genlab augment``."""

    per_class: int = Field(100, ge=1, le=100_000, description="images drawn per class")
    filter: Literal["none", "confidence"] = Field("none", description="keep only samples a judge classifies right")
    judge: str | None = Field(
        None,
        description="filter's classifier: a classifier folder or extractor name (default: the data's shipped LeNet)",
        json_schema_extra={"server": False},
    )
    min_confidence: float = Field(0.9, ge=0, le=1, description="filter: the judge's probability of the label")
    oversample: int = Field(4, ge=1, le=50, description="filter: draw at most this many times per_class")


class AugmentationStudy(Request):
    """Options of ``genlab benchmark-augmentation``."""

    data: str = Field("mnist", description="registered dataset with train and test splits (mnist, fashion-mnist)")
    real_per_class: list[int] = Field([10, 50, 100], description="real images per class (comma-separated)")
    synthetic_per_class: int = Field(500, ge=1, le=10_000, description="generated images added per class")
    seeds: int = Field(3, ge=1, le=10, description="repetitions (real draw, classifier init, samples)")
    first_seed: int = Field(0, ge=0, description="seeds run first_seed … first_seed + seeds - 1")
    steps: int = Field(600, ge=1, le=100_000, description="classifier optimiser steps (both arms)")
    filter: Literal["none", "confidence"] = Field("none", description="confidence: judged by the real-only classifier")
    min_confidence: float = Field(0.9, ge=0, le=1, description="filter threshold")
    data_dir: str | None = Field(None, description="folder of standard datasets", json_schema_extra={"server": False})

    @field_validator("real_per_class", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """``10,50,100`` (one string, or several) → [10, 50, 100]."""
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            out += [part for part in str(item).split(",") if part.strip()] if isinstance(item, str) else [item]
        if not out or any(int(v) < 1 for v in out):
            raise ValueError("give positive counts, e.g. 10,50,100")
        return [int(v) for v in out]


def synthesize(
    model: Any,
    per_class: int,
    seed: int | None = 0,
    judge: Any | None = None,
    min_confidence: float = 0.9,
    oversample: int = 4,
    batch: int = 256,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """``per_class`` images (in [-1, 1]) of each class and their labels; with ``judge`` (a callable images ->
    logits) only those it gives their label with probability ≥ ``min_confidence``. Returns the images, labels and
    the counts (drawn, kept per class)."""
    k = int(getattr(model.config, "num_classes", 0) or 0)
    if not getattr(model, "conditional", False) or k < 1:
        hint = "train a conditional model (cgan, cvae, or ddpm/flow with model.conditional=true)"
        raise BadInputError(f"{model.registry_name} is not class-conditional: its samples have no labels", hint)
    g = make_generator(seed)
    kept_images, kept_labels, drawn, kept = [], [], [0] * k, [0] * k
    limit = per_class * (oversample if judge is not None else 1)
    with torch.no_grad():
        for c in range(k):
            have: list[torch.Tensor] = []
            while sum(len(h) for h in have) < per_class and drawn[c] < limit:
                n = min(batch, limit - drawn[c])
                x = model.generate(n, torch.full((n,), c), g)
                drawn[c] += n
                if judge is not None:
                    p = judge(x).softmax(1)[:, c]
                    x = x[p >= min_confidence]
                have.append(x)
            x = torch.cat(have)[:per_class]
            kept[c] = len(x)
            kept_images.append(x)
            kept_labels.append(torch.full((len(x),), c, dtype=torch.long))
    stats = {"drawn": drawn, "kept": kept, "filter": "confidence" if judge is not None else "none"}
    if judge is not None:
        stats["min_confidence"] = min_confidence
    return torch.cat(kept_images), torch.cat(kept_labels), stats


class LabelledImagesOutput(Output):
    """Images with class labels, saved as ``folder/<class>/<i>.png`` plus ``augment.json``; encoded as a zip."""

    formats = {"zip": "application/zip"}
    suffix = ""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, class_names: list[str], info: dict[str, Any]):
        self.images, self.labels, self.class_names, self.info = images, labels, class_names, info

    def _files(self) -> list[tuple[str, Any]]:
        counts: dict[int, int] = {}
        out = []
        for pic, label in zip(to_pil(self.images), self.labels.tolist(), strict=True):
            i = counts[label] = counts.get(label, -1) + 1
            out.append((f"{self.class_names[label]}/{i:05d}.png", pic))
        return out

    def save(self, path: str | Path) -> Path:
        root = Path(path)
        if root.suffix.lower() == ".zip":
            root.write_bytes(self.encode("zip"))
            return root
        if root.exists() and any(root.iterdir()):
            raise BadInputError(f"{root} exists and is not empty", "give a new folder: the images are added to none")
        for name, pic in self._files():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            pic.save(root / name)
        atomic_write_text(root / "augment.json", json.dumps(self.info, indent=2) + "\n")
        return root

    def encode(self, format: str | None = None) -> bytes:
        import io
        import zipfile

        self.check_format(format)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, pic in self._files():
                data = io.BytesIO()
                pic.save(data, format="PNG")
                z.writestr(name, data.getvalue())
            z.writestr("augment.json", json.dumps(self.info, indent=2) + "\n")
        return buf.getvalue()

    def text(self) -> str:
        return f"{len(self.images)} images, per class {self.info['kept']}"


def _class_names(model: Any) -> list[str]:
    k = model.config.num_classes
    names = (getattr(model.provenance, "data", {}) or {}).get("class_names") or []
    return list(names) if len(names) == k else [str(i) for i in range(k)]


def _judge(model: Any, name: str | None) -> Any:
    from genlab.image.extractors import default_extractor, get_extractor

    cfg = model.config
    source = (getattr(model.provenance, "data", {}) or {}).get("source")
    extractor = get_extractor(name or default_extractor(source, cfg.image_size, cfg.channels))
    return extractor.logits


@register_pipeline("image/augment")
class AugmentPipeline(Pipeline):
    """``pipe(per_class=500, filter="confidence")`` → :class:`LabelledImagesOutput` (``.save("synthetic/")``)."""

    task = TASK
    verb = "augment"
    description = "labelled synthetic images from a conditional generator, in the folder layout the loaders read"
    request_class = Augmentation
    output_class = LabelledImagesOutput
    model_hint = "train a class-conditional model: cgan, cvae, or ddpm/flow with --set model.conditional=true"

    @classmethod
    def model_problem(cls, model) -> str | None:
        if not getattr(model, "conditional", False):
            return f"{model.registry_name} is not class-conditional: its samples have no labels"
        return None

    def default_filename(self, request: Augmentation) -> str:
        return "synthetic"

    def run(self, request: Augmentation) -> LabelledImagesOutput:
        judge = _judge(self.model, request.judge) if request.filter == "confidence" else None
        images, labels, stats = synthesize(self.model, request.per_class, request.seed, judge,
                                           request.min_confidence, request.oversample)  # fmt: skip
        info = stats | {"model": self.model.registry_name, "per_class": request.per_class, "seed": request.seed,
                        "generator_data": (getattr(self.model.provenance, "data", {}) or {}).get("source"),
                        "judge": request.judge if judge is not None else None}  # fmt: skip
        return LabelledImagesOutput(images, labels, _class_names(self.model), info)


# --------------------------------------------------------------------------- the study


def train_lenet(
    images: torch.Tensor, labels: torch.Tensor, num_classes: int, steps: int, seed: int, batch: int = 64
) -> Any:
    """A LeNet (genlab's evaluation classifier, its own loss and optimizer settings) trained for ``steps`` Adam
    steps on shuffled batches of the given images; returns it in eval mode."""
    from genlab.core.registry import MODELS

    torch.manual_seed(seed)
    cls = MODELS.get("image/lenet-classifier")
    model = cls(cls.config_class.build({"image_size": images.shape[-1], "channels": images.shape[1],
                                        "num_classes": num_classes}))  # fmt: skip
    (group,) = model.optimizer_groups()
    opt = torch.optim.Adam(group.params, lr=group.lr)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(steps):
        for p in opt.param_groups:
            p["lr"] = group.lr * 0.5 * (1 + math.cos(math.pi * step / steps))  # cosine decay to zero
        idx = torch.randint(len(images), (min(batch, len(images)),), generator=g)
        loss = model.training_losses((images[idx], labels[idx]))["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


def _accuracy(model: Any, images: torch.Tensor, labels: torch.Tensor) -> float:
    from genlab.image.classifier.model import evaluate_accuracy

    return evaluate_accuracy(model, images, labels)


def balanced_draw(images: torch.Tensor, labels: torch.Tensor, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in labels.unique().tolist():
        idx = (labels == c).nonzero().flatten()
        if len(idx) < k:
            raise BadInputError(f"class {c} has {len(idx)} training images, fewer than {k}", "lower --real-per-class")
        picks.append(idx[torch.randperm(len(idx), generator=g)[:k]])
    chosen = torch.cat(picks)
    return images[chosen], labels[chosen]


def study_splits(
    data: str, size: int, channels: int, data_dir: str | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, str]:
    """(train images, labels, test images, labels, what the test set is) of a registered dataset: its train and
    test splits, or, without a test split, a seeded fifth held out as the test set."""
    from genlab.core.registry import DATASETS
    from genlab.image.data import load_images, parse_source

    name, _ = parse_source(data)
    if name not in DATASETS:
        raise BadInputError(f"'{data}' is not a registered image dataset", "e.g. --data mnist")
    if "test" in DATASETS.get(name).splits:
        real_x, real_y = load_images(name, size, channels, 10**7, data_dir, split="train", download=False)
        test_x, test_y = load_images(name, size, channels, 10**7, data_dir, split="test", download=False)
        return real_x, real_y, test_x, test_y, f"{name}:test"
    x, y = load_images(name, size, channels, 10**7, data_dir, download=False)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(1234))
    cut = len(x) // 5
    test, train = order[:cut], order[cut:]
    return x[train], y[train], x[test], y[test], f"a seeded fifth of {name} (no test split)"


def augmentation_study(model: Any, request: AugmentationStudy) -> dict[str, Any]:
    """Test accuracy real-only vs real + synthetic per real-per-class count and seed (see the module docstring)."""
    cfg = model.config
    real_x, real_y, test_x, test_y, test_name = study_splits(request.data, cfg.image_size, cfg.channels,
                                                             request.data_dir)  # fmt: skip
    k_classes = int(real_y.max()) + 1
    if k_classes != cfg.num_classes:
        raise BadInputError(f"{request.data} has {k_classes} classes but the generator draws {cfg.num_classes}",
                            "use the dataset the generator was trained on")  # fmt: skip
    rows = []
    for k in sorted(set(request.real_per_class)):
        for seed in range(request.first_seed, request.first_seed + request.seeds):
            x, y = balanced_draw(real_x, real_y, k, seed)
            real_only = train_lenet(x, y, k_classes, request.steps, seed)
            judge = real_only if request.filter == "confidence" else None
            sx, sy, stats = synthesize(model, request.synthetic_per_class, seed, judge, request.min_confidence)
            mixed = train_lenet(torch.cat([x, sx]), torch.cat([y, sy]), k_classes, request.steps, seed)
            rows.append({"real_per_class": k, "seed": seed, "accuracy_real": _accuracy(real_only, test_x, test_y),
                         "accuracy_augmented": _accuracy(mixed, test_x, test_y), "synthetic": int(len(sx)),
                         "kept_per_class": stats["kept"]})  # fmt: skip
    summary = []
    for k in sorted(set(request.real_per_class)):
        rs = [r for r in rows if r["real_per_class"] == k]
        real = [r["accuracy_real"] for r in rs]
        aug = [r["accuracy_augmented"] for r in rs]
        gains = [100 * (a - b) for a, b in zip(aug, real, strict=True)]
        sd = statistics.stdev if len(rs) > 1 else (lambda v: 0.0)
        summary.append({"dataset": request.data, "real_per_class": k, "accuracy_real": statistics.mean(real),
                        "accuracy_real_std": sd(real), "accuracy_augmented": statistics.mean(aug),
                        "accuracy_augmented_std": sd(aug), "accuracy_gain": statistics.mean(gains),
                        "std": sd(gains), "seeds": len(rs)})  # fmt: skip
    return {
        "generator": model.registry_name,
        "generator_data": (getattr(model.provenance, "data", {}) or {}),
        "protocol": {
            "classifier": "image/lenet-classifier",
            "steps": request.steps,
            "batch": 64,
            "synthetic_per_class": request.synthetic_per_class,
            "filter": request.filter,
            "min_confidence": request.min_confidence,
            "test": test_name,
            "real": f"seeded draw of k per class from {request.data}:train",
        },  # fmt: skip
        "summary": summary,
        "runs": rows,
    }


@register_pipeline("image/benchmark-augmentation")
class AugmentationStudyPipeline(Pipeline):
    """``pipe(data="mnist", real_per_class=[10, 50, 100])`` → :class:`ReportOutput` of the study."""

    task = TASK
    verb = "benchmark-augmentation"
    served = False  # trains classifiers for minutes: a batch job, not an HTTP request
    description = "does this generator's synthetic data help a classifier? accuracy real-only vs augmented"
    request_class = AugmentationStudy
    output_class = ReportOutput
    model_problem = AugmentPipeline.model_problem
    model_hint = AugmentPipeline.model_hint

    def default_filename(self, request: AugmentationStudy) -> str:
        return "augmentation.html"

    def run(self, request: AugmentationStudy) -> ReportOutput:
        report = augmentation_study(self.model, request)
        rows = [[s["real_per_class"], f"{100 * s['accuracy_real']:.2f} ± {100 * s['accuracy_real_std']:.2f}",
                 f"{100 * s['accuracy_augmented']:.2f} ± {100 * s['accuracy_augmented_std']:.2f}",
                 f"{s['accuracy_gain']:+.2f} ± {s['std']:.2f}"] for s in report["summary"]]  # fmt: skip
        data = report["generator_data"]
        body = (
            f"<p>Generator {report['generator']}, trained on {data.get('source', '?')} "
            f"({data.get('n_train', '?')} images). Classifier: LeNet, {request.steps} Adam steps in both arms; "
            f"{request.synthetic_per_class} synthetic images per class added; test: {report['protocol']['test']}; "
            f"{request.seeds} seeds.</p>"
            + table(["real / class", "accuracy real-only (%)", "accuracy augmented (%)", "gain (points)"], rows)
        )
        return ReportOutput(report, page("Generative augmentation", body))
