"""Graph MMDs against hand-computed values, 4-node orbit counts against hand counts, isomorphism novelty."""

import itertools
import math

import networkx as nx
import numpy as np
import pytest

from genlab.core.errors import BadInputError, UnknownNameError
from genlab.graph import metrics
from genlab.graph.orbits import adjacency_orbit_counts, orbit_counts, sparse_adjacency

P3, K3 = nx.path_graph(3), nx.complete_graph(3)
E = math.exp(-2 / 9)  # the kernel between P3 and K3 for degree (EMD 2/3) and spectrum (TV 2/3)


def _orbits(**per_node):
    """Rows of 15 orbit counts from {orbit: count} dicts."""
    rows = []
    for node in sorted(per_node, key=int):
        row = [0] * 15
        for k, c in per_node[node].items():
            row[k] = c
        rows.append(row)
    return rows


HAND_COUNTED = {
    "path4": (nx.path_graph(4), _orbits(**{"0": {0: 1, 1: 1, 4: 1}, "1": {0: 2, 1: 1, 2: 1, 5: 1},
                                           "2": {0: 2, 1: 1, 2: 1, 5: 1}, "3": {0: 1, 1: 1, 4: 1}})),
    "star": (nx.star_graph(3), _orbits(**{"0": {0: 3, 2: 3, 7: 1}, **{str(i): {0: 1, 1: 2, 6: 1} for i in (1, 2, 3)}})),
    "cycle4": (nx.cycle_graph(4), _orbits(**{str(i): {0: 2, 1: 2, 2: 1, 8: 1} for i in range(4)})),
    "clique4": (nx.complete_graph(4), _orbits(**{str(i): {0: 3, 3: 3, 14: 1} for i in range(4)})),
    "paw": (nx.Graph([(0, 1), (1, 2), (0, 2), (2, 3)]),
            _orbits(**{"0": {0: 2, 1: 1, 3: 1, 10: 1}, "1": {0: 2, 1: 1, 3: 1, 10: 1},
                       "2": {0: 3, 2: 2, 3: 1, 11: 1}, "3": {0: 1, 1: 2, 9: 1}})),
    "diamond": (nx.Graph([(0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]),
                _orbits(**{"0": {0: 2, 1: 2, 3: 1, 12: 1}, "1": {0: 2, 1: 2, 3: 1, 12: 1},
                           "2": {0: 3, 2: 1, 3: 2, 13: 1}, "3": {0: 3, 2: 1, 3: 2, 13: 1}})),
}  # fmt: skip


@pytest.mark.parametrize("name", HAND_COUNTED)
def test_orbit_counts_of_small_graphs(name):
    g, expected = HAND_COUNTED[name]
    assert orbit_counts(g).tolist() == expected


def _brute_force_orbits(g):
    """Orbits by enumerating every connected induced 3- and 4-node subgraph (slow, independent)."""
    out = np.zeros((g.number_of_nodes(), 15), dtype=int)
    for v in g:
        out[v, 0] = g.degree(v)
    for k in (3, 4):
        for nodes in itertools.combinations(g.nodes(), k):
            h = g.subgraph(nodes)
            if not nx.is_connected(h):
                continue
            m, degs = h.number_of_edges(), sorted(d for _, d in h.degree())
            for v in nodes:
                dv = h.degree(v)
                if k == 3:
                    o = 3 if m == 3 else (2 if dv == 2 else 1)
                elif m == 3:
                    o = (4 if dv == 1 else 5) if degs == [1, 1, 2, 2] else (6 if dv == 1 else 7)
                elif m == 4:
                    o = 8 if degs == [2, 2, 2, 2] else {1: 9, 2: 10, 3: 11}[dv]
                else:
                    o = {5: 12 if dv == 2 else 13, 6: 14}[m]
                out[v, o] += 1
    return out


def test_orbit_counts_match_enumeration_on_random_graphs():
    for seed in range(12):
        g = nx.gnp_random_graph(9, 0.2 + 0.05 * seed, seed=seed)
        expected = _brute_force_orbits(g)
        a = sparse_adjacency(g)
        assert (adjacency_orbit_counts(a) == expected).all(), seed  # sparse products
        assert (adjacency_orbit_counts(a.toarray()) == expected).all(), seed  # dense products


def test_dense_and_sparse_counts_agree_on_larger_graphs():
    for g in (
        nx.gnp_random_graph(90, 0.15, seed=0),
        nx.grid_2d_graph(9, 11),
        nx.powerlaw_cluster_graph(120, 3, 0.5, seed=1),
    ):
        a = sparse_adjacency(nx.convert_node_labels_to_integers(g))
        assert (adjacency_orbit_counts(a) == adjacency_orbit_counts(a.toarray())).all()


def test_mmds_against_hand_computed_values():
    # degree: P3 (0, 2/3, 1/3), K3 (0, 0, 1): EMD = |2/3 - 0| + |1 - 1| = 2/3
    assert metrics.degree_mmd([P3], [K3]) == pytest.approx(2 - 2 * E)
    # clustering: P3 all in bin 0, K3 all in bin 99: EMD = 99 / 100, sigma 0.1
    assert metrics.clustering_mmd([P3], [K3]) == pytest.approx(2 - 2 * math.exp(-(0.99**2) / (2 * 0.01)))
    # orbit means: P3 (4/3, 2/3, 1/3, 0, ...), K3 (2, 0, 0, 1, ...): squared distance 2, sigma 30
    assert metrics.orbit_mmd([P3], [K3]) == pytest.approx(2 - 2 * math.exp(-2 / 1800))
    # spectra: P3 {0, 1, 2}, K3 {0, 1.5, 1.5}: TV = (1/3 + 1/3 + 2/3) / 2 = 2/3
    assert metrics.spectral_mmd([P3], [K3]) == pytest.approx(2 - 2 * E)
    # the biased estimate over every pair: ref {P3, K3}, gen {K3}: (1 + e)/2 + 1 - (1 + e) = (1 - e)/2
    assert metrics.degree_mmd([P3, K3], [K3]) == pytest.approx((1 - E) / 2)


def test_graph_mmds_keys_identical_sets_and_errors():
    graphs = [nx.cycle_graph(5), nx.star_graph(4), nx.path_graph(6)]
    out = metrics.graph_mmds(graphs, graphs)
    assert list(out) == ["mmd_degree", "mmd_clustering", "mmd_orbit", "mmd_spectral"]
    assert all(abs(v) < 1e-12 for v in out.values())
    assert metrics.graph_mmds(graphs, [nx.empty_graph(0), *graphs])["mmd_degree"] == pytest.approx(0)  # empty left out
    assert metrics.graph_mmds(graphs, [nx.complete_graph(6)])["mmd_degree"] > 0.1
    with pytest.raises(UnknownNameError):
        metrics.graph_mmds(graphs, graphs, names=["mmd_degre"])
    with pytest.raises(BadInputError, match="no graph with nodes"):
        metrics.degree_mmd(graphs, [nx.empty_graph(0)])


def test_statistics_agree_with_networkx():
    g = nx.karate_club_graph()
    g.add_node(40)
    assert np.allclose(
        metrics.normalized_laplacian_spectrum(g), np.sort(nx.normalized_laplacian_spectrum(g, weight=None))
    )
    hist = metrics.clustering_histograms([g])[0]
    expected, _ = np.histogram(list(nx.clustering(g).values()), bins=100, range=(0, 1))
    assert (hist == expected).all()
    assert metrics.degree_histograms([g])[0].tolist() == nx.degree_histogram(g)


def test_novelty_and_uniqueness_by_isomorphism():
    train = [nx.path_graph(4), nx.cycle_graph(4)]
    relabelled_path = nx.relabel_nodes(nx.path_graph(4), {0: 3, 1: 0, 2: 2, 3: 1})
    gen = [relabelled_path, nx.star_graph(3), nx.star_graph(3), nx.complete_graph(4)]
    assert metrics.novelty(gen, train) == pytest.approx(3 / 4)
    assert metrics.uniqueness(gen) == pytest.approx(3 / 4)
    # same WL hash, not isomorphic: two triangles vs a hexagon (both 2-regular on 6 nodes)
    two_triangles = nx.disjoint_union(nx.complete_graph(3), nx.complete_graph(3))
    assert metrics.wl_hash(two_triangles) == metrics.wl_hash(nx.cycle_graph(6))
    assert metrics.novelty([two_triangles], [nx.cycle_graph(6)]) == 1.0
    assert metrics.uniqueness([two_triangles, nx.cycle_graph(6)]) == 1.0


def test_isomorphism_of_large_symmetric_trees_and_grids():
    """Copies of one lobster (many interchangeable leaves) and of one grid, relabelled, are one class; a tree
    with one leaf moved and the transposed grid are told apart or matched exactly as they should be."""
    from genlab.graph.datasets import lobster

    tree = max(lobster(seed=0), key=nx.number_of_nodes)
    order = list(tree.nodes())
    np.random.default_rng(0).shuffle(order)
    copy = nx.relabel_nodes(tree, dict(zip(tree.nodes(), order, strict=True)))
    leaf = next(u for u in tree if tree.degree(u) == 1)
    moved = tree.copy()
    moved.remove_node(leaf)
    moved.add_edge(leaf, next(u for u in moved if moved.degree(u) == 1))  # the leaf now hangs off another leaf
    assert metrics.novelty([copy, moved], [tree]) == 0.5
    assert metrics.uniqueness([tree, copy, moved]) == pytest.approx(2 / 3)
    grid = nx.convert_node_labels_to_integers(nx.grid_2d_graph(12, 15))
    transposed = nx.convert_node_labels_to_integers(nx.grid_2d_graph(15, 12))
    assert metrics.novelty([transposed, nx.grid_2d_graph(13, 14)], [grid]) == 0.5


def test_validity_per_family():
    assert metrics.validity([nx.grid_2d_graph(3, 4), nx.path_graph(12)], "grid") == 0.5
    assert metrics.is_lobster(nx.path_graph(5)) and not metrics.is_lobster(nx.cycle_graph(5))
    spider = nx.star_graph(3)
    nx.add_path(spider, [1, 4, 5, 6])  # a leg three long off a leaf: not within distance two of a path
    nx.add_path(spider, [2, 7, 8, 9])
    nx.add_path(spider, [3, 10, 11, 12])
    assert not metrics.is_lobster(spider)
    assert metrics.validity([nx.star_graph(5), nx.path_graph(5)], "ego-like") == 0.5
    with pytest.raises(UnknownNameError):
        metrics.validity([P3], "planar")
