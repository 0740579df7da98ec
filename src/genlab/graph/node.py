"""Node classification: one labelled graph in, GCN / GAT / GIN node classifiers out.

Data (:class:`NodeDataConfig`): one graph (``builtin:karate``, an edge list, GraphML or adjacency file,
:mod:`genlab.graph.io`); disconnected graphs are accepted (message passing stays within components),
self-loops are dropped and counted. Labels come from a labels CSV (``--labels``, rows ``node,label``
naming nodes as the graph file does; a header is allowed, unreadable rows and unknown nodes are
skipped and counted), else from a node attribute (``--label-attribute``, default the first of
``label``, ``club``, ``y``, ``class`` that nodes carry: karate's ``club``). Unlabelled nodes take part
in message passing but in no split. Features: the nodes' numeric attributes when they have some
(every attribute but the label and ``name``, present on every node), else a one-hot of the node's
index (``identity``, Kipf & Welling's featureless setting: the model then fits this graph only); or,
asked for, a one-hot of the degree capped at ``max_degree`` (``degree``: applies to other graphs).
The labelled nodes are split per class (seeded): ``test_fraction`` held out for ``genlab eval``,
``val_fraction`` for validation, the rest train (at least one node of each class).

Training is full-batch: every step runs the whole graph and takes the cross-entropy of the training
nodes; an "epoch" is ``steps_per_epoch`` such steps (the default budget of 10 epochs is Kipf & Welling's
200 steps).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import networkx as nx
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn
from torch.utils.data import Dataset

from genlab.core.config import Config
from genlab.core.data import DataInfo
from genlab.core.errors import BadInputError, DataError
from genlab.core.model import GenerativeModel, ModelConfig, OptimizerSpec, register_model
from genlab.graph.io import components_count, node_names
from genlab.graph.layers import GNNEncoder, edge_index

log = logging.getLogger(__name__)

TASK = "node-classification"
LABEL_ATTRIBUTES = ("label", "club", "y", "class")
FeatureKind = Literal["auto", "attributes", "degree", "identity"]


class NodeDataConfig(Config):
    """The labelled graph of a node-classification run and how it is split."""

    source: str = Field(
        "builtin:karate", description="builtin:karate, or a graph file (.edgelist, .graphml, .npy, .csv)"
    )
    data_dir: str | None = Field(None, description="folder a relative graph path is read from")
    labels: str | None = Field(None, description="CSV of node,label rows (default: a node attribute)")
    label_attribute: str | None = Field(
        None, description="node attribute holding the labels (default: label/club/y/class)"
    )
    features: FeatureKind = Field(
        "auto", description="node features: attributes, degree (one-hot), identity (one-hot index); auto: attributes "
        "when nodes have numeric ones, else identity",
    )  # fmt: skip
    max_degree: int = Field(32, ge=1, le=1024, description="degree one-hot width - 1 (larger degrees share the last)")
    test_fraction: float = Field(0.25, gt=0, lt=1, description="labelled nodes held out for genlab eval (per class)")
    val_fraction: float = Field(0.1, ge=0, lt=1, description="labelled nodes held out for validation (per class)")
    split_seed: int = Field(0, description="seed of the per-class split")
    steps_per_epoch: int = Field(20, ge=1, le=10000, description="full-graph steps per epoch")


@dataclass
class NodeGraph:
    """A graph ready for a node classifier: features (N, F), edge index (2, E), labels (N,) (-1: none), split masks."""

    graph: nx.Graph
    x: torch.Tensor
    edge_index: torch.Tensor
    y: torch.Tensor
    class_names: list[str]
    train_mask: torch.Tensor
    val_mask: torch.Tensor
    test_mask: torch.Tensor

    @property
    def names(self) -> list[str]:
        return list(node_names(self.graph))


@dataclass
class NodeDataInfo(DataInfo):
    """What was loaded; written to the run (``data.json``) and into the model's ``config.json``."""

    source: str
    num_nodes: int
    num_edges: int
    components: int
    num_classes: int
    class_names: list[str] = field(default_factory=list)
    features: str = "identity"
    feature_names: list[str] = field(default_factory=list)
    in_features: int = 0
    n_train: int = 0
    n_val: int = 0
    n_test: int = 0
    n_unlabelled: int = 0
    self_loops_dropped: int = 0
    lines_skipped: int = 0
    labels_skipped: int = 0
    skipped: list[str] = field(default_factory=list)
    split: dict[str, Any] = field(default_factory=dict)
    #: the data config the graph was loaded with (to rebuild the same split for evaluation)
    config: dict[str, Any] = field(default_factory=dict)
    graph: NodeGraph | None = field(default=None, metadata={"saved": False})


class FullGraph(Dataset):
    """The whole graph as every item (``length`` copies): ``{"x", "edge_index", "y", "mask"}``."""

    def __init__(self, data: NodeGraph, mask: torch.Tensor, length: int = 1):
        self.item = {"x": data.x, "edge_index": data.edge_index, "y": data.y, "mask": mask}
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.item


# --------------------------------------------------------------------------- features and labels


def numeric_attributes(g: nx.Graph, exclude: set[str]) -> list[str]:
    """Names of the node attributes that every node has as a number (or bool), sorted; ``exclude`` left out."""
    if g.number_of_nodes() == 0:
        return []
    common = set.intersection(*(set(d) for _, d in g.nodes(data=True))) - exclude - {"name"}
    return sorted(k for k in common if all(isinstance(d[k], (int, float, bool)) for _, d in g.nodes(data=True)))


def node_features(g: nx.Graph, kind: str, feature_names: list[str], max_degree: int, num_nodes: int) -> torch.Tensor:
    """Features (N, F) float32 of ``g``'s nodes ``0..n-1`` for a resolved ``kind`` (attributes, degree, identity)."""
    n = g.number_of_nodes()
    if kind == "identity":
        if n != num_nodes:
            raise BadInputError(
                f"this model's features are node identities of a {num_nodes}-node graph; this graph has {n} nodes",
                "train with --features degree (or node attributes) to classify the nodes of other graphs",
            )
        return torch.eye(n)
    if kind == "degree":
        degrees = torch.tensor([min(d, max_degree) for _, d in sorted(g.degree())], dtype=torch.long)
        return F.one_hot(degrees, max_degree + 1).float()
    missing = [k for k in feature_names if any(k not in d for _, d in g.nodes(data=True))]
    if missing:
        raise BadInputError(f"nodes lack the feature attribute(s) {', '.join(missing)}", "give every node them")
    return torch.tensor([[float(g.nodes[v][k]) for k in feature_names] for v in sorted(g.nodes())])


def read_label_csv(path: str, names: list[str]) -> tuple[dict[int, str], int]:
    """``{node: label}`` from a CSV of ``node,label`` rows matched to node ``names``; and rows skipped."""
    index = {name: i for i, name in enumerate(names)}
    labels: dict[int, str] = {}
    skipped = 0
    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read the labels CSV {path}: {e}", "give a UTF-8 CSV of node,label rows") from None
    for i, row in enumerate(rows):
        cells = [c.strip() for c in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if i == 0 and cells[0] not in index and len(cells) == 2:
            continue  # a header
        if len(cells) < 2 or cells[0] not in index or not cells[1]:
            skipped += 1
            continue
        labels[index[cells[0]]] = cells[1]
    if skipped:
        log.warning("%s: %d label row(s) skipped (unreadable, or naming no node of the graph)", path, skipped)
    return labels, skipped


def node_labels(g: nx.Graph, cfg: NodeDataConfig) -> tuple[dict[int, str], int, str]:
    """``({node: label}, rows skipped, where the labels came from)``."""
    if cfg.labels:
        labels, skipped = read_label_csv(cfg.labels, list(node_names(g)))
        return labels, skipped, cfg.labels
    attrs = [cfg.label_attribute] if cfg.label_attribute else list(LABEL_ATTRIBUTES)
    for attr in attrs:
        labels = {v: str(d[attr]) for v, d in g.nodes(data=True) if d.get(attr) is not None}
        if labels:
            return labels, 0, f"node attribute '{attr}'"
    raise DataError(
        f"no node labels: no node has the attribute {' or '.join(repr(a) for a in attrs)}",
        "give --labels labels.csv (rows node,label) or --label-attribute NAME of a GraphML node attribute",
    )


def split_nodes(y: torch.Tensor, test_fraction: float, val_fraction: float, seed: int) -> tuple[torch.Tensor, ...]:
    """Per-class seeded split of the labelled nodes into (train, val, test) masks; at least one train node per class."""
    g = torch.Generator().manual_seed(seed)
    masks = [torch.zeros(len(y), dtype=torch.bool) for _ in range(3)]
    for c in torch.unique(y[y >= 0]).tolist():
        nodes = torch.nonzero(y == c).flatten()
        nodes = nodes[torch.randperm(len(nodes), generator=g)]
        n_test = min(round(test_fraction * len(nodes)), len(nodes) - 1)
        n_val = min(round(val_fraction * len(nodes)), len(nodes) - 1 - n_test)
        masks[2][nodes[:n_test]] = True
        masks[1][nodes[n_test : n_test + n_val]] = True
        masks[0][nodes[n_test + n_val :]] = True
    return tuple(masks)


def load_node_graph(cfg: NodeDataConfig) -> tuple[NodeGraph, NodeDataInfo]:
    """Read, label, featurise and split ``cfg.source``."""
    from genlab.graph.datasets import load_graphs

    graphs = load_graphs(cfg.source, data_dir=cfg.data_dir).graphs
    if len(graphs) != 1:
        raise DataError(
            f"{cfg.source} holds {len(graphs)} graphs; node classification reads one", "give one graph file"
        )
    g = graphs[0]
    labels, labels_skipped, label_source = node_labels(g, cfg)
    class_names = sorted(set(labels.values()))
    if len(class_names) < 2:
        raise DataError(f"{len(class_names)} class among the node labels ({label_source})", "give two classes or more")
    index = {c: i for i, c in enumerate(class_names)}
    y = torch.full((g.number_of_nodes(),), -1, dtype=torch.long)
    for v, label in labels.items():
        y[v] = index[label]
    exclude = {cfg.label_attribute or a for a in LABEL_ATTRIBUTES}
    attributes = numeric_attributes(g, exclude)
    kind = cfg.features if cfg.features != "auto" else ("attributes" if attributes else "identity")
    if kind == "attributes" and not attributes:
        raise DataError(f"the nodes of {cfg.source} have no numeric attributes", "use --features degree or identity")
    names = attributes if kind == "attributes" else []
    x = node_features(g, kind, names, cfg.max_degree, g.number_of_nodes())
    train, val, test = split_nodes(y, cfg.test_fraction, cfg.val_fraction, cfg.split_seed)
    data = NodeGraph(g, x, edge_index(g), y, class_names, train, val, test)
    info = NodeDataInfo(
        source=cfg.source, num_nodes=g.number_of_nodes(), num_edges=g.number_of_edges(), components=components_count(g),
        num_classes=len(class_names), class_names=class_names, features=kind, feature_names=names,
        in_features=x.shape[1], n_train=int(train.sum()), n_val=int(val.sum()), n_test=int(test.sum()),
        n_unlabelled=int((y < 0).sum()), self_loops_dropped=int(g.graph.get("self_loops_dropped", 0)),
        lines_skipped=int(g.graph.get("lines_skipped", 0)), labels_skipped=labels_skipped,
        split={"test_fraction": cfg.test_fraction, "val_fraction": cfg.val_fraction, "seed": cfg.split_seed,
               "labels": label_source},
        config=cfg.to_dict(), graph=data,
    )  # fmt: skip
    return data, info


# --------------------------------------------------------------------------- models


class NodeClassifierConfig(ModelConfig):
    """A message-passing node classifier; sizes, classes and feature recipe are set from the data."""

    in_features: int = Field(34, ge=1, description="node feature width; set from the data")
    num_classes: int = Field(2, ge=2, description="set from the data")
    class_names: list[str] = Field(default_factory=list, description="set from the data")
    features: Literal["attributes", "degree", "identity"] = Field("identity", description="set from the data")
    feature_names: list[str] = Field(default_factory=list, description="node attributes used as features; from data")
    max_degree: int = Field(32, ge=1, description="degree one-hot width - 1; set from the data")
    num_nodes: int = Field(34, ge=1, description="nodes of the training graph (identity features); set from the data")
    hidden_dim: int = Field(16, ge=1, le=4096, description="width of every message-passing layer")
    num_layers: int = Field(2, ge=1, le=16, description="message-passing layers")
    dropout: float = Field(0.5, ge=0, lt=1, description="dropout before every layer (and on GAT's attention)")
    heads: int = Field(8, ge=1, le=64, description="attention heads (GAT only)")
    lr: float = Field(0.01, gt=0, le=1, description="Adam learning rate")
    weight_decay: float = Field(5e-4, ge=0, le=1, description="L2 weight decay (Kipf & Welling: 5e-4)")
    schedule: Literal["constant", "cosine"] = Field("constant", description="learning rate over the run")


class GATConfig(NodeClassifierConfig):
    """GAT defaults of Veličković et al. (2018): 8 heads of 8 channels, dropout 0.6, lr 0.005."""

    hidden_dim: int = Field(64, ge=1, le=4096, description="width of every layer (heads × channels per head)")
    dropout: float = Field(0.6, ge=0, lt=1, description="dropout before every layer and on the attention")
    lr: float = Field(0.005, gt=0, le=1, description="Adam learning rate")


class GINConfig(NodeClassifierConfig):
    """GIN defaults (Xu et al., 2019): 64 channels, two-layer MLPs."""

    hidden_dim: int = Field(64, ge=1, le=4096, description="width of every layer and of its MLP")


class NodeClassifier(GenerativeModel):
    """Encoder (:class:`~genlab.graph.layers.GNNEncoder`) → dropout → Linear to class logits, per node."""

    config_class = NodeClassifierConfig
    task: ClassVar[str] = TASK
    kind: ClassVar[str] = "gcn"
    default_batch_size: ClassVar[int] = 1  # every item is the whole graph
    config: NodeClassifierConfig

    def __init__(self, config: NodeClassifierConfig):
        super().__init__(config)
        c = config
        self.encoder = GNNEncoder(self.kind, c.in_features, c.hidden_dim, c.num_layers, c.dropout, c.heads)
        self.head = nn.Linear(c.hidden_dim, c.num_classes)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """Class logits (N, num_classes) of the nodes of a graph: features (N, in_features), edge index (2, E)."""
        if x.dim() != 2 or x.shape[1] != self.config.in_features:
            raise BadInputError(
                f"{self.registry_name} takes node features (N, {self.config.in_features}), got {tuple(x.shape)}",
                "build features as the model was trained (genlab.graph.node.node_features)",
            )
        h = self.encoder(x, edge_index)
        return self.head(F.dropout(h, self.config.dropout, self.training))

    @staticmethod
    def _unbatch(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """The graph of a loader batch: items are copies of one graph, stacked (B, …) by the loader."""
        parts = [batch[k] for k in ("x", "edge_index", "y", "mask")]
        if parts[0].dim() == 3:
            parts = [p[0] for p in parts]
        return tuple(parts)

    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        return [OptimizerSpec("classifier", list(self.parameters()), lr=c.lr, weight_decay=c.weight_decay,
                              schedule=c.schedule)]  # fmt: skip

    def training_losses(self, batch: dict[str, torch.Tensor], group: str = "classifier") -> dict[str, torch.Tensor]:
        """Cross-entropy over the masked nodes of the graph ``{"x", "edge_index", "y", "mask"}``, and their accuracy."""
        x, edges, y, mask = self._unbatch(batch)
        logits = self(x, edges)[mask]
        if len(logits) == 0:
            raise DataError(
                "no labelled node in this split", "lower --test-fraction/--val-fraction or label more nodes"
            )
        labels = y[mask]
        accuracy = (logits.argmax(1) == labels).float().mean().detach()
        return {"loss": F.cross_entropy(logits, labels), "accuracy": accuracy}

    @property
    def class_names(self) -> list[str]:
        c = self.config
        return list(c.class_names) if c.class_names else [str(i) for i in range(c.num_classes)]

    def features_of(self, g: nx.Graph) -> torch.Tensor:
        """Node features of ``g`` built the way this model was trained."""
        c = self.config
        return node_features(g, c.features, c.feature_names, c.max_degree, c.num_nodes)

    @torch.no_grad()
    def node_probabilities(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """Class probabilities (N, num_classes) of every node (eval mode)."""
        was_training = self.training
        self.eval()
        try:
            return self(x, edge_index).softmax(1)
        finally:
            self.train(was_training)


@register_model("graph/gcn")
class GCN(NodeClassifier):
    """Graph convolutional network (Kipf & Welling, 2017): two GCNConv layers of 16, ReLU, dropout 0.5."""

    kind = "gcn"
    description: ClassVar[str] = "graph convolutional network node classifier (Kipf & Welling 2017)"


@register_model("graph/gat")
class GAT(NodeClassifier):
    """Graph attention network (Veličković et al., 2018): two GATConv layers of 8 heads × 8, ELU, dropout 0.6."""

    config_class = GATConfig
    kind = "gat"
    description: ClassVar[str] = "graph attention network node classifier (Veličković et al. 2018)"


@register_model("graph/gin")
class GIN(NodeClassifier):
    """Graph isomorphism network (Xu et al., 2019): GINConv layers with learnable ε and two-layer MLPs."""

    config_class = GINConfig
    kind = "gin"
    description: ClassVar[str] = "graph isomorphism network node classifier (Xu et al. 2019)"
