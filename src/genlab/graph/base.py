"""Base config and class of the graph generators of the ``graph-generation`` task.

Graphs are simple and undirected (no self-loops, no edge weights, no node or edge labels). A generator
knows the largest graph it can make (``max_nodes``) and, for the autoregressive ones, the BFS bandwidth
``M``: how many earlier nodes (in a breadth-first order) a node may link to (You et al. 2018, "GraphRNN",
§2.3.4). Both are set from the training data by the task.

A training batch is a dict of tensors, one entry per graph, made by :class:`genlab.graph.task.GraphDataset`:

* ``adj`` (B, N, N) float: the adjacency of each graph under a random BFS ordering, padded with zeros to
  ``N = max_nodes``;
* ``n_nodes`` (B,) long: the node count of each graph.

The autoregressive models read BFS rows made from ``adj`` by :func:`rows_from_adjacency`:
``rows[b, t, k] = adj[b, t + 1, t - k]``, node ``t + 1``'s link to its ``k + 1``-th closest predecessor
(entries with ``k > t`` are zero padding).

Generation: :meth:`GraphGenerativeModel.generate_adjacency` gives ``n`` adjacency matrices (numpy, 0/1, symmetric,
zero diagonal, at most ``max_nodes`` nodes); :meth:`GraphGenerativeModel.sample_graphs` gives networkx graphs.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel, ModelConfig

TASK = "graph-generation"


class GraphModelConfig(ModelConfig):
    """Fields every graph generator has; the task fills them from the training graphs."""

    max_nodes: int = Field(0, ge=0, le=10_000, description="most nodes of a graph (set from the data)")
    bfs_bandwidth: int = Field(
        0, ge=0, le=10_000, description="M: links a node may have to earlier nodes in BFS order (set from the data)"
    )


class GraphGenerativeModel(GenerativeModel):
    """A generator of simple undirected graphs. Subclasses implement :meth:`generate_adjacency`."""

    task: ClassVar[str] = TASK
    config: GraphModelConfig
    #: graphs per training batch unless the user sets one (GraphRNN's 32)
    default_batch_size: ClassVar[int] = 32
    #: the most nodes this model family handles (GraphVAE's matching is O(k⁴)); None: no limit of its own
    node_limit: ClassVar[int | None] = None

    @property
    def device(self) -> torch.device:
        first = next(itertools.chain(self.parameters(), self.buffers()), None)
        return first.device if first is not None else torch.device("cpu")

    def check_batch(self, batch: Any) -> dict[str, torch.Tensor]:
        """The batch dict moved to the model's device; a batch of another shape raises :class:`BadInputError`."""
        n = self.config.max_nodes
        if not isinstance(batch, dict) or "adj" not in batch or "n_nodes" not in batch:
            raise BadInputError(
                f"expected a batch dict with 'adj' (B, {n}, {n}) and 'n_nodes' (B,), got {type(batch).__name__}",
                "batch graphs with genlab.graph.task.GraphDataset",
            )
        adj = batch["adj"]
        if adj.dim() != 3 or adj.shape[1:] != (n, n):
            raise BadInputError(
                f"expected adjacency batches (B, {n}, {n}), got {tuple(adj.shape)}",
                "the graphs were padded for another max_nodes; batch them with the model's own config",
            )
        return {k: v.to(self.device) for k, v in batch.items()}

    def generate_adjacency(self, n: int, generator: torch.Generator | None = None) -> list[np.ndarray]:
        """``n`` graphs as (k, k) uint8 adjacency matrices (symmetric, zero diagonal, k ≤ ``max_nodes``)."""
        raise NotImplementedError

    @torch.no_grad()
    def sample_graphs(self, n: int, generator: torch.Generator | None = None) -> list:
        """``n`` generated graphs as ``networkx.Graph`` objects (nodes 0..k-1)."""
        from genlab.graph.io import from_adjacency

        was_training = self.training
        self.eval()
        try:
            matrices = self.generate_adjacency(n, generator)
        finally:
            self.train(was_training)
        return [from_adjacency(a) for a in matrices]


def rows_from_adjacency(adj: torch.Tensor, m: int) -> torch.Tensor:
    """BFS rows (B, N - 1, M) of ordered adjacency matrices (B, N, N): ``rows[b, t, k] = adj[b, t + 1, t - k]``.

    The batched torch form of :func:`genlab.graph.ordering.bfs_rows` (same layout, most recent predecessor
    first); links further back than ``M`` are left out.
    """
    b, n, _ = adj.shape
    t = torch.arange(n - 1, device=adj.device)[:, None]
    k = torch.arange(m, device=adj.device)[None, :]
    col = t - k  # (N - 1, M): the predecessor column, negative where it does not exist
    gathered = adj[:, 1:, :].gather(2, col.clamp_min(0).expand(b, -1, -1))
    return gathered * (col >= 0).to(adj.dtype)


def valid_row_mask(n_rows: int, m: int, device: torch.device | None = None) -> torch.Tensor:
    """(n_rows, M) bool: entry ``k`` of row ``t`` exists (node ``t + 1`` has a ``k + 1``-th predecessor)."""
    t = torch.arange(n_rows, device=device)[:, None]
    return torch.arange(m, device=device)[None, :] <= t
