"""``genlab eval`` of molecule models: the MOSES metrics as registered metrics of the ``molecules`` task.

Samples are drawn once (``n`` strings at ``temperature``, seeded) and shared by every metric; the
training molecules (for novelty) are re-read from the data the model records; the reference set of
FCD/SNN/Frag/Scaf is ``--ref`` (a dataset split such as ``moses:test_scaffolds``, or a SMILES file),
by default the ``test`` split of the training dataset, or the held-out validation molecules of a model
trained on a file. See :mod:`genlab.molecule.metrics` for the definitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from genlab.core.config import Config
from genlab.core.data import parse_source
from genlab.core.errors import ConfigError
from genlab.core.evaluation import EvalContext, register_metric
from genlab.core.registry import DATASETS
from genlab.core.seeding import make_generator
from genlab.molecule import metrics
from genlab.molecule.models import TASK

UNIQUE_AT = (1000, 10000)


class MoleculeEvalRequest(Config):
    """Options of ``genlab eval`` for molecule models."""

    n: int = Field(10000, ge=2, description="strings sampled for the metrics (MOSES reports unique@10k)")
    seed: int = Field(0, description="seed of the samples")
    temperature: float = Field(1.0, gt=0, description="sampling temperature")
    ref: str | None = Field(
        None, description="reference molecules: a dataset split (moses:test_scaffolds) or a SMILES file"
    )
    data_dir: str | None = Field(None, description="folder of standard datasets")


@dataclass
class MoleculeSamples:
    """Every string sampled (``raw``) and the valid ones in canonical form (``valid``, duplicates kept)."""

    raw: list[str]
    valid: list[str]


@dataclass
class MoleculeReference:
    """The training molecules (novelty) and the reference molecules (FCD, SNN, Frag, Scaf), canonical."""

    train: list[str]
    reference: list[str]
    train_source: str
    reference_source: str


def model_context(task: Any, model: Any, request: MoleculeEvalRequest) -> EvalContext:
    """The context of a model: samples from ``sample_smiles``, references from the model's recorded data."""
    return EvalContext(model, task, request, draw_samples=_draw_samples, load_reference=_load_reference)


def _draw_samples(ctx: EvalContext) -> MoleculeSamples:
    r = ctx.request
    raw = ctx.model.sample_smiles(r.n, generator=make_generator(r.seed), temperature=r.temperature)
    return MoleculeSamples(raw, metrics.canonical_valid(raw))


def _load_reference(ctx: EvalContext) -> MoleculeReference:
    return reference_sets(ctx.model.provenance.data, ctx.request.ref, ctx.request.data_dir)


def reference_sets(data: dict[str, Any], ref: str | None = None, data_dir: str | None = None) -> MoleculeReference:
    """Training and reference molecules of a model's recorded data (``data.json``), ``ref`` overriding the
    reference."""
    from genlab.molecule.data import MoleculeDataConfig, load_molecule_data, load_source

    if not data.get("source"):
        raise ConfigError("the model does not record its training data", "evaluate a model trained by genlab")
    values = dict(data.get("data_config") or {"source": data["source"]})
    if data_dir:
        values["data_dir"] = data_dir
    cfg = MoleculeDataConfig.build(values, where="data")
    train_set, val_set, _ = load_molecule_data(cfg)
    train = train_set.smiles + (val_set.smiles if val_set is not None else [])
    name, _ = parse_source(cfg.source)
    if ref:
        reference, ref_source = load_source(ref, data_dir=cfg.data_dir).smiles, ref
    elif name in DATASETS and "test" in DATASETS.get(name).splits:
        reference, ref_source = load_source(name, "test", cfg.data_dir).smiles, f"{name}:test"
    elif val_set is not None:
        reference, ref_source = val_set.smiles, f"{cfg.source} (held-out validation molecules)"
    else:
        raise ConfigError(
            f"the model's data ({cfg.source}) has no test split or validation molecules to compare with",
            "give reference molecules with --ref FILE.smi (or a dataset split such as moses:test)",
        )
    return MoleculeReference(train, reference, cfg.source, ref_source)


def protocol(ctx: EvalContext) -> dict[str, Any]:
    """Protocol fields of every molecule evaluation."""
    r, s, ref = ctx.request, ctx.samples, ctx.reference
    return {
        "n_samples": r.n,
        "n_valid": len(s.valid),
        "seed": r.seed,
        "temperature": r.temperature,
        "train_source": ref.train_source,
        "n_train": len(ref.train),
        "reference": ref.reference_source,
        "n_reference": len(ref.reference),
        "definitions": "MOSES (Polykovskiy et al. 2020); metrics other than validity/uniqueness on the valid "
        "molecules, canonical, duplicates kept",
    }


# --- registered metrics -----------------------------------------------------------------------------------
def _metric(key: str, outputs: tuple[str, ...], needs: tuple[str, ...] = ("samples",), protocol_fn=None):
    def deco(fn):
        register_metric(f"molecule/{key}", task=TASK, outputs=outputs, needs=needs, default=True, protocol=protocol_fn)(
            fn
        )
        return fn

    return deco


@_metric("validity", ("validity",))
def validity(ctx: EvalContext) -> dict[str, float]:
    """Share of sampled strings that are valid molecules (RDKit)."""
    s = ctx.samples
    return {"validity": len(s.valid) / len(s.raw) if s.raw else float("nan")}


def _unique_protocol(ctx: EvalContext) -> dict[str, Any]:
    n = len(ctx.samples.valid)
    return {f"uniqueness_{k // 1000}k_over": min(k, n) for k in UNIQUE_AT}


@_metric("uniqueness", tuple(f"uniqueness_{k // 1000}k" for k in UNIQUE_AT), protocol_fn=_unique_protocol)
def uniqueness(ctx: EvalContext) -> dict[str, float]:
    """unique@1k and unique@10k: distinct share of the first 1,000 / 10,000 valid molecules."""
    return {f"uniqueness_{k // 1000}k": metrics.unique_at_k(ctx.samples.valid, k) for k in UNIQUE_AT}


@_metric("novelty", ("novelty",), ("samples", "reference"))
def novelty(ctx: EvalContext) -> dict[str, float]:
    """Share of distinct valid molecules not in the training set."""
    return {"novelty": metrics.novelty(ctx.samples.valid, ctx.reference.train)}


def _gen_fps(ctx: EvalContext):
    return ctx.cached("gen_fps", lambda: metrics.fingerprints(ctx.samples.valid))


@_metric("internal_diversity", ("internal_diversity", "internal_diversity_2"))
def internal_diversity(ctx: EvalContext) -> dict[str, float]:
    """IntDiv1 and IntDiv2 of the valid molecules (Morgan r=2, 1,024 bits, Tanimoto)."""
    fps = _gen_fps(ctx)
    valid = ctx.samples.valid
    return {
        "internal_diversity": metrics.internal_diversity(valid, 1, fps),
        "internal_diversity_2": metrics.internal_diversity(valid, 2, fps),
    }


def _fcd_protocol(ctx: EvalContext) -> dict[str, Any]:
    return {"fcd_model": "ChemNet v0.13 (fcd_torch)"}


@_metric("fcd", ("fcd",), ("samples", "reference"), _fcd_protocol)
def fcd(ctx: EvalContext) -> dict[str, float]:
    """Fréchet ChemNet Distance to the reference molecules (lower is better)."""
    model = ctx.cached("fcd_model", metrics.fcd_model)
    ref_stats = ctx.cached("fcd_ref", lambda: metrics.fcd_statistics(ctx.reference.reference, model))
    return {"fcd": metrics.fcd(ctx.samples.valid, ctx.reference.reference, model, ref_stats)}


@_metric("snn", ("snn",), ("samples", "reference"))
def snn(ctx: EvalContext) -> dict[str, float]:
    """Mean Tanimoto similarity of each valid molecule to its nearest reference molecule."""
    ref_fps = ctx.cached("ref_fps", lambda: metrics.fingerprints(ctx.reference.reference))
    return {"snn": metrics.snn(ctx.samples.valid, ctx.reference.reference, _gen_fps(ctx), ref_fps)}


@_metric("frag", ("frag",), ("samples", "reference"))
def frag(ctx: EvalContext) -> dict[str, float]:
    """Cosine similarity of BRICS fragment counts with the reference molecules."""
    return {"frag": metrics.frag_similarity(ctx.samples.valid, ctx.reference.reference)}


@_metric("scaf", ("scaf",), ("samples", "reference"))
def scaf(ctx: EvalContext) -> dict[str, float]:
    """Cosine similarity of Bemis–Murcko scaffold counts with the reference molecules."""
    return {"scaf": metrics.scaf_similarity(ctx.samples.valid, ctx.reference.reference)}


@_metric("filters", ("filters",))
def filters(ctx: EvalContext) -> dict[str, float]:
    """Share of valid molecules passing the MOSES filters (atoms, charge, rings, MCF, PAINS)."""
    return {"filters": metrics.filters(ctx.samples.valid)}
