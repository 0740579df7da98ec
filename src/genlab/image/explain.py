"""``genlab explain``: what an image model does, on one HTML page.

For image generators (``image-generation``):

* ``--method traversal`` — latent traversals of a generator with a vector latent (VAEs, GANs): each latent
  dimension is moved from −range to +range with the others held, and its *effect size* is the mean absolute
  pixel change that move causes, averaged over ``n`` base latents. The page ranks every dimension by effect
  size (a bar chart) and draws the traversals of the ``dims`` strongest; dimensions with no effect are ones the
  model does not use (for a VAE, collapsed posterior units).
* ``--method attribution`` — what a GAN's discriminator looks at: input attributions of its realness score
  (:mod:`genlab.core.attribution`: integrated gradients from a black image, saliency or occlusion) on samples the
  generator draws, or on ``--image`` files.

For image classifiers (``image-classification``), ``--method attribution`` explains the predicted class's logit
(or ``--target``'s) on ``--image`` files.

The page shows each explained image beside its attribution heat map (absolute attribution summed over
channels); the JSON form holds the numbers (effect sizes, scores, the integrated-gradients completeness gap).
"""

from __future__ import annotations

import io
from typing import Any, Literal

import torch
from pydantic import Field

from genlab.core.attribution import METHODS, attribute
from genlab.core.errors import BadInputError
from genlab.core.html import ReportOutput, figure, img, page, png_img, table
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.core.seeding import make_generator
from genlab.image.io import make_grid

AttributionMethod = Literal["integrated-gradients", "saliency", "occlusion"]


class ImageExplanation(Request):
    """Options of ``genlab explain`` for an image generator."""

    method: Literal["traversal", "attribution"] = Field("traversal", description="traversal or attribution")
    n: int = Field(4, ge=1, le=64, description="base latents (traversal) or samples explained (attribution)")
    dims: int = Field(8, ge=1, le=64, description="traversal: the strongest dimensions drawn")
    steps: int = Field(7, ge=2, le=21, description="traversal: values per dimension")
    span: float = Field(3.0, gt=0, le=10, description="traversal: each dimension moves over [-span, span]")
    label: int | None = Field(None, ge=0, description="class of a conditional model (default: cycle the classes)")
    attribution: AttributionMethod = Field("integrated-gradients", description="attribution method")
    image: str | None = Field(None, description="attribution: explain these images (file or folder) instead of "
                              "samples", json_schema_extra={"file": "image"})  # fmt: skip


class ClassifierExplanation(Request):
    """Options of ``genlab explain`` for an image classifier."""

    image: str = Field(description="an image file, or a folder of images", json_schema_extra={"file": "image"})
    method: Literal["attribution"] = Field("attribution", description="attribution (the only method here)")
    attribution: AttributionMethod = Field("integrated-gradients", description="attribution method")
    target: int | None = Field(None, ge=0, description="class explained (default: each image's predicted class)")
    limit: int = Field(16, ge=1, le=256, description="images explained at most")


def _png(images: torch.Tensor, nrow: int) -> bytes:
    buf = io.BytesIO()
    make_grid(images, nrow=nrow).save(buf, format="PNG")
    return buf.getvalue()


def heat_maps(values: torch.Tensor) -> torch.Tensor:
    """Absolute attributions summed over channels, each map scaled to [0, 1]: (N, H, W)."""
    maps = values.abs().sum(1)
    top = maps.flatten(1).max(1).values.clamp_min(1e-12)
    return maps / top[:, None, None]


def attribution_section(images: torch.Tensor, values: torch.Tensor, captions: list[str], title: str) -> str:
    """Each image beside its heat map and the overlay."""
    maps = heat_maps(values)
    n = len(images)
    fig = figure(6.0, 2.0 * n)
    shown = ((images.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).cpu().numpy()
    for i in range(n):
        pic = shown[i][..., 0] if shown.shape[-1] == 1 else shown[i]
        cmap = "gray" if shown.shape[-1] == 1 else None
        for j, (what, data) in enumerate((("image", pic), ("attribution", maps[i].numpy()), ("overlay", pic))):
            ax = fig.add_subplot(n, 3, 3 * i + j + 1)
            ax.imshow(data, cmap=cmap if j != 1 else "inferno", vmin=0, vmax=1)
            if j == 2:
                ax.imshow(maps[i].numpy(), cmap="inferno", alpha=0.5, vmin=0, vmax=1)
            ax.set_title(f"{captions[i]}" if j == 0 else what, fontsize=7)
            ax.axis("off")
    return f"<h2>{title}</h2>" + img(fig, title)


def _attribution_report(values: Any, method: str) -> dict[str, Any]:
    out: dict[str, Any] = {"method": method}
    if values.delta is not None:
        out["completeness_gap"] = [round(float(d), 6) for d in values.delta]
    return out


@register_pipeline("image/explain")
class ImageExplainPipeline(Pipeline):
    """``pipe(method="traversal")`` / ``pipe(method="attribution")`` → :class:`ReportOutput` (HTML + JSON)."""

    task = "image-generation"
    verb = "explain"
    description = "explain an image generator: latent traversals with effect sizes, or discriminator attributions"
    request_class = ImageExplanation
    output_class = ReportOutput
    model_hint = "traversals need a generator with a vector latent; attributions a GAN's discriminator"

    @classmethod
    def model_problem(cls, model) -> str | None:
        has_vector_latent = hasattr(model, "decode") and len(getattr(model, "latent_shape", ())) == 1
        if not has_vector_latent and getattr(model, "discriminator", None) is None:
            return f"{model.registry_name} has neither a vector latent to traverse nor a discriminator to explain"
        return None

    def default_filename(self, request: ImageExplanation) -> str:
        return f"explain-{request.method}.html"

    def run(self, request: ImageExplanation) -> ReportOutput:
        if request.method == "traversal":
            report, body = self.traversal(request)
        else:
            report, body = self.attribution(request)
        report |= {"model": self.model.registry_name, "seed": request.seed}
        title = f"{self.model.registry_name}: {request.method}"
        return ReportOutput(report, page(title, body))

    def _labels(self, n: int, label: int | None) -> torch.Tensor | None:
        if not getattr(self.model, "conditional", False):
            if label is not None:
                raise BadInputError(f"{self.model.registry_name} is unconditional and takes no label")
            return None
        return self.model.check_labels(None if label is None else torch.full((n,), label), n)

    @torch.no_grad()
    def traversal(self, request: ImageExplanation) -> tuple[dict[str, Any], str]:
        model = self.model
        shape = getattr(model, "latent_shape", ())
        if not hasattr(model, "decode") or len(shape) != 1:
            raise BadInputError(f"{model.registry_name} has no vector latent to traverse",
                                "use --method attribution (GANs), or a VAE/GAN run")  # fmt: skip
        g = make_generator(request.seed)
        base = model.sample_latent(request.n, g)
        labels = self._labels(request.n, request.label)
        size = shape[0]
        effects = torch.zeros(size)
        for d in range(size):  # effect of moving dimension d from -span to +span, with the others held
            low, high = base.clone(), base.clone()
            low[:, d], high[:, d] = -request.span, request.span
            effects[d] = (model.decode(high, labels) - model.decode(low, labels)).abs().mean()
        order = effects.argsort(descending=True).tolist()
        values = torch.linspace(-request.span, request.span, request.steps)
        rows = []
        for d in order[: request.dims]:
            z = base[:1].repeat(request.steps, 1)
            z[:, d] = values
            rows.append(model.decode(z, None if labels is None else labels[:1].repeat(request.steps)).clamp(-1, 1))
        grid = _png(torch.cat(rows), nrow=request.steps)
        fig = figure(min(10.0, 1.5 + 0.12 * size), 2.6)
        ax = fig.add_subplot()
        ax.bar(range(size), [float(effects[d]) for d in order], color="#1f5fa8")
        ax.set_xlabel("latent dimensions, strongest first", fontsize=8)
        ax.set_ylabel("mean |Δ pixel|", fontsize=8)
        ax.tick_params(labelsize=7)
        used = int((effects > 0.1 * effects.max()).sum()) if float(effects.max()) > 0 else 0
        report = {"method": "traversal", "latent_dim": size, "span": request.span, "steps": request.steps,
                  "effect_size": [round(float(e), 6) for e in effects], "ranking": order,
                  "dimensions_used": used}  # fmt: skip
        body = (
            f"<p>{size} latent dimensions; {used} move the image by more than a tenth of the strongest one. Effect "
            f"size: mean absolute pixel change (images in [−1, 1]) when one dimension goes from −{request.span:g} "
            f"to +{request.span:g}, over {request.n} base latents.</p>"
            + img(fig, "effect size per latent dimension")
            + f"<h2>Traversals of the {len(rows)} strongest dimensions</h2>"
            + "<p class=note>one row per dimension (rank order), values "
            + ", ".join(f"{v:.2g}" for v in values.tolist())
            + "</p>"
            + png_img(grid, "latent traversals", width=min(1000, 90 * request.steps))
            + table(["rank", "dimension", "effect size"], [[i + 1, d, float(effects[d])] for i, d in enumerate(order)])
        )
        return report, body

    def attribution(self, request: ImageExplanation) -> tuple[dict[str, Any], str]:
        model = self.model
        disc = getattr(model, "discriminator", None)
        if disc is None:
            raise BadInputError(f"{model.registry_name} has no discriminator to explain",
                                "use --method traversal for VAEs")  # fmt: skip
        if request.image:
            from genlab.image.data import load_image_files

            images, names = load_image_files(request.image, model.config.image_size, model.config.channels)
            images, names = images[: request.n], names[: request.n]
        else:
            with torch.no_grad():
                images = model.generate(request.n, self._labels(request.n, request.label), make_generator(request.seed))
            names = [f"sample {i}" for i in range(len(images))]
        labels = self._labels(len(images), request.label)

        def realness(x: torch.Tensor) -> torch.Tensor:
            y = None if labels is None else labels[: len(x)].repeat(max(1, len(x) // len(labels)))[: len(x)]
            return disc(x, y) if labels is not None else disc(x)

        with torch.no_grad():
            scores = realness(images)
        values = attribute(realness, images, request.attribution, baseline=-1.0)
        captions = [f"{n}: score {float(s):.2f}" for n, s in zip(names, scores, strict=True)]
        report = _attribution_report(values, request.attribution) | {
            "explained": "discriminator realness score", "images": names,
            "scores": [round(float(s), 6) for s in scores], "baseline": "black image (-1)",
        }  # fmt: skip
        body = (
            f"<p>Attributions ({request.attribution}) of the discriminator's realness score: which pixels make it "
            f"call an image real (higher score: more real). Integrated gradients start from a black image.</p>"
            + attribution_section(images, values.values, captions, "Discriminator attributions")
        )
        return report, body


@register_pipeline("image/explain-classifier")
class ClassifierExplainPipeline(Pipeline):
    """``pipe(image="x.png")`` → :class:`ReportOutput`: attributions of the predicted (or ``target``) class."""

    task = "image-classification"
    verb = "explain"
    description = "explain an image classifier's decisions: input attributions of the class logit"
    request_class = ClassifierExplanation
    output_class = ReportOutput

    def default_filename(self, request: ClassifierExplanation) -> str:
        return "explain-attribution.html"

    def run(self, request: ClassifierExplanation) -> ReportOutput:
        from genlab.image.data import load_image_files

        model, cfg = self.model, self.model.config
        images, names = load_image_files(request.image, cfg.image_size, cfg.channels)
        images, names = images[: request.limit], names[: request.limit]
        with torch.no_grad():
            probs = model(images).softmax(1)
        k = probs.shape[1]
        if request.target is not None and request.target >= k:
            raise BadInputError(f"--target {request.target} is not a class of this model", f"classes: 0 … {k - 1}")
        targets = torch.full((len(images),), request.target) if request.target is not None else probs.argmax(1)
        class_names = list(cfg.class_names) if cfg.class_names else [str(i) for i in range(k)]

        def logit(x: torch.Tensor) -> torch.Tensor:
            return model(x).gather(1, targets[: len(x)].repeat(max(1, len(x) // len(targets)))[: len(x), None])[:, 0]

        values = attribute(logit, images, request.attribution, baseline=-1.0)
        captions = [f"{n}: {class_names[int(t)]} ({float(probs[i, t]):.2f})"
                    for i, (n, t) in enumerate(zip(names, targets, strict=True))]  # fmt: skip
        report = _attribution_report(values, request.attribution) | {
            "model": model.registry_name, "explained": "class logit", "images": names,
            "targets": [class_names[int(t)] for t in targets],
            "probabilities": [round(float(probs[i, t]), 6) for i, t in enumerate(targets)],
            "baseline": "black image (-1)",
        }  # fmt: skip
        body = (
            f"<p>Attributions ({request.attribution}) of the logit of each image's "
            f"{'chosen' if request.target is not None else 'predicted'} class. Integrated gradients start from a "
            f"black image; {', '.join(METHODS)} are available.</p>"
            + attribution_section(images, values.values, captions, "Class attributions")
        )
        return ReportOutput(report, page(f"{model.registry_name}: attribution", body))
