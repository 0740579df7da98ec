"""Per-node counts of the 15 orbits of the 2–4-node graphlets (the orbits ORCA calls 0–14), in numpy.

Graphlets and orbits are numbered as by Pržulj (2007, "Biological network comparison using graphlet
degree distribution") and ORCA (Hočevar & Demšar, 2014): 0 an edge's end; 1 the end and 2 the middle
of a 3-node path; 3 a triangle's node; 4 the end and 5 the inner node of a 4-node path; 6 a leaf and
7 the centre of a 3-star; 8 a 4-cycle's node; 9 the tail end, 10 the degree-2 triangle nodes and 11
the degree-3 node of a tailed triangle ("paw"); 12 the degree-2 and 13 the degree-3 nodes of a diamond
(K4 minus an edge); 14 a node of K4. Counts are of *induced* graphlets.

Method (written for genlab): for each node ``v`` count the non-induced occurrences of each 4-node
orbit from walks and common-neighbour counts of the adjacency matrix ``A`` (``d`` degrees, ``t``
triangles per node, ``A²`` common neighbours), then remove the occurrences that lie inside denser
graphlets by the number of times each orbit's subgraph sits inside each denser one, a triangular
system solved from K4 downwards. The coefficients are in :func:`_induced`.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from scipy import sparse

N_ORBITS = 15


def sparse_adjacency(g: nx.Graph) -> sparse.csr_array:
    """The 0/1 adjacency matrix of ``g`` as a scipy CSR array (float64), rows in ``sorted(g.nodes())`` order."""
    nodes = sorted(g.nodes())
    index = {v: i for i, v in enumerate(nodes)}
    pairs = [(index[u], index[v]) for u, v in g.edges() if u != v]
    rows = [i for i, j in pairs] + [j for i, j in pairs]
    cols = [j for i, j in pairs] + [i for i, j in pairs]
    n = len(nodes)
    return sparse.csr_array((np.ones(len(rows)), (rows, cols)), shape=(n, n))


DENSE_MAX_NODES = 64  # up to this size dense BLAS products beat sparse ones (whose per-call cost dominates)


def adjacency(g: nx.Graph) -> np.ndarray | sparse.csr_array:
    """The 0/1 adjacency matrix of ``g`` (float64): dense up to :data:`DENSE_MAX_NODES` nodes, else sparse CSR."""
    a = sparse_adjacency(g)
    return a.toarray() if a.shape[0] <= DENSE_MAX_NODES else a


def orbit_counts(g: nx.Graph) -> np.ndarray:
    """Induced orbit counts: int64 array (n, 15), row ``i`` for node ``sorted(g.nodes())[i]``."""
    return adjacency_orbit_counts(adjacency(g))


def triangles(a: np.ndarray | sparse.sparray) -> np.ndarray:
    """Triangles at each node of the graph with 0/1 symmetric adjacency ``a`` (dense or sparse; float, (n,))."""
    if sparse.issparse(a):
        return np.asarray((a @ a).multiply(a).sum(1)).ravel() / 2
    return ((a @ a) * a).sum(1) / 2


def adjacency_orbit_counts(a: np.ndarray | sparse.sparray) -> np.ndarray:
    """Induced orbit counts (int64, (n, 15)) of the simple graph with 0/1 symmetric adjacency matrix ``a``.

    A dense ``a`` is counted with dense products (BLAS), a sparse one with sparse products, whose cost
    grows with the edges and 2-paths rather than with n³. Both give the same integers.
    """
    terms = _sparse_terms(a) if sparse.issparse(a) else _dense_terms(np.asarray(a, dtype=np.float64))
    a, d, t, p2, cycles, tails, diamonds, shared = terms
    n = len(d)
    # Non-induced counts of the 4-node orbits, node by node.
    nonind = np.zeros((n, N_ORBITS))
    nonind[:, 4] = a @ (a @ (d - 1)) - d * (d - 1) - 2 * t  # v-a-b-c, v at an end
    nonind[:, 5] = (d - 1) * p2 - 2 * t  # a-v-b-c, v inside
    nonind[:, 6] = a @ ((d - 1) * (d - 2) / 2)  # v a leaf of a 3-star
    nonind[:, 7] = d * (d - 1) * (d - 2) / 6  # v the centre of a 3-star
    nonind[:, 8] = cycles  # 4-cycles through v
    nonind[:, 9] = a @ t - 2 * t  # v-u with u in a triangle not holding v
    nonind[:, 10] = tails  # v in a triangle with a tail at another node
    nonind[:, 11] = t * (d - 2)  # v in a triangle with a tail at v
    nonind[:, 12] = diamonds  # v of degree 2 in a diamond
    nonind[:, 13] = shared  # v on a diamond's shared edge
    nonind[:, 14] = _k4_per_node(a, t)
    counts = np.zeros((n, N_ORBITS))
    counts[:, 0] = d
    counts[:, 1] = p2 - 2 * t
    counts[:, 2] = d * (d - 1) / 2 - t
    counts[:, 3] = t
    counts[:, 4:] = _induced(nonind)[:, 4:]
    return np.rint(counts).astype(np.int64)


def _dense_terms(a: np.ndarray) -> tuple:
    """Degree, triangle, 2-path, 4-cycle, tail and diamond terms with dense products."""
    a = a.copy()
    np.fill_diagonal(a, 0)
    d = a.sum(1)
    a2 = a @ a  # common neighbours of every pair (walks of length 2)
    tri_edge = a2 * a  # triangles through each edge
    t = tri_edge.sum(1) / 2
    off = a2.copy()
    np.fill_diagonal(off, 0)
    cycles = (off * (off - 1) / 2).sum(1)
    diamonds = ((a @ (tri_edge - a)) * a).sum(1) / 2  # Σ over v's triangles (v, x, y) of (common(x, y) - 1)
    shared = (tri_edge * (tri_edge - 1) / 2).sum(1)
    return a, d, t, a @ (d - 1), cycles, tri_edge @ (d - 2), diamonds, shared


def _sparse_terms(a: sparse.sparray) -> tuple:
    """The terms of :func:`_dense_terms` with sparse products."""
    a = sparse.csr_array(a, dtype=np.float64)
    a.setdiag(0)
    a.eliminate_zeros()
    d = np.asarray(a.sum(1)).ravel()
    a2 = (a @ a).tocsr()
    tri_edge = a2.multiply(a).tocsr()
    t = np.asarray(tri_edge.sum(1)).ravel() / 2
    off = a2.copy()
    off.setdiag(0)
    off.eliminate_zeros()
    cycles = _row_sums(off, lambda x: x * (x - 1) / 2)
    diamonds = np.asarray(a.multiply(a @ (tri_edge - a)).sum(1)).ravel() / 2
    shared = _row_sums(tri_edge, lambda x: x * (x - 1) / 2)
    return a, d, t, a @ (d - 1), cycles, tri_edge @ (d - 2), diamonds, shared


def _row_sums(m: sparse.csr_array, fn) -> np.ndarray:  # noqa: ANN001
    """Per row, the sum of ``fn`` over the stored entries of ``m`` (``fn(0) = 0`` assumed)."""
    out = m.copy()
    out.data = fn(out.data)
    return np.asarray(out.sum(1)).ravel()


def _k4_per_node(a: np.ndarray | sparse.csr_array, t: np.ndarray) -> np.ndarray:
    """Number of K4 holding each node: triangles among its neighbours (nodes with < 3 triangles hold none)."""
    out = np.zeros(a.shape[0])
    for v in np.flatnonzero(t >= 3):
        if sparse.issparse(a):
            nbrs = a.indices[a.indptr[v] : a.indptr[v + 1]]
            sub = a[nbrs][:, nbrs].toarray()
        else:
            nbrs = np.flatnonzero(a[v])
            sub = a[np.ix_(nbrs, nbrs)]
        out[v] = np.trace(sub @ sub @ sub) / 6
    return out


def _induced(nonind: np.ndarray) -> np.ndarray:
    """Induced counts from non-induced ones: ``N_k = Σ_j c_kj O_j`` solved from orbit 14 down.

    ``c_kj`` is how many copies of orbit k's subgraph (through v, v in orbit k) the induced graphlet
    with v in orbit j holds; e.g. a K4 holds 6 paths starting at v, a diamond's degree-2 node starts 4.
    """
    n = nonind
    o = np.zeros_like(n)
    o[:, 14] = n[:, 14]
    o[:, 13] = n[:, 13] - 3 * o[:, 14]
    o[:, 12] = n[:, 12] - 3 * o[:, 14]
    o[:, 11] = n[:, 11] - 2 * o[:, 13] - 3 * o[:, 14]
    o[:, 10] = n[:, 10] - 2 * o[:, 12] - 2 * o[:, 13] - 6 * o[:, 14]
    o[:, 9] = n[:, 9] - 2 * o[:, 12] - 3 * o[:, 14]
    o[:, 8] = n[:, 8] - o[:, 12] - o[:, 13] - 3 * o[:, 14]
    o[:, 7] = n[:, 7] - o[:, 11] - o[:, 13] - o[:, 14]
    o[:, 6] = n[:, 6] - o[:, 9] - o[:, 10] - 2 * o[:, 12] - o[:, 13] - 3 * o[:, 14]
    o[:, 5] = n[:, 5] - 2 * o[:, 8] - o[:, 10] - 2 * o[:, 11] - 2 * o[:, 12] - 4 * o[:, 13] - 6 * o[:, 14]
    o[:, 4] = n[:, 4] - 2 * o[:, 8] - 2 * o[:, 9] - o[:, 10] - 4 * o[:, 12] - 2 * o[:, 13] - 6 * o[:, 14]
    return o
