"""Sampling defaults chosen on validation data: the end of a diffusion/flow run and ``genlab tune-guidance RUN``.

Training fixes the network, not how it is sampled: the classifier-free guidance scale of a conditional model
(Ho & Salimans 2022: higher scales trade diversity for fidelity) and the number of sampler steps both move the
quality of the samples, and the best values depend on how well the model is trained. Instead of fixed defaults,
a sweep bounded in time scores candidates on the run's **validation split** (never the test split that
``genlab eval`` and the benchmarks report):

* every candidate draws ``n`` images from the same starting noise and labels (common random numbers: two
  candidates differ by their options alone), scored by FID and KID against ``n`` validation images in the
  feature space of the evaluation protocol's extractor (:func:`genlab.image.extractors.default_extractor`);
* the search is coordinate-wise: the guidance scales at the default step count first, then the step counts
  at the best scale (``|G| + |S| - 1`` candidates instead of ``|G|·|S|``);
* a candidate whose cost, estimated from the ones already drawn, would overrun ``max_minutes`` is skipped and
  recorded as skipped; the defaults are always scored;
* the choice is the candidate with the fewest steps among those within ``tolerance`` (relative) of the best
  score **and** no worse than the defaults' score; ties go to the better score. So the chosen options are never
  worse than the defaults on the validation metric.

The choice becomes the model's ``guidance_scale`` / ``sample_steps`` (what ``genlab sample`` uses); the sweep is
recorded in the model config (``sampling_sweep``) and in the model card.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Literal

import torch
import yaml
from pydantic import Field

from genlab.core.config import Config
from genlab.core.console import info
from genlab.core.errors import BadInputError, DataError
from genlab.image.metrics import fid_from_features, kid_from_features

CARD_HEADING = "## Sampling defaults chosen on validation data"
DEFAULT_GUIDANCE = (1.0, 1.5, 2.0, 3.0)


class GuidanceSweep(Config):
    """Options of the sweep (``genlab tune-guidance`` flags; ``model.tune_*`` at the end of training)."""

    guidance: list[float] | None = Field(
        None, description="guidance scales to try (conditional models; default 1, 1.5, 2, 3 and the current default)"
    )
    steps: list[int] | None = Field(None, description="sampler step counts to try (default: ½×, 1× and 2× the default)")
    n: int = Field(300, ge=2, description="images drawn per candidate, and validation images they are scored against")
    metric: Literal["fid", "kid"] = Field("fid", description="the validation metric the choice minimises")
    max_minutes: float = Field(10.0, gt=0, description="time bound of the sweep (the defaults are always scored)")
    tolerance: float = Field(0.02, ge=0, lt=1, description="fewer steps win when within this share of the best score")
    seed: int = Field(0, description="seed of the starting noise shared by every candidate")


def candidate_grid(model, options: GuidanceSweep) -> tuple[list[float | None], list[int]]:
    """The guidance scales (``[None]`` for an unconditional model) and step counts of the sweep, defaults included."""
    c = model.config
    if model.conditional:
        scales = sorted({float(g) for g in (options.guidance or DEFAULT_GUIDANCE)} | {float(c.guidance_scale)})
        if any(g < 0 for g in scales):
            raise BadInputError(f"guidance scales must be ≥ 0, got {scales}", "1 = no guidance; 1–4 is typical")
    else:
        if options.guidance:
            raise BadInputError(
                f"{model.registry_name} is unconditional: it has no guidance scale to tune", "drop --guidance"
            )
        scales = [None]
    steps = sorted({int(s) for s in (options.steps or (max(1, c.sample_steps // 2), 2 * c.sample_steps))}
                   | {int(c.sample_steps)})  # fmt: skip
    if steps[0] < 1:
        raise BadInputError(f"step counts must be ≥ 1, got {steps}", "e.g. --steps 10,25,50")
    return scales, steps


def _cost_units(steps: int, guidance: float | None) -> int:
    """Network evaluations per image, up to a constant: guidance other than 0 and 1 runs the UNet twice."""
    return steps * (2 if guidance not in (None, 0.0, 1.0) else 1)


def sweep(model, real: torch.Tensor, extractor, options: GuidanceSweep) -> dict[str, Any]:
    """Score the candidates against the validation images ``real`` (N, C, H, W) in [-1, 1]; returns the record
    (``candidates``, ``skipped``, ``default``, ``chosen`` and the protocol) without changing the model."""
    from genlab.image.evaluation import KID_SUBSET_SIZE, KID_SUBSETS, generate

    n = min(options.n, len(real))
    if n < 2:
        raise DataError(f"{len(real)} validation images: too few to score samples against", "hold out more images")
    c = model.config
    scales, step_counts = candidate_grid(model, options)
    default = (float(c.guidance_scale) if model.conditional else None, int(c.sample_steps))
    real_features = extractor.features(real[:n])
    started, unit_seconds = time.monotonic(), None
    scored: dict[tuple[float | None, int], dict[str, Any]] = {}
    skipped: list[dict[str, Any]] = []

    def score(guidance: float | None, steps: int) -> None:
        nonlocal unit_seconds
        if (guidance, steps) in scored:
            return
        elapsed = time.monotonic() - started
        if unit_seconds is not None and (guidance, steps) != default:
            estimate = unit_seconds * n * _cost_units(steps, guidance)
            if elapsed + estimate > 60 * options.max_minutes:
                skipped.append({"guidance": guidance, "steps": steps, "estimated_seconds": round(estimate, 1)})
                return
        t0 = time.monotonic()
        images = generate(model, n, options.seed, steps=steps, guidance_scale=guidance)
        fake = extractor.features(images)
        seconds = time.monotonic() - t0
        units = n * _cost_units(steps, guidance)
        unit_seconds = seconds / units if unit_seconds is None else max(unit_seconds, seconds / units)
        kid, _ = kid_from_features(real_features, fake, KID_SUBSETS, min(n, KID_SUBSET_SIZE), seed=options.seed)
        row = {"guidance": guidance, "steps": steps, "fid": round(fid_from_features(real_features, fake), 4),
               "kid": round(kid, 6), "seconds": round(seconds, 1)}  # fmt: skip
        scored[(guidance, steps)] = row
        shown = "" if guidance is None else f"guidance {guidance:g}, "
        info(f"sampling sweep: {shown}{steps} steps → FID {row['fid']:.2f}, KID {row['kid']:.4f} ({seconds:.0f} s)")

    score(*default)
    for guidance in scales:  # guidance at the default steps …
        score(guidance, default[1])
    best_scale = min((r for r in scored.values() if r["steps"] == default[1]), key=lambda r: r[options.metric])
    for steps in step_counts:  # … then steps at the best scale
        score(best_scale["guidance"], steps)
    chosen = choose(list(scored.values()), scored[default], options.metric, options.tolerance)
    record = {
        "metric": options.metric,
        "n": n,
        "reference": "validation split",
        "extractor": extractor.name,
        "sampler": c.sampler,
        "seed": options.seed,
        "tolerance": options.tolerance,
        "max_minutes": options.max_minutes,
        "minutes": round((time.monotonic() - started) / 60, 2),
        "default": scored[default],
        "chosen": chosen,
        "candidates": list(scored.values()),
        "skipped": skipped,
    }
    return record | {"summary": describe(record)}


def choose(rows: list[dict[str, Any]], default: dict[str, Any], metric: str, tolerance: float) -> dict[str, Any]:
    """The candidate with the fewest steps among those within ``tolerance`` of the best score and no worse than
    ``default``'s; ties go to the better score. ``default`` is among ``rows``, so there is always one."""
    best = min(r[metric] for r in rows)
    bound = min(default[metric], best + tolerance * abs(best))
    eligible = [r for r in rows if r[metric] <= bound]
    return min(eligible, key=lambda r: (r["steps"], r[metric]))


def apply(model, record: dict[str, Any]) -> None:
    """Make the sweep's choice the model's sampling defaults and keep the record in its config."""
    chosen = record["chosen"]
    if chosen["guidance"] is not None:
        model.config.guidance_scale = float(chosen["guidance"])
    model.config.sample_steps = int(chosen["steps"])
    model.config.sampling_sweep = record


def _scale(r: dict[str, Any]) -> str:
    return "–" if r["guidance"] is None else f"{r['guidance']:g}"


def _options(r: dict[str, Any]) -> str:
    return (f"guidance {r['guidance']:g}, " if r["guidance"] is not None else "") + f"{r['steps']} steps"


def card_section(record: dict[str, Any]) -> str:
    """Markdown for the model card: the sweep's table and its choice."""
    chosen, default = record["chosen"], record["default"]
    rows = [f"| {_scale(r)} | {r['steps']} | {r['fid']:.2f} | {r['kid']:.3g} | {r['seconds']:.0f} |"
            for r in record["candidates"]]  # fmt: skip
    lines = [
        CARD_HEADING,
        "",
        f"{record['n']} images per candidate against {record['n']} images of the validation split, "
        f"{record['extractor']} features, sampler {record['sampler']}, seed {record['seed']} (same noise for every "
        f"candidate); chosen on {record['metric'].upper()} in {record['minutes']:.1f} min.",
        "",
        f"- defaults before: {_options(default)} ({record['metric'].upper()} {default[record['metric']]:.4g})",
        f"- **chosen: {_options(chosen)}** ({record['metric'].upper()} {chosen[record['metric']]:.4g}); "
        "`genlab sample` uses it",
        "",
        "| guidance | steps | FID | KID | seconds |",
        "|---|---|---|---|---|",
        *rows,
    ]
    if record["skipped"]:
        lines += ["", "Skipped for time: " + ", ".join(_options(s) for s in record["skipped"])]
    return "\n".join(lines) + "\n"


def with_card_section(card: str, section: str) -> str:
    """``card`` with its sweep section replaced by ``section`` (appended when it has none)."""
    head, found, rest = card.partition(CARD_HEADING)
    if found:
        tail = rest.find("\n## ")
        rest = rest[tail + 1 :] if tail >= 0 else ""
        return head.rstrip("\n") + "\n\n" + section + ("\n" + rest if rest else "")
    return card.rstrip("\n") + "\n\n" + section


def validation_images(val_images: torch.Tensor | None, n: int) -> torch.Tensor:
    """The first ``n`` validation images (uint8 or float) as float (N, C, H, W) in [-1, 1]."""
    if val_images is None or len(val_images) == 0:
        raise DataError("the run has no validation split to choose sampling options on",
                        "train with --val-fraction > 0 (the default is 0.05)")  # fmt: skip
    x = val_images[:n]
    return x.float() / 127.5 - 1 if x.dtype == torch.uint8 else x.float()


def extractor_for(model, source: str | None):
    """The evaluation protocol's extractor for the model's data (raises when it cannot be built offline)."""
    from genlab.image.extractors import default_extractor, get_extractor

    c = model.config
    return get_extractor(default_extractor(source, c.image_size, c.channels))


def after_training(model, val_images: torch.Tensor | None, source: str | None) -> str:
    """The end-of-training sweep (``model.tune_minutes`` > 0); returns the card section, or a note why the
    defaults were kept. Never fails the run: a sweep that cannot run leaves the defaults."""
    c = model.config
    if not c.tune_minutes:
        return ""
    options = GuidanceSweep(n=c.tune_n, max_minutes=c.tune_minutes)
    reason = None
    if val_images is None or len(val_images) < c.tune_min_val:
        count = 0 if val_images is None else len(val_images)
        reason = f"{count} validation images (< model.tune_min_val = {c.tune_min_val})"
    else:
        try:
            extractor = extractor_for(model, source)
        except Exception as e:  # e.g. Inception weights not available offline
            reason = f"no feature extractor ({e})"
    if reason:
        info(f"sampling defaults kept (guidance {c.guidance_scale:g}, {c.sample_steps} steps): {reason}")
        return f"{CARD_HEADING}\n\nDefaults kept: {reason}. Run `genlab tune-guidance RUN` to choose them.\n"
    record = sweep(model, validation_images(val_images, options.n), extractor, options)
    apply(model, record)
    return card_section(record)


def tune_run(run: str | Path, options: GuidanceSweep, data_dir: str | None = None) -> dict[str, Any]:
    """``genlab tune-guidance RUN``: sweep on the run's validation split, then rewrite its model (config and card)
    with the choice; returns the record."""
    from genlab.core import checkpoint
    from genlab.core.model import GenerativeModel
    from genlab.core.runs import resolve_model_dir
    from genlab.image.data import ImageDataConfig, load_image_data

    model_dir = resolve_model_dir(run)
    model = GenerativeModel.from_pretrained(model_dir)
    if not hasattr(model.config, "sampling_sweep"):
        raise BadInputError(
            f"{model.registry_name} has no sampling options to tune",
            "tune-guidance takes image/ddpm and image/flow runs",
        )
    run_config = model_dir.parent / "config.yaml"
    if not run_config.is_file():
        raise DataError(f"{model_dir} is not inside a run (no {run_config.name} beside it)",
                        "tune-guidance needs the run's validation split: pass runs/<task>/<name>")  # fmt: skip
    data = dict(yaml.safe_load(run_config.read_text(encoding="utf-8")).get("data") or {})
    if data_dir is not None:
        data["data_dir"] = str(data_dir)
    _, val, _ = load_image_data(ImageDataConfig.build(data, where=str(run_config)))
    record = sweep(model, validation_images(None if val is None else val.images, options.n),
                   extractor_for(model, data.get("source")), options)  # fmt: skip
    apply(model, record)
    meta = checkpoint.read_meta(model_dir)
    card_path = model_dir / "README.md"
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else ""
    written = ("model", "class_name", "task", "config", "genlab_version", "weights_sha256")  # save_pretrained's own
    extra = {k: v for k, v in meta.items() if k not in written}
    model.save_pretrained(model_dir, card=with_card_section(card, card_section(record)), extra=extra)
    return record


def describe(record: dict[str, Any]) -> str:
    """One line: the choice against the defaults."""
    m, d, c = record["metric"], record["default"], record["chosen"]
    change = "" if math.isclose(c[m], d[m]) else f" ({c[m] - d[m]:+.4g})"
    return f"chosen {_options(c)}: {m.upper()} {c[m]:.4g} vs defaults {_options(d)} {d[m]:.4g}{change}"
