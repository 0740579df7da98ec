"""The ``node-classification`` task: its evaluation (accuracy on held-out nodes) and the ``classify-nodes`` verb.

``genlab train node-classification --model gcn|gat|gin --data builtin:karate|FILE`` trains a node
classifier (data and models: :mod:`genlab.graph.node`); ``genlab eval RUN`` reports its ``accuracy`` on
the held-out test nodes of the training graph (the seeded per-class split is recorded with the model
and rebuilt), or on every labelled node of another graph (``--ref FILE``, for degree- or
attribute-featured models), beside two baselines that need no training: the majority class of the
training nodes, and label propagation (Zhu, Ghahramani & Lafferty, 2003, the harmonic function,
``networkx.node_classification.harmonic_function``) from the training nodes' labels.
``genlab classify-nodes RUN [--graph FILE]`` writes every node's predicted class and probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import torch
from pydantic import Field

from genlab.__about__ import __version__
from genlab.core.classification import ClassificationOutput
from genlab.core.config import Config
from genlab.core.errors import BadInputError, DataError
from genlab.core.evaluation import EvalContext, MetricSpec, register_metric, weights_field
from genlab.core.model import GenerativeModel
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.core.registry import TASKS
from genlab.core.task import Task
from genlab.graph.node import TASK, FullGraph, NodeClassifier, NodeDataConfig, NodeDataInfo, NodeGraph, load_node_graph

MAX_DRAWN_NODES = 500  # larger graphs get a CSV of predictions instead of a drawing


# --------------------------------------------------------------------------- evaluation


class NodeClassificationEvalRequest(Config):
    """Options of ``genlab eval`` for node classifiers."""

    ref: str | None = Field(
        None, description="a labelled graph file to score every labelled node of (default: the held-out test nodes "
        "of the training graph)",
    )  # fmt: skip
    ref_labels: str | None = Field(None, description="labels CSV (node,label) of --ref (default: its node attribute)")
    data_dir: str | None = Field(None, description="folder a relative graph path is read from")
    seed: int = Field(0, description="unused: scoring draws nothing at random")


@dataclass
class HeldOutNodes:
    """The graph a classifier is scored on, the nodes scored (``mask``) and the training nodes of the baselines."""

    source: str
    split: str
    data: NodeGraph
    mask: torch.Tensor

    def protocol(self) -> dict[str, Any]:
        return {"reference": self.source, "reference_split": self.split, "n_reference": int(self.mask.sum())}


def load_reference(ctx: EvalContext) -> HeldOutNodes:
    """The nodes to score (module docstring), with features built as the model was trained."""
    model, request = ctx.model, ctx.request
    recorded = dict(model.provenance.data.get("config") or {})
    if request.ref:
        values = {**recorded, "source": request.ref, "labels": request.ref_labels, "data_dir": request.data_dir}
        values |= {"features": model.config.features, "max_degree": model.config.max_degree}
        data, _ = load_node_graph(NodeDataConfig.build(values, where="eval"))
        mask = data.y >= 0
        data.train_mask = torch.zeros_like(mask)  # no node of another graph trained the model: no baselines
        split = f"every labelled node of {request.ref}"
    elif not recorded:
        raise BadInputError(
            "no reference data: the model does not record the graph it was trained on",
            "pass --ref with a labelled graph file",
        )
    else:
        if request.data_dir:
            recorded["data_dir"] = request.data_dir
        data, _ = load_node_graph(NodeDataConfig.build(recorded, where="eval"))
        mask = data.test_mask
        split = (
            f"held-out test nodes (test_fraction {recorded.get('test_fraction')}, seed {recorded.get('split_seed')})"
        )
    if data.class_names != model.class_names:
        raise DataError(
            f"the reference classes {data.class_names} differ from the model's {model.class_names}",
            "score on a graph labelled with the same classes",
        )
    data.x = model.features_of(data.graph)
    if not bool(mask.any()):
        raise DataError(
            "no labelled node to score", "give a graph with labelled nodes, or retrain with --test-fraction"
        )
    return HeldOutNodes(request.ref or recorded.get("source", "?"), split, data, mask)


class MajorityClass:
    """Baseline: every node gets the most frequent class among the training nodes."""

    def __init__(self, data: NodeGraph):
        counts = torch.bincount(data.y[data.train_mask], minlength=len(data.class_names))
        self.choice = int(counts.argmax())
        self.num_classes = len(data.class_names)

    def node_probabilities(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(torch.full((len(x),), self.choice), self.num_classes).float()


class LabelPropagation:
    """Baseline: the harmonic function of the training nodes' labels (Zhu et al. 2003), networkx's implementation."""

    def __init__(self, data: NodeGraph):
        self.data = data

    def node_probabilities(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        d = self.data
        g = nx.Graph()
        g.add_nodes_from(range(len(d.y)))
        g.add_edges_from(d.graph.edges())
        for v in torch.nonzero(d.train_mask).flatten().tolist():
            g.nodes[v]["label"] = int(d.y[v])
        predicted = nx.node_classification.harmonic_function(g, label_name="label")
        return torch.nn.functional.one_hot(torch.tensor(predicted), len(d.class_names)).float()


@register_metric(
    "graph/accuracy",
    task=TASK,
    outputs=("accuracy",),
    needs=("model", "reference"),
    default=True,
    on_baselines=True,
    protocol=lambda ctx: {"accuracy": "top-1 over the scored nodes, full-graph forward pass, model in eval mode"},
)
def accuracy(ctx: EvalContext) -> dict[str, float]:
    """Top-1 accuracy of the node classifier on the held-out nodes."""
    ref = ctx.reference
    predicted = ctx.model.node_probabilities(ref.data.x, ref.data.edge_index).argmax(1)
    return {"accuracy": float((predicted[ref.mask] == ref.data.y[ref.mask]).float().mean())}


# --------------------------------------------------------------------------- the classify-nodes verb


class ClassifyNodes(Request):
    """Options of ``genlab classify-nodes``."""

    graph: str | None = Field(
        None,
        description="graph file whose nodes to classify (default: the training graph)",
        json_schema_extra={"file": "graph"},
    )
    seed: int | None = Field(
        None, description="unused: classifying draws nothing at random", json_schema_extra={"cli": False}
    )


@register_pipeline("graph/classify-nodes")
class NodeClassificationPipeline(Pipeline):
    """``pipe()`` / ``pipe("graph.edgelist")`` → :class:`ClassificationOutput` with one row per node."""

    task = TASK
    verb = "classify-nodes"
    description = "predict the class of every node of a graph with a trained node classifier"
    request_class = ClassifyNodes
    output_class = ClassificationOutput
    model: NodeClassifier

    def run(self, request: ClassifyNodes) -> ClassificationOutput:
        from genlab.graph.datasets import load_graphs

        if request.graph:
            graphs = load_graphs(request.graph).graphs
            if len(graphs) != 1:
                raise BadInputError(f"{request.graph} holds {len(graphs)} graphs", "give one graph file")
            g = graphs[0]
        else:
            recorded = dict(self.model.provenance.data.get("config") or {})
            if not recorded:
                raise BadInputError("the model records no training graph", "pass --graph FILE")
            g = load_node_graph(NodeDataConfig.build(recorded, where="classify-nodes"))[0].graph
        from genlab.graph.io import node_names
        from genlab.graph.layers import edge_index

        probabilities = self.model.node_probabilities(self.model.features_of(g), edge_index(g))
        return ClassificationOutput(list(node_names(g)), probabilities, self.model.class_names, column="node")

    def default_filename(self, request: ClassifyNodes) -> str:
        return f"classify-nodes-{Path(request.graph).stem if request.graph else 'training-graph'}.csv"

    def __call__(self, graph: str | Path | None = None) -> ClassificationOutput:
        """Classify the nodes of a graph file (default: the graph the model was trained on)."""
        return self.run(self.request(graph=str(graph) if graph else None))


# --------------------------------------------------------------------------- the task


class NodeClassificationTask(Task):
    name = TASK
    modality = "graph"
    description = "classify the nodes of a graph (GCN, GAT, GIN) from labelled nodes of that graph"
    data_config_class = NodeDataConfig
    default_model = "gcn"
    pipeline_class = NodeClassificationPipeline
    cli_options = {
        "--labels": "data.labels",
        "--label-attribute": "data.label_attribute",
        "--features": "data.features",
        "--test-fraction": "data.test_fraction",
        "--val-fraction": "data.val_fraction",
        "--hidden-dim": "model.hidden_dim",
        "--lr": "model.lr",
    }
    eval_request_class = NodeClassificationEvalRequest

    def __init__(self):
        self._preview: NodeGraph | None = None

    def load_data(self, data_cfg: NodeDataConfig):
        data, info = load_node_graph(data_cfg)
        self._preview = data
        train = FullGraph(data, data.train_mask, length=data_cfg.steps_per_epoch)
        val = FullGraph(data, data.val_mask) if bool(data.val_mask.any()) else None
        return train, val, info

    def fill_model_config(self, values: dict[str, Any], info: NodeDataInfo) -> dict[str, Any]:
        cfg = info.config
        return {**values, "in_features": info.in_features, "num_classes": info.num_classes,
                "class_names": info.class_names, "features": info.features, "feature_names": info.feature_names,
                "max_degree": cfg.get("max_degree", 32), "num_nodes": info.num_nodes}  # fmt: skip

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        """The graph drawn with nodes coloured by predicted class, wrong held-out predictions ringed in red."""
        stem.parent.mkdir(parents=True, exist_ok=True)
        data = self._preview
        if data is None:
            path = stem.with_suffix(".txt")
            path.write_text("no graph loaded in this process to draw predictions on\n", encoding="utf-8")
            return path
        predicted = model.node_probabilities(data.x, data.edge_index).argmax(1)
        if data.graph.number_of_nodes() > MAX_DRAWN_NODES:
            out = ClassificationOutput(
                data.names, torch.eye(len(data.class_names))[predicted], data.class_names, "node"
            )
            return out.save(stem.with_suffix(".csv"))
        return draw_predictions(data, predicted, stem.with_suffix(".png"), seed)

    def eval_context(self, model: GenerativeModel, request) -> EvalContext:
        return EvalContext(model, self, request, load_reference=load_reference)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        protocol = {**ctx.reference.protocol(), "model": ctx.model.registry_name, "features": ctx.model.config.features}
        return protocol | weights_field(ctx.model) | {"genlab_version": __version__}

    def eval_baselines(self, ctx: EvalContext, specs: list[MetricSpec]) -> dict[str, EvalContext]:
        data = ctx.reference.data
        if not bool(data.train_mask.any()):  # a --ref graph has no training nodes to learn a baseline from
            return {}
        return {
            "majority_class": ctx.derive("majority_class", model=MajorityClass(data)),
            "label_propagation": ctx.derive("label_propagation", model=LabelPropagation(data)),
        }

    def describe_data(self, info: NodeDataInfo) -> str:
        extra = [f"{info.components} components"] if info.components > 1 else []
        extra += [f"{info.self_loops_dropped} self-loops dropped"] if info.self_loops_dropped else []
        extra += [f"{info.lines_skipped} lines skipped"] if info.lines_skipped else []
        extra += [f"{info.labels_skipped} label rows skipped"] if info.labels_skipped else []
        return (
            f"{info.source}: {info.num_nodes} nodes, {info.num_edges} edges, {info.num_classes} classes "
            f"({', '.join(info.class_names[:6])}), features {info.features} ({info.in_features}); nodes "
            f"train/val/test {info.n_train}/{info.n_val}/{info.n_test}, {info.n_unlabelled} unlabelled"
            + (f"; {', '.join(extra)}" if extra else "")
        )


def draw_predictions(data: NodeGraph, predicted: torch.Tensor, path: Path, seed: int) -> Path:
    """A PNG of ``data.graph`` (spring layout, seeded) coloured by ``predicted`` class; held-out errors ringed red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = data.graph
    pos = nx.spring_layout(g, seed=seed)
    wrong = ((predicted != data.y) & (data.y >= 0) & ~data.train_mask).tolist()
    fig, ax = plt.subplots(figsize=(6, 6), dpi=100)
    nx.draw_networkx_edges(g, pos, ax=ax, alpha=0.3)
    nx.draw_networkx_nodes(
        g, pos, ax=ax, node_size=80, node_color=predicted.tolist(), cmap="tab10", vmin=0, vmax=9,
        edgecolors=["red" if w else "black" for w in wrong], linewidths=[2.0 if w else 0.5 for w in wrong],
    )  # fmt: skip
    ax.set_title(f"predicted classes ({', '.join(data.class_names[:4])}); red ring: held-out error")
    ax.axis("off")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


TASKS.register(NodeClassificationTask.name)(NodeClassificationTask())
