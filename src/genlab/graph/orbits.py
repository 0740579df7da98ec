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

N_ORBITS = 15


def orbit_counts(g: nx.Graph) -> np.ndarray:
    """Induced orbit counts: int64 array (n, 15), row ``i`` for node ``sorted(g.nodes())[i]``."""
    nodes = sorted(g.nodes())
    n = len(nodes)
    if n == 0:
        return np.zeros((0, N_ORBITS), dtype=np.int64)
    index = {v: i for i, v in enumerate(nodes)}
    a = np.zeros((n, n))
    for u, v in g.edges():
        if u != v:
            a[index[u], index[v]] = a[index[v], index[u]] = 1.0
    return adjacency_orbit_counts(a)


def adjacency_orbit_counts(a: np.ndarray) -> np.ndarray:
    """Induced orbit counts (int64, (n, 15)) of the simple graph with 0/1 symmetric adjacency matrix ``a``."""
    a = np.asarray(a, dtype=np.float64)  # float matmuls (BLAS); every count is an integer far below 2**53
    n = a.shape[0]
    d = a.sum(1)
    a2 = a @ a  # common neighbours of every pair (walks of length 2)
    t = (a2 * a).sum(1) / 2  # triangles at each node
    tri_edge = a2 * a  # triangles through each edge
    p2 = a @ (d - 1)  # v-u-w walks with w != v
    off = a2.copy()
    np.fill_diagonal(off, 0)

    # Non-induced counts of the 4-node orbits, node by node.
    nonind = np.zeros((n, N_ORBITS))
    nonind[:, 4] = a @ (a @ (d - 1)) - d * (d - 1) - 2 * t  # v-a-b-c, v at an end
    nonind[:, 5] = (d - 1) * p2 - 2 * t  # a-v-b-c, v inside
    nonind[:, 6] = a @ ((d - 1) * (d - 2) / 2)  # v a leaf of a 3-star
    nonind[:, 7] = d * (d - 1) * (d - 2) / 6  # v the centre of a 3-star
    nonind[:, 8] = (off * (off - 1) / 2).sum(1)  # 4-cycles through v
    nonind[:, 9] = a @ t - 2 * t  # v-u with u in a triangle not holding v
    nonind[:, 10] = tri_edge @ (d - 2)  # v in a triangle with a tail at another node
    nonind[:, 11] = t * (d - 2)  # v in a triangle with a tail at v
    nonind[:, 12] = np.einsum("va,ab,bv->v", a, a * (a2 - 1), a) / 2  # v of degree 2 in a diamond
    nonind[:, 13] = (tri_edge * (tri_edge - 1) / 2).sum(1)  # v on a diamond's shared edge
    nonind[:, 14] = _k4_per_node(a, t)
    counts = np.zeros((n, N_ORBITS))
    counts[:, 0] = d
    counts[:, 1] = p2 - 2 * t
    counts[:, 2] = d * (d - 1) / 2 - t
    counts[:, 3] = t
    counts[:, 4:] = _induced(nonind)[:, 4:]
    return np.rint(counts).astype(np.int64)


def _k4_per_node(a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Number of K4 holding each node: triangles among its neighbours (nodes with < 3 triangles hold none)."""
    out = np.zeros(a.shape[0])
    for v in np.flatnonzero(t >= 3):
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
