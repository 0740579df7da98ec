"""Synthetic graph families, loading sources, and the 80/20 split."""

import networkx as nx
import pytest

from genlab.core.errors import DataError, UnknownNameError
from genlab.core.registry import DATASETS
from genlab.graph import datasets, io


def test_community_small_follows_the_recipe():
    graphs = datasets.synthetic_graphs("community-small", seed=0)
    assert len(graphs) == 100
    assert all(12 <= g.number_of_nodes() <= 20 and nx.is_connected(g) for g in graphs)
    density = sum(nx.density(g) for g in graphs) / len(graphs)
    assert 0.3 < density < 0.5  # two G(n, 0.7) blocks of about equal size: just over 0.7 / 2
    again = datasets.synthetic_graphs("community-small", seed=0)
    assert all(nx.utils.graphs_equal(a, b) for a, b in zip(graphs, again, strict=True))
    other = datasets.synthetic_graphs("community-small", seed=1)
    assert not all(nx.utils.graphs_equal(a, b) for a, b in zip(graphs, other, strict=True))


def test_grid_and_ego_like():
    grids = datasets.synthetic_graphs("grid")
    assert len(grids) == 100 and {g.number_of_nodes() for g in grids} >= {100, 361}
    egos = datasets.synthetic_graphs("ego-like", seed=0)
    assert len(egos) == 200
    assert all(
        4 <= g.number_of_nodes() <= 18 and max(d for _, d in g.degree()) == g.number_of_nodes() - 1 for g in egos
    )


def test_lobster_sizes():
    lobsters = datasets.lobster(seed=0, n_graphs=5)
    assert all(10 <= g.number_of_nodes() <= 100 and nx.is_tree(g) for g in lobsters)


def test_load_graphs_sources(tmp_path):
    s = datasets.load_graphs("builtin:karate")
    assert s.graphs[0].number_of_nodes() == 34 and s.skipped == 0
    io.write_edgelist(nx.path_graph(3), tmp_path / "a.edgelist")
    (tmp_path / "b.edgelist").write_text("", encoding="utf-8")
    s = datasets.load_graphs(str(tmp_path))
    assert len(s.graphs) == 1 and s.skipped == 1
    s = datasets.load_graphs("a.edgelist", data_dir=tmp_path)
    assert s.graphs[0].number_of_edges() == 2
    with pytest.raises(UnknownNameError, match="did you mean"):
        datasets.load_graphs("builtin:comunity-small")
    with pytest.raises(DataError, match="no graph data"):
        datasets.load_graphs(str(tmp_path / "missing"))


def test_split_like_graphrnn():
    graphs = datasets.synthetic_graphs("community-small")
    train, test = datasets.split_graphs(graphs, seed=0)
    assert (len(train), len(test)) == (80, 20)
    assert {id(g) for g in train}.isdisjoint(id(g) for g in test)
    assert [id(g) for g in datasets.split_graphs(graphs, seed=0)[1]] == [id(g) for g in test]
    with pytest.raises(DataError):
        datasets.split_graphs(graphs[:1])


def test_registered_in_datasets():
    names = DATASETS.names(modality="graph")
    assert {"builtin:community-small", "builtin:grid", "builtin:lobster", "builtin:ego-like", "builtin:karate"} <= set(
        names
    )
    assert len(DATASETS.get("builtin:community-small")(seed=3)) == 100
