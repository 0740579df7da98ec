"""Evaluation of graph generators as GraphRNN did it: ``genlab eval RUN``.

``n`` graphs are generated once (seeded) and compared with the held-out **test** split rebuilt from the data
config recorded with the model (You et al. 2018, §4.2: generated graphs vs the test set), by the maximum mean
discrepancies of :mod:`genlab.graph.metrics`:

* ``mmd_degree``, ``mmd_clustering``, ``mmd_orbit`` (counts of the 2–4-node graphlet orbits), ``mmd_spectral``
  (normalised-Laplacian eigenvalues, GRAN's addition);
* ``novelty``: share of generated graphs isomorphic to no training graph; ``uniqueness``: share of generated
  graphs isomorphic to no other generated graph.

Baselines, scored by the same metrics on the same test split: ``train_vs_test`` (the training graphs
themselves: the floor a perfect generator reaches on this split) and ``erdos_renyi`` (G(n, p) fitted to the
training graphs, as many graphs as the model draws).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field

from genlab.core.config import Config
from genlab.core.errors import ConfigError
from genlab.core.evaluation import EvalContext, register_metric, weights_field
from genlab.graph.base import TASK

DEFAULT_SAMPLES = 1024


class GraphEvalRequest(Config):
    """Options of ``genlab eval`` for graph generators."""

    n: int = Field(DEFAULT_SAMPLES, ge=2, le=100_000, description="graphs generated and compared with the test split")
    seed: int = Field(0, description="seed of the generated graphs")
    data_dir: str | None = Field(None, description="folder the recorded data source is read from (if relative)")


@dataclass
class GraphReference:
    """The graphs a protocol compares with: the training split and the held-out test split."""

    train: list
    test: list
    source: str


def model_context(task, model, request: GraphEvalRequest) -> EvalContext:
    """The context of a model: its recorded train/test split, graphs drawn by the model."""
    return EvalContext(model, task, request, draw_samples=_draw_samples, load_reference=_load_reference)


def _draw_samples(ctx: EvalContext) -> list:
    return ctx.model.sample_graphs(ctx.request.n, torch.Generator().manual_seed(ctx.request.seed))


def _load_reference(ctx: EvalContext) -> GraphReference:
    return reference_graphs(ctx.model, ctx.request)


def reference_graphs(model, request: GraphEvalRequest) -> GraphReference:
    """The training and test graphs rebuilt from the data config recorded with ``model``."""
    from genlab.graph.task import GraphDataConfig, load_split

    recorded = model.provenance.data.get("data_config")
    if not recorded:
        raise ConfigError("the model does not record its training data", "evaluate a model trained by genlab")
    values = dict(recorded)
    if request.data_dir:
        values["data_dir"] = request.data_dir
    cfg = GraphDataConfig.build(values, where="data")
    train, test, _, _ = load_split(cfg)
    source = f"{cfg.source} test split ({len(test)} graphs; seed {cfg.split_seed}, test fraction {cfg.test_fraction})"
    return GraphReference(train, test, source)


def model_protocol(ctx: EvalContext) -> dict[str, Any]:
    """Protocol fields of every graph evaluation."""
    return {
        "n_samples": ctx.request.n,
        "seed": ctx.request.seed,
        "reference": ctx.reference.source,
        "train_graphs": len(ctx.reference.train),
        **weights_field(ctx.model),
    }


def baseline_contexts(ctx: EvalContext) -> dict[str, EvalContext]:
    """The training graphs as samples (the floor) and an Erdős–Rényi model fitted to them."""
    from genlab.graph.baselines import ErdosRenyi

    ref = ctx.reference
    out = {
        "train_vs_test": ctx.derive(
            "train_vs_test",
            samples=list(ref.train),
            protocol={"train_vs_test": f"the {len(ref.train)} training graphs scored as if generated"},
        )
    }
    if not isinstance(ctx.model, ErdosRenyi):
        max_nodes = max(g.number_of_nodes() for g in ref.train)
        er = ErdosRenyi(ErdosRenyi.config_class(max_nodes=max_nodes))
        er.fit(ref.train)
        about = {"erdos_renyi": f"G(n, p) fitted to the training graphs (p={float(er.edge_density):.4f})"}
        out["erdos_renyi"] = ctx.derive("erdos_renyi", model=er.eval(), protocol=about)
    return out


# --------------------------------------------------------------------------- metrics


def _metrics_module():
    from genlab.graph import metrics

    return metrics


def _mmd_metric(key: str, function: str, doc: str) -> None:
    def fn(ctx: EvalContext) -> dict[str, float]:
        mmd = getattr(_metrics_module(), function)
        return {key: float(ctx.cached(key, lambda: mmd(ctx.reference.test, ctx.samples)))}

    fn.__doc__ = doc
    fn.__name__ = key
    register_metric(
        f"graph/{key}",
        task=TASK,
        outputs=(key,),
        needs=("samples", "reference"),
        default=True,
        on_baselines=True,
        protocol=lambda ctx: {"mmd": _metrics_module().PROTOCOL["mmd"], key: _metrics_module().PROTOCOL[key]},
    )(fn)


_mmd_metric("mmd_degree", "degree_mmd", "MMD² of degree histograms, generated vs test graphs (lower is better).")
_mmd_metric("mmd_clustering", "clustering_mmd", "MMD² of clustering-coefficient histograms, generated vs test graphs.")
_mmd_metric("mmd_orbit", "orbit_mmd", "MMD² of 4-node graphlet orbit counts, generated vs test graphs.")
_mmd_metric("mmd_spectral", "spectral_mmd", "MMD² of normalised-Laplacian spectra, generated vs test graphs.")


@register_metric(
    "graph/novelty", task=TASK, outputs=("novelty",), needs=("samples", "reference"), default=True, on_baselines=True
)
def novelty(ctx: EvalContext) -> dict[str, float]:
    """Share of generated graphs isomorphic to no training graph."""
    return {"novelty": float(_metrics_module().novelty(ctx.samples, ctx.reference.train))}


@register_metric(
    "graph/uniqueness", task=TASK, outputs=("uniqueness",), needs=("samples",), default=True, on_baselines=True
)
def uniqueness(ctx: EvalContext) -> dict[str, float]:
    """Share of generated graphs isomorphic to no other generated graph."""
    return {"uniqueness": float(_metrics_module().uniqueness(ctx.samples))}
