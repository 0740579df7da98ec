"""Graph files: edge lists, GraphML and adjacency matrices read as simple undirected graphs; bad input counted."""

import logging

import networkx as nx
import numpy as np
import pytest

from genlab.core.errors import BadInputError, DataError
from genlab.graph import io


def test_edgelist_comments_self_loops_and_unreadable_lines(tmp_path, caplog):
    f = tmp_path / "g.edgelist"
    f.write_text("# a comment\n10 11\n11 12 3.5\n12 12\n\x01\x02 x\nfoo bar\n12,10\n13\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="genlab.graph.io"):
        g = io.read_graph(f)
    assert sorted(g.nodes()) == [0, 1, 2, 3]  # 10..13 numbered in order
    assert sorted(map(sorted, g.edges())) == [[0, 1], [0, 2], [1, 2]]
    assert g.degree(3) == 0  # the single-name line is an isolated node
    assert g.graph["self_loops_dropped"] == 1
    assert g.graph["lines_skipped"] == 2  # the control-character line and "foo bar"
    assert [g.nodes[v]["name"] for v in range(4)] == [10, 11, 12, 13]
    assert "self-loop" in caplog.text and "unreadable" in caplog.text


def test_string_names_keep_first_appearance_order(tmp_path):
    f = tmp_path / "g.txt"
    f.write_text("alice bob\nbob carol\n", encoding="utf-8")
    g = io.read_graph(f)
    assert io.node_names(g) == ["alice", "bob", "carol"]
    assert g.number_of_edges() == 2


def test_empty_and_unreadable_files_raise(tmp_path):
    empty = tmp_path / "empty.edgelist"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="empty"):
        io.read_graph(empty)
    comments = tmp_path / "c.edgelist"
    comments.write_text("# nothing\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="no readable edge"):
        io.read_graph(comments)
    with pytest.raises(DataError, match="unknown graph format"):
        (tmp_path / "g.pdf").write_text("x", encoding="utf-8")
        io.read_graph(tmp_path / "g.pdf")


def test_graphml_round_trip_keeps_attributes_and_merges_directed_edges(tmp_path):
    d = nx.DiGraph()
    d.add_node("a", club="x")
    d.add_node("b", club="y")
    d.add_edges_from([("a", "b"), ("b", "a"), ("b", "b")])
    nx.write_graphml(d, str(tmp_path / "d.graphml"))
    g = io.read_graph(tmp_path / "d.graphml")
    assert not g.is_directed() and g.number_of_edges() == 1
    assert g.graph["self_loops_dropped"] == 1
    assert [g.nodes[v]["club"] for v in range(2)] == ["x", "y"]
    io.write_graphml(g, tmp_path / "back.graphml")
    h = io.read_graph(tmp_path / "back.graphml")
    assert nx.is_isomorphic(g, h) and h.nodes[0]["club"] == "x"


def test_edgelist_round_trip_keeps_isolated_nodes(tmp_path):
    g = nx.path_graph(4)
    g.add_node(4)
    io.write_edgelist(g, tmp_path / "p.edgelist")
    h = io.read_graph(tmp_path / "p.edgelist")
    assert h.number_of_nodes() == 5 and nx.is_isomorphic(g, h)


def test_adjacency_matrices(tmp_path):
    a = np.array([[1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]])  # one-sided entries, a self-loop
    np.save(tmp_path / "a.npy", a)
    g = io.read_graph(tmp_path / "a.npy")
    assert sorted(map(sorted, g.edges())) == [[0, 1], [1, 2]] and g.number_of_nodes() == 4
    assert g.graph["self_loops_dropped"] == 1
    np.savetxt(tmp_path / "a.csv", a, delimiter=",", fmt="%d")
    assert sorted(map(sorted, io.read_graph(tmp_path / "a.csv").edges())) == [[0, 1], [1, 2]]
    (tmp_path / "e.csv").write_text("0,1\n1,2\n", encoding="utf-8")  # two columns: an edge list
    assert io.read_graph(tmp_path / "e.csv").number_of_edges() == 2
    sym = io.to_adjacency(g)
    assert sym.dtype == np.float32 and (sym == sym.T).all() and sym.trace() == 0
    assert nx.is_isomorphic(io.from_adjacency(sym), g)
    with pytest.raises(BadInputError, match="square"):
        io.from_adjacency(np.zeros((2, 3)))


def test_folder_skips_and_counts_bad_files(tmp_path):
    io.write_edgelist(nx.cycle_graph(5), tmp_path / "a.edgelist")
    io.write_graphml(nx.star_graph(3), tmp_path / "b.graphml")
    (tmp_path / "c.edgelist").write_text("", encoding="utf-8")
    (tmp_path / "d.graphml").write_text("<not graphml", encoding="utf-8")
    (tmp_path / "notes.md").write_text("ignored", encoding="utf-8")
    graphs, skipped = io.read_graph_folder(tmp_path)
    assert [g.number_of_nodes() for g in graphs] == [5, 4] and skipped == 2
    with pytest.raises(DataError, match="no folder"):
        io.read_graph_folder(tmp_path / "missing")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.edgelist").write_text("# only a comment", encoding="utf-8")
    with pytest.raises(DataError, match=r"no readable graph .* 1 unreadable"):
        io.read_graph_folder(bad)


def test_check_max_nodes_names_the_largest_graph():
    io.check_max_nodes([nx.path_graph(3)], 3)
    with pytest.raises(BadInputError, match=r"graph #1, has 9") as e:
        io.check_max_nodes([nx.path_graph(5), nx.path_graph(9), nx.path_graph(3)], 4, what="GraphRNN")
    assert "max_nodes" in e.value.hint and "GraphRNN" in e.value.message
