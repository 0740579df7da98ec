"""Node orderings and GraphRNN's sequence encoding of a graph.

GraphRNN (You et al., 2018, "GraphRNN: Generating Realistic Graphs with Deep Auto-regressive Models",
ICML, section 3.3) trains on breadth-first-search orderings: each epoch a graph's nodes are put in the
order of a BFS started at a random node, visiting neighbours in a random order. In a BFS ordering
every edge joins nodes at most ``M`` positions apart (``M`` estimated from the data), so node ``i``'s
connections to earlier nodes fit in a vector of length ``M``: :func:`bfs_rows` writes them most
recent first, :func:`rows_to_adjacency` reads them back.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import networkx as nx
import numpy as np

from genlab.core.errors import BadInputError
from genlab.graph.io import to_adjacency


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator | None:
    if rng is None or isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def bfs_order(g: nx.Graph, start: int | None = None, rng: np.random.Generator | int | None = None) -> list[int]:
    """A breadth-first ordering of every node of ``g`` (a permutation of ``g``'s nodes).

    With ``rng`` (a generator or a seed) the ordering is GraphRNN's random BFS: the components are
    taken in a random order, each from a random start node, and each node's unvisited neighbours are
    queued in a random order. Without it the ordering is deterministic: components by their smallest
    node, each from its smallest node, neighbours in increasing order. ``start`` (a node of ``g``)
    fixes the first node; its component comes first.
    """
    rng = _rng(rng)
    nodes = sorted(g.nodes())
    if start is not None and start not in g:
        raise BadInputError(f"BFS start node {start} is not in the graph", f"use one of its {len(nodes)} nodes")
    if rng is not None:
        nodes = [nodes[i] for i in rng.permutation(len(nodes))]
    if start is not None:
        nodes.remove(start)
        nodes.insert(0, start)
    seen: set[int] = set()
    order: list[int] = []
    for root in nodes:  # the first node met of each component starts its BFS
        if root in seen:
            continue
        seen.add(root)
        queue = deque([root])
        while queue:
            v = queue.popleft()
            order.append(v)
            nbrs = sorted(n for n in g.neighbors(v) if n not in seen)
            if rng is not None:
                nbrs = [nbrs[i] for i in rng.permutation(len(nbrs))]
            for n in nbrs:
                seen.add(n)
                queue.append(n)
    return order


def permuted_adjacency(g: nx.Graph, order: Sequence[int]) -> np.ndarray:
    """The 0/1 adjacency matrix of ``g`` with rows and columns in ``order`` (float32, (n, n))."""
    return to_adjacency(g, order)


def bfs_rows(adj: np.ndarray, m: int, truncate: bool = False) -> np.ndarray:
    """GraphRNN's encoding of an adjacency matrix in BFS order: shape ``(n - 1, m)``, float32.

    Row ``i`` belongs to node ``i + 1``: entry ``k`` is 1 when that node connects to node ``i - k``
    (its previous ``m`` nodes, most recent first), padded with zeros for the first nodes. An edge
    further than ``m`` positions back raises :class:`BadInputError` (``truncate=True`` drops it).
    """
    adj = np.asarray(adj)
    n = adj.shape[0]
    if adj.ndim != 2 or adj.shape[1] != n:
        raise BadInputError(f"bfs_rows needs a square adjacency matrix, got shape {adj.shape}", None)
    if m < 1:
        raise BadInputError(f"the BFS bandwidth m must be at least 1, got {m}", None)
    rows = np.zeros((max(n - 1, 0), m), dtype=np.float32)
    lower = np.tril(adj != 0, k=-1)
    for i in range(1, n):
        back = lower[i, max(0, i - m) : i][::-1]  # node i's previous nodes, most recent first
        rows[i - 1, : len(back)] = back
    if not truncate and n > m + 1:
        far = np.tril(lower, k=-(m + 1))
        if far.any():
            i, j = map(int, np.argwhere(far)[0])
            raise BadInputError(
                f"edge {j}–{i} is {i - j} positions apart in this ordering, more than the bandwidth m={m}",
                "use a BFS ordering (bfs_order) and m from bfs_bandwidth, or truncate=True to drop such edges",
            )
    return rows


def rows_to_adjacency(rows: np.ndarray) -> np.ndarray:
    """The symmetric 0/1 adjacency matrix (float32, ``(n, n)`` with ``n = len(rows) + 1``) of :func:`bfs_rows` rows."""
    rows = np.asarray(rows)
    if rows.ndim != 2:
        raise BadInputError(f"BFS rows must be a matrix (n - 1, m), got shape {rows.shape}", None)
    n, m = rows.shape[0] + 1, rows.shape[1]
    adj = np.zeros((n, n), dtype=np.float32)
    for i in range(1, n):
        k = min(i, m)
        adj[i, i - k : i] = rows[i - 1, :k][::-1] != 0
    return np.maximum(adj, adj.T)


def bandwidth(adj: np.ndarray) -> int:
    """The largest ``i - j`` over the edges ``j < i`` of an ordered adjacency matrix (0 without edges)."""
    idx = np.argwhere(np.tril(np.asarray(adj) != 0, k=-1))
    return int((idx[:, 0] - idx[:, 1]).max()) if len(idx) else 0


def bfs_bandwidth(graphs: Sequence[nx.Graph], n_orders: int = 20, seed: int = 0) -> int:
    """GraphRNN's ``M``: the largest BFS bandwidth seen over ``n_orders`` random BFS orderings of every graph.

    GraphRNN estimated ``M`` empirically from random BFS orderings of the training graphs; this
    takes the maximum (at least 1), so every edge of the sampled orderings fits.
    """
    rng = np.random.default_rng(seed)
    best = 1
    for g in graphs:
        for _ in range(n_orders):
            best = max(best, bandwidth(permuted_adjacency(g, bfs_order(g, rng=rng))))
    return best
