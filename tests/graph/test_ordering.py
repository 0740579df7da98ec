"""BFS orderings and GraphRNN's row encoding."""

import networkx as nx
import numpy as np
import pytest

from genlab.core.errors import BadInputError
from genlab.graph.ordering import bandwidth, bfs_bandwidth, bfs_order, bfs_rows, permuted_adjacency, rows_to_adjacency


def _is_bfs(g, order):
    """Every node after the first of its component has its BFS parent among the earlier nodes, level by level."""
    pos = {v: i for i, v in enumerate(order)}
    for comp in nx.connected_components(g):
        root = min(comp, key=pos.get)
        dist = nx.single_source_shortest_path_length(g, root)
        levels = [dist[v] for v in sorted(comp, key=pos.get)]
        if levels != sorted(levels):
            return False
    return True


def test_deterministic_bfs_on_a_tree():
    g = nx.balanced_tree(2, 2)  # 0 -> 1, 2; 1 -> 3, 4; 2 -> 5, 6
    assert bfs_order(g) == [0, 1, 2, 3, 4, 5, 6]
    assert bfs_order(g, start=3) == [3, 1, 0, 4, 2, 5, 6]


def test_random_bfs_covers_every_component_and_is_seeded():
    g = nx.disjoint_union(nx.cycle_graph(6), nx.path_graph(4))
    g.add_node(10)
    orders = {tuple(bfs_order(g, rng=np.random.default_rng(s))) for s in range(20)}
    assert len(orders) > 5
    for o in orders:
        assert sorted(o) == sorted(g.nodes()) and _is_bfs(g, list(o))
        comps = [next(i for i, c in enumerate(nx.connected_components(g)) if v in c) for v in o]
        assert (
            sum(a != b for a, b in zip(comps[:-1], comps[1:], strict=True)) == 2
        )  # each component is one contiguous block
    assert bfs_order(g, rng=7) == bfs_order(g, rng=7)
    with pytest.raises(BadInputError, match="not in the graph"):
        bfs_order(g, start=99)


def test_rows_round_trip_and_encoding():
    g = nx.Graph([(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)])
    adj = permuted_adjacency(g, bfs_order(g))
    rows = bfs_rows(adj, m=3)
    assert rows.shape == (4, 3)
    # order 0,1,2,3,4: node 1 <- 0; node 2 <- 0 (two back); node 3 <- 1, 2; node 4 <- 3
    assert rows.tolist() == [[1, 0, 0], [0, 1, 0], [1, 1, 0], [1, 0, 0]]
    assert (rows_to_adjacency(rows) == adj).all()
    with pytest.raises(BadInputError, match="bandwidth"):
        bfs_rows(adj, m=1)
    assert rows_to_adjacency(bfs_rows(adj, m=1, truncate=True)).sum() < adj.sum()


def test_bandwidth_of_bfs_orderings():
    g = nx.grid_2d_graph(4, 6)
    g = nx.convert_node_labels_to_integers(g)
    m = bfs_bandwidth([g], n_orders=10, seed=0)
    assert 4 <= m <= g.number_of_nodes() - 1
    assert bfs_bandwidth([nx.path_graph(6)]) == 2  # from an inner start the two sides interleave
    for seed in range(5):
        adj = permuted_adjacency(g, bfs_order(g, rng=seed))
        assert (rows_to_adjacency(bfs_rows(adj, m=bandwidth(adj))) == adj).all()
