"""Message-passing encoders (GCN, GAT, GIN) on PyTorch Geometric's layers, with node- and graph-level heads.

The layers are PyTorch Geometric's ``GCNConv`` (Kipf & Welling, 2017, "Semi-Supervised Classification
with Graph Convolutional Networks"), ``GATConv`` (Veličković et al., 2018, "Graph Attention Networks")
and ``GINConv`` (Xu et al., 2019, "How Powerful are Graph Neural Networks?"); PyG 2.5+ runs them on
the plain CPU build of torch, without its optional compiled extensions. An encoder maps node
features ``x`` (N, F) and an edge index (2, E) (both directions of every undirected edge) to node
embeddings (N, D); it is permutation-equivariant: permuting the nodes permutes the rows. A graph
head pools the embeddings of each graph of a batch (sum, mean or max over its nodes: permutation
invariant) and maps them through a small MLP.

Helpers turn networkx graphs into tensors: :func:`edge_index` (one graph), :func:`graph_batch`
(several graphs as one disjoint union with a ``batch`` vector, as PyG batches them) and
:func:`dense_batch` (padded adjacency (B, n_max, n_max) and node mask (B, n_max) for dense models).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import networkx as nx
import torch
from torch import nn

from genlab.core.errors import BadInputError
from genlab.core.optional import require

Kind = Literal["gcn", "gat", "gin"]
Pooling = Literal["sum", "mean", "max"]


def _pyg_nn():
    return require("torch_geometric.nn", "graph", "message-passing layers")


def edge_index(g: nx.Graph) -> torch.Tensor:
    """The edge index (2, 2E) of ``g`` (nodes ``0..n-1``): every undirected edge in both directions, no self-loop."""
    edges = [(u, v) for u, v in g.edges() if u != v]
    if not edges:
        return torch.zeros(2, 0, dtype=torch.long)
    e = torch.tensor(edges, dtype=torch.long).T
    return torch.cat([e, e.flip(0)], dim=1)


def graph_batch(graphs: Sequence[nx.Graph], features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Several graphs as one: ``(x (ΣN, F), edge_index (2, ΣE), batch (ΣN,))`` with node indices offset per graph.

    ``features[i]`` holds graph ``i``'s node features (N_i, F); ``batch[k]`` is the graph of node ``k``.
    """
    if len(graphs) != len(features):
        raise BadInputError(f"{len(graphs)} graphs but {len(features)} feature matrices", None)
    xs, edges, owners, offset = [], [], [], 0
    for i, (g, x) in enumerate(zip(graphs, features, strict=True)):
        n = g.number_of_nodes()
        if x.shape[0] != n:
            raise BadInputError(f"graph {i} has {n} nodes but {x.shape[0]} feature rows", None)
        xs.append(x)
        edges.append(edge_index(g) + offset)
        owners.append(torch.full((n,), i, dtype=torch.long))
        offset += n
    return torch.cat(xs), torch.cat(edges, dim=1), torch.cat(owners)


def dense_batch(graphs: Sequence[nx.Graph], max_nodes: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded adjacency matrices (B, n_max, n_max) float32 and node masks (B, n_max) bool.

    ``n_max`` is ``max_nodes`` when given (a graph with more nodes raises with a hint), else the largest graph.
    """
    from genlab.graph.io import check_max_nodes

    n_max = max((g.number_of_nodes() for g in graphs), default=0) if max_nodes is None else max_nodes
    if max_nodes is not None:
        check_max_nodes(graphs, max_nodes)
    adj = torch.zeros(len(graphs), n_max, n_max)
    mask = torch.zeros(len(graphs), n_max, dtype=torch.bool)
    for i, g in enumerate(graphs):
        e = edge_index(g)
        adj[i, e[0], e[1]] = 1.0
        mask[i, : g.number_of_nodes()] = True
    return adj, mask


class GNNEncoder(nn.Module):
    """``num_layers`` message-passing layers of one kind → node embeddings (N, out_dim).

    * ``gcn``: GCNConv (symmetric normalisation with self-loops) → ReLU.
    * ``gat``: GATConv with ``heads`` attention heads of ``hidden_dim // heads`` channels, concatenated → ELU.
    * ``gin``: GINConv with a learnable ε and a two-layer MLP (Linear → BatchNorm → ReLU → Linear) → ReLU.

    Dropout (rate ``dropout``) comes before every layer, on the input features too, as Kipf & Welling
    and Veličković et al. train; GAT's attention coefficients use the same rate.
    """

    def __init__(self, kind: Kind, in_dim: int, hidden_dim: int = 16, num_layers: int = 2, dropout: float = 0.5,
                 heads: int = 4):  # fmt: skip
        super().__init__()
        if kind not in ("gcn", "gat", "gin"):
            raise BadInputError(f"unknown message-passing layer '{kind}'", "use gcn, gat or gin")
        if kind == "gat" and hidden_dim % heads:
            raise BadInputError(
                f"GAT's hidden_dim ({hidden_dim}) must be a multiple of its heads ({heads})",
                f"use hidden_dim={heads * max(1, hidden_dim // heads)}",
            )
        pyg = _pyg_nn()
        self.kind, self.dropout, self.out_dim = kind, dropout, hidden_dim
        self.convs = nn.ModuleList()
        dim = in_dim
        for _ in range(num_layers):
            if kind == "gcn":
                conv = pyg.GCNConv(dim, hidden_dim)
            elif kind == "gat":
                conv = pyg.GATConv(dim, hidden_dim // heads, heads=heads, dropout=dropout)
            else:
                mlp = nn.Sequential(
                    nn.Linear(dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim)
                )
                conv = pyg.GINConv(mlp, train_eps=True)
            self.convs.append(conv)
            dim = hidden_dim
        self.act = nn.ELU() if kind == "gat" else nn.ReLU()

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """Node embeddings (N, out_dim) of features ``x`` (N, in_dim) over ``edge_index`` (2, E)."""
        for conv in self.convs:
            x = nn.functional.dropout(x, self.dropout, self.training)
            x = self.act(conv(x, edge_index))
        return x


class GraphHead(nn.Module):
    """Pools node embeddings per graph (``sum``, ``mean`` or ``max``) and maps them with Linear → ReLU → Linear."""

    def __init__(self, in_dim: int, out_dim: int, pooling: Pooling = "sum", hidden_dim: int | None = None):
        super().__init__()
        if pooling not in ("sum", "mean", "max"):
            raise BadInputError(f"unknown pooling '{pooling}'", "use sum, mean or max")
        self.pooling = pooling
        hidden_dim = hidden_dim or in_dim
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim))

    def pool(self, h: torch.Tensor, batch: torch.Tensor | None, num_graphs: int | None = None) -> torch.Tensor:
        """Per-graph pooled embeddings (B, D) of node embeddings ``h`` (N, D); ``batch`` None: one graph."""
        pyg = _pyg_nn()
        fn = {"sum": pyg.global_add_pool, "mean": pyg.global_mean_pool, "max": pyg.global_max_pool}[self.pooling]
        return fn(h, batch, size=num_graphs)

    def forward(self, h: torch.Tensor, batch: torch.Tensor | None = None, num_graphs: int | None = None):
        """Graph-level outputs (B, out_dim) of node embeddings ``h`` (N, D) owned by graphs ``batch`` (N,)."""
        return self.mlp(self.pool(h, batch, num_graphs))


class GraphEncoder(nn.Module):
    """A :class:`GNNEncoder` followed by a :class:`GraphHead`: graphs → vectors (B, out_dim), permutation invariant."""

    def __init__(self, kind: Kind, in_dim: int, out_dim: int, hidden_dim: int = 32, num_layers: int = 3,
                 dropout: float = 0.0, heads: int = 4, pooling: Pooling = "sum"):  # fmt: skip
        super().__init__()
        self.nodes = GNNEncoder(kind, in_dim, hidden_dim, num_layers, dropout, heads)
        self.head = GraphHead(hidden_dim, out_dim, pooling)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor | None = None,
                num_graphs: int | None = None) -> torch.Tensor:  # fmt: skip
        """Outputs (B, out_dim) of a batch ``(x, edge_index, batch)`` as :func:`graph_batch` builds it."""
        return self.head(self.nodes(x, edge_index), batch, num_graphs)
