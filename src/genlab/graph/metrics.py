"""Graph-generation metrics: MMD of graph statistics (GraphRNN, GRAN), validity, novelty and uniqueness.

MMD protocol (You et al., 2018, GraphRNN, section 4.2 and its evaluation code's conventions; Liao et
al., 2019, GRAN, section 5 for the spectrum). Each graph becomes a vector, and two sets X (reference)
and Y (generated) are compared by the biased squared-MMD estimate

    MMD² = mean K(x, x') + mean K(y, y') − 2 mean K(x, y)

over all pairs of each set (the pairs of a graph with itself included). Graphs with no node are left
out of the generated set, as GraphRNN's evaluation does. The statistics and kernels:

* **degree** — the degree histogram (counts of degree 0, 1, …, normalised to sum 1), Gaussian-EMD
  kernel ``exp(−EMD(x, y)² / (2σ²))`` with σ = 1, EMD with ground distance |i − j| between bins.
* **clustering** — the histogram of the nodes' clustering coefficients, 100 bins on [0, 1],
  normalised; Gaussian-EMD with σ = 0.1 and the ground distance divided by the number of bins.
* **orbit** — per graph, the counts of the 15 orbits of 2–4-node graphlets (ORCA's orbits 0–14,
  :mod:`genlab.graph.orbits`) summed over its nodes and divided by its number of nodes; Gaussian
  kernel ``exp(−‖x − y‖² / (2σ²))`` on those vectors with σ = 30 (no normalisation).
* **spectral** (GRAN) — the eigenvalues of the normalised Laplacian in a 200-bin histogram on
  [−1e−5, 2], normalised; Gaussian total-variation kernel ``exp(−TV(x, y)² / (2σ²))``,
  ``TV = ½ Σ|x − y|``, σ = 1.

Between normalised histograms on the same unit-spaced support the EMD is exactly the L1 distance
between their cumulative sums, so every kernel matrix is one vectorised distance computation
(``scipy.spatial.distance.cdist``). Histograms of different lengths are padded with zeros.

Novelty and uniqueness are decided by isomorphism: graphs are bucketed by their Weisfeiler–Lehman
hash (``networkx.weisfeiler_lehman_graph_hash``, 3 iterations; isomorphic graphs always share it)
and compared exactly (VF2++, ``networkx.vf2pp_is_isomorphic``) only within a bucket.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import networkx as nx
import numpy as np
from scipy.spatial.distance import cdist

from genlab.core.errors import BadInputError, unknown_name
from genlab.graph.io import to_adjacency
from genlab.graph.orbits import adjacency, adjacency_orbit_counts, triangles

CLUSTERING_BINS = 100
SPECTRAL_BINS = 200
PROTOCOL = {
    "mmd": "biased MMD² = mean K(ref, ref) + mean K(gen, gen) − 2 mean K(ref, gen) (GraphRNN)",
    "mmd_degree": "degree histogram, normalised; Gaussian-EMD kernel, sigma 1.0",
    "mmd_clustering": "clustering-coefficient histogram, 100 bins on [0, 1]; Gaussian-EMD, sigma 0.1, distance / 100",
    "mmd_orbit": "15 orbit counts of 2–4-node graphlets summed over nodes / n; Gaussian kernel, sigma 30",
    "mmd_spectral": "normalised-Laplacian spectrum, 200 bins on [-1e-5, 2]; Gaussian-TV kernel, sigma 1.0 (GRAN)",
}


def _nonempty(graphs: Sequence[nx.Graph], side: str) -> list[nx.Graph]:
    kept = [g for g in graphs if g.number_of_nodes() > 0]
    if not kept:
        raise BadInputError(
            f"no graph with nodes among the {side} graphs ({len(graphs)} given)", "give non-empty graphs"
        )
    return kept


def _pad(rows: Sequence[np.ndarray], length: int) -> np.ndarray:
    out = np.zeros((len(rows), length))
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _normalised(h: np.ndarray) -> np.ndarray:
    s = h.sum(1, keepdims=True)
    return np.divide(h, s, out=np.zeros_like(h), where=s > 0)


def _mmd(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray) -> float:
    return float(kxx.mean() + kyy.mean() - 2 * kxy.mean())


def _gaussian(dist: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-(dist**2) / (2 * sigma**2))


def mmd_emd(x: np.ndarray, y: np.ndarray, sigma: float, distance_scaling: float = 1.0) -> float:
    """MMD² of histogram sets ``x`` (m, L) and ``y`` (k, L) with the Gaussian-EMD kernel.

    Histograms are normalised to sum 1; EMD(p, q) = Σ|cumsum(p) − cumsum(q)| / distance_scaling.
    """
    cx, cy = np.cumsum(_normalised(x), 1), np.cumsum(_normalised(y), 1)

    def k(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        return _gaussian(cdist(p, q, "cityblock") / distance_scaling, sigma)

    return _mmd(k(cx, cx), k(cy, cy), k(cx, cy))


def mmd_tv(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    """MMD² of histogram sets with the Gaussian total-variation kernel, TV(p, q) = ½ Σ|p − q| (normalised)."""
    px, py = _normalised(x), _normalised(y)

    def k(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        return _gaussian(cdist(p, q, "cityblock") / 2, sigma)

    return _mmd(k(px, px), k(py, py), k(px, py))


def mmd_gaussian(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    """MMD² of vector sets with the Gaussian kernel exp(−‖x − y‖² / (2σ²)) (no normalisation)."""

    def k(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        return np.exp(-cdist(p, q, "sqeuclidean") / (2 * sigma**2))

    return _mmd(k(x, x), k(y, y), k(x, y))


def degree_histograms(graphs: Sequence[nx.Graph]) -> np.ndarray:
    """Degree counts (degree 0, 1, …), one row per graph, zero-padded to the largest degree (float, (N, L))."""
    rows = [np.bincount([d for _, d in g.degree()]) for g in graphs]
    return _pad(rows, max(len(r) for r in rows))


def clustering_histograms(graphs: Sequence[nx.Graph], bins: int = CLUSTERING_BINS) -> np.ndarray:
    """Histograms of the nodes' clustering coefficients, ``bins`` bins on [0, 1] (float, (N, bins))."""
    out = np.zeros((len(graphs), bins))
    for i, g in enumerate(graphs):
        a = adjacency(g)
        d = np.asarray(a.sum(1)).ravel()
        t = triangles(a)
        c = np.divide(2 * t, d * (d - 1), out=np.zeros_like(t), where=d > 1)
        out[i], _ = np.histogram(c, bins=bins, range=(0.0, 1.0))
    return out


def orbit_features(graphs: Sequence[nx.Graph]) -> np.ndarray:
    """Per graph, its 15 orbit counts summed over nodes and divided by the number of nodes (float, (N, 15))."""
    return np.stack([adjacency_orbit_counts(adjacency(g)).sum(0) / g.number_of_nodes() for g in graphs])


def normalized_laplacian_spectrum(g: nx.Graph) -> np.ndarray:
    """Eigenvalues of ``I − D^-½ A D^-½`` (an isolated node's row and column are zero, as in networkx)."""
    a = to_adjacency(g, dtype=np.float64)
    d = a.sum(1)
    inv = np.divide(1.0, np.sqrt(d), out=np.zeros_like(d), where=d > 0)
    lap = inv[:, None] * (np.diag(d) - a) * inv[None, :]
    return np.linalg.eigvalsh(lap)


def spectral_histograms(graphs: Sequence[nx.Graph], bins: int = SPECTRAL_BINS) -> np.ndarray:
    """Normalised histograms of the normalised-Laplacian spectra, ``bins`` bins on [−1e−5, 2] (float, (N, bins))."""
    out = np.zeros((len(graphs), bins))
    for i, g in enumerate(graphs):
        out[i], _ = np.histogram(normalized_laplacian_spectrum(g), bins=bins, range=(-1e-5, 2.0))
    return _normalised(out)


def _two_sets(ref: Sequence[nx.Graph], gen: Sequence[nx.Graph]) -> tuple[list[nx.Graph], list[nx.Graph]]:
    return _nonempty(ref, "reference"), _nonempty(gen, "generated")


def degree_mmd(ref: Sequence[nx.Graph], gen: Sequence[nx.Graph]) -> float:
    """MMD² of degree histograms, Gaussian-EMD kernel σ = 1 (GraphRNN)."""
    ref, gen = _two_sets(ref, gen)
    h = degree_histograms([*ref, *gen])
    return mmd_emd(h[: len(ref)], h[len(ref) :], sigma=1.0)


def clustering_mmd(ref: Sequence[nx.Graph], gen: Sequence[nx.Graph]) -> float:
    """MMD² of clustering-coefficient histograms (100 bins), Gaussian-EMD σ = 0.1, distance / 100 (GraphRNN)."""
    ref, gen = _two_sets(ref, gen)
    return mmd_emd(clustering_histograms(ref), clustering_histograms(gen), sigma=0.1, distance_scaling=CLUSTERING_BINS)


def orbit_mmd(ref: Sequence[nx.Graph], gen: Sequence[nx.Graph]) -> float:
    """MMD² of mean 4-node orbit counts, Gaussian kernel σ = 30 (GraphRNN)."""
    ref, gen = _two_sets(ref, gen)
    return mmd_gaussian(orbit_features(ref), orbit_features(gen), sigma=30.0)


def spectral_mmd(ref: Sequence[nx.Graph], gen: Sequence[nx.Graph]) -> float:
    """MMD² of normalised-Laplacian spectrum histograms, Gaussian-TV σ = 1 (GRAN)."""
    ref, gen = _two_sets(ref, gen)
    return mmd_tv(spectral_histograms(ref), spectral_histograms(gen), sigma=1.0)


MMD_METRICS: dict[str, Callable[[Sequence[nx.Graph], Sequence[nx.Graph]], float]] = {
    "mmd_degree": degree_mmd,
    "mmd_clustering": clustering_mmd,
    "mmd_orbit": orbit_mmd,
    "mmd_spectral": spectral_mmd,
}


def graph_mmds(
    ref: Sequence[nx.Graph], gen: Sequence[nx.Graph], names: Sequence[str] | None = None
) -> dict[str, float]:
    """The MMD² metrics ``names`` (default: all of mmd_degree, mmd_clustering, mmd_orbit, mmd_spectral).

    ``graph_mmds(train, test)`` is the train-vs-test floor a model's numbers are read against.
    """
    names = list(MMD_METRICS) if names is None else list(names)
    for n in names:
        if n not in MMD_METRICS:
            raise unknown_name("graph MMD metric", n, MMD_METRICS)
    return {n: MMD_METRICS[n](ref, gen) for n in names}


# --------------------------------------------------------------------------- isomorphism classes


def colour_refinement(g: nx.Graph) -> tuple[dict, str]:
    """Weisfeiler–Lehman colour refinement of ``g``'s structure (node/edge attributes and self-loops ignored):
    each node's stable colour, and a hash of the whole refinement.

    Colours are refined until the partition stops splitting (at most ``|V|`` rounds). They are canonical —
    computed from structure alone — so an isomorphism maps every node to a node of the same colour, and two
    graphs share a hash only when 1-WL cannot tell them apart; for trees (lobsters, caterpillars) that
    already decides isomorphism. Regular graphs of one degree and size (a 6-cycle and two triangles) still
    collide: that is what the exact check is for."""
    adjacency = {u: [v for v in g.adj[u] if v != u] for u in g.nodes()}
    colours = {u: str(len(nbrs)) for u, nbrs in adjacency.items()}
    history = [sorted(colours.values())]
    classes = len(set(colours.values()))
    for _ in range(len(adjacency)):
        colours = {
            u: hashlib.blake2b(
                (colours[u] + "|" + ",".join(sorted(colours[v] for v in nbrs))).encode(), digest_size=8
            ).hexdigest()
            for u, nbrs in adjacency.items()
        }
        history.append(sorted(colours.values()))
        if len(set(colours.values())) == classes:
            break
        classes = len(set(colours.values()))
    return colours, hashlib.blake2b(repr((g.number_of_edges(), history)).encode(), digest_size=16).hexdigest()


def wl_hash(g: nx.Graph) -> str:
    """The Weisfeiler–Lehman hash of ``g``'s structure (:func:`colour_refinement`)."""
    return colour_refinement(g)[1]


class IsomorphismIndex:
    """A set of graphs up to isomorphism: WL-hash buckets, an exact check within a bucket.

    The exact check is VF2++ (Jüttner & Madarasi 2018, ``networkx.vf2pp_is_isomorphic``) with the stable
    WL colours as node labels: a node may only map to a node of its own colour. Without the labels, VF2 and
    even VF2++ take minutes on two copies of one 95-node lobster (trees with many interchangeable leaves);
    with them the search follows the automorphism classes and settles at once."""

    def __init__(self) -> None:
        self.buckets: dict[str, list[nx.Graph]] = {}

    def __len__(self) -> int:
        return sum(len(b) for b in self.buckets.values())

    @staticmethod
    def _labelled(g: nx.Graph) -> tuple[nx.Graph, str]:
        colours, key = colour_refinement(g)
        s = _structure(g)
        nx.set_node_attributes(s, colours, "wl")
        return s, key

    def _contains(self, s: nx.Graph, key: str) -> bool:
        return any(nx.vf2pp_is_isomorphic(s, h, node_label="wl") for h in self.buckets.get(key, []))

    def contains(self, g: nx.Graph) -> bool:
        """Whether a graph isomorphic to ``g`` is in the index."""
        return self._contains(*self._labelled(g))

    def add(self, g: nx.Graph) -> bool:
        """Add ``g`` unless an isomorphic graph is there; True when it was new."""
        s, key = self._labelled(g)
        if self._contains(s, key):
            return False
        self.buckets.setdefault(key, []).append(s)
        return True


def _structure(g: nx.Graph) -> nx.Graph:
    s = nx.Graph()
    s.add_nodes_from(g.nodes())
    s.add_edges_from((u, v) for u, v in g.edges() if u != v)
    return s


def novelty(gen: Sequence[nx.Graph], train: Sequence[nx.Graph]) -> float:
    """Fraction of generated graphs isomorphic to no training graph (GRAN/SPECTRE's novelty)."""
    if not gen:
        raise BadInputError("novelty needs at least one generated graph", None)
    index = IsomorphismIndex()
    for g in train:
        index.add(g)
    return sum(not index.contains(g) for g in gen) / len(gen)


def uniqueness(gen: Sequence[nx.Graph]) -> float:
    """Fraction of generated graphs that are distinct up to isomorphism (isomorphism classes / number of graphs)."""
    if not gen:
        raise BadInputError("uniqueness needs at least one generated graph", None)
    index = IsomorphismIndex()
    return sum(index.add(g) for g in gen) / len(gen)


# --------------------------------------------------------------------------- validity per family


def is_lobster(g: nx.Graph) -> bool:
    """A lobster: a tree that becomes a path (or a single node) once its leaves are removed twice (GRAN)."""
    if g.number_of_nodes() == 0 or not nx.is_tree(g):
        return False
    h = g.copy()
    for _ in range(2):
        if h.number_of_nodes() > 1:
            h.remove_nodes_from([v for v, d in h.degree() if d <= 1])
    return h.number_of_nodes() <= 1 or (nx.is_tree(h) and max(d for _, d in h.degree()) <= 2)


def is_grid(g: nx.Graph) -> bool:
    """A 2D grid graph ``rows × cols`` (rows, cols ≥ 2) up to isomorphism."""
    n = g.number_of_nodes()
    corners = sum(d == 2 for _, d in g.degree())
    if n < 4 or corners < 4 or not nx.is_connected(g):
        return False
    for r in range(2, int(n**0.5) + 1):
        if n % r == 0:
            c = n // r
            if g.number_of_edges() == r * (c - 1) + c * (r - 1) and nx.vf2pp_is_isomorphic(g, nx.grid_2d_graph(r, c)):
                return True
    return False


def is_community_small(g: nx.Graph) -> bool:
    """Fits community-small: connected, 12–20 nodes."""
    return 12 <= g.number_of_nodes() <= 20 and nx.is_connected(g)


def is_ego(g: nx.Graph) -> bool:
    """An ego network: some node is joined to every other node (4–18 nodes, as ego-small)."""
    n = g.number_of_nodes()
    return 4 <= n <= 18 and any(d == n - 1 for _, d in g.degree())


VALIDITY: dict[str, Callable[[nx.Graph], bool]] = {
    "community-small": is_community_small,
    "grid": is_grid,
    "lobster": is_lobster,
    "ego-like": is_ego,
}


def validity(gen: Sequence[nx.Graph], family: str) -> float:
    """Fraction of generated graphs meeting the domain constraints of ``family`` (:data:`VALIDITY`)."""
    if family not in VALIDITY:
        raise unknown_name("graph family with a validity check", family, VALIDITY)
    if not gen:
        raise BadInputError("validity needs at least one generated graph", None)
    check = VALIDITY[family]
    return sum(bool(check(g)) for g in gen) / len(gen)
