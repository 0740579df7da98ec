"""Message-passing layers: permutation equivariance of node outputs, invariance of pooled outputs, batching."""

import networkx as nx
import pytest
import torch

from genlab.core.errors import BadInputError
from genlab.graph.layers import GNNEncoder, GraphEncoder, dense_batch, edge_index, graph_batch

KINDS = ["gcn", "gat", "gin"]


def _graph_and_permutation(seed=0, n=12):
    g = nx.gnp_random_graph(n, 0.3, seed=seed)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))  # new node i is old node perm[i]
    inverse = torch.argsort(perm)
    permuted = nx.relabel_nodes(g, {int(old): int(new) for new, old in enumerate(perm)})
    return g, permuted, perm, inverse


def test_edge_index_holds_both_directions_and_no_self_loop():
    g = nx.Graph([(0, 1), (1, 2), (2, 2)])
    e = edge_index(g)
    assert e.shape == (2, 4) and set(map(tuple, e.T.tolist())) == {(0, 1), (1, 0), (1, 2), (2, 1)}
    assert edge_index(nx.empty_graph(3)).shape == (2, 0)


@pytest.mark.parametrize("kind", KINDS)
def test_node_embeddings_are_permutation_equivariant(kind):
    torch.manual_seed(0)
    g, permuted, perm, _ = _graph_and_permutation()
    x = torch.randn(12, 5)
    encoder = GNNEncoder(kind, 5, hidden_dim=8, num_layers=2, dropout=0.5, heads=2).eval()
    out = encoder(x, edge_index(g))
    out_permuted = encoder(x[perm], edge_index(permuted))
    assert out.shape == (12, 8)
    assert torch.allclose(out_permuted, out[perm], atol=1e-5)
    assert not torch.allclose(out_permuted, out, atol=1e-3)  # the rows did move


@pytest.mark.parametrize("pooling", ["sum", "mean", "max"])
@pytest.mark.parametrize("kind", KINDS)
def test_pooled_outputs_are_permutation_invariant(kind, pooling):
    torch.manual_seed(0)
    g, permuted, perm, _ = _graph_and_permutation(seed=1)
    x = torch.randn(12, 3)
    model = GraphEncoder(kind, 3, out_dim=4, hidden_dim=8, num_layers=2, heads=2, pooling=pooling).eval()
    a = model(x, edge_index(g))
    b = model(x[perm], edge_index(permuted))
    assert a.shape == (1, 4) and torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_a_batch_of_graphs_scores_each_graph_as_alone(kind):
    torch.manual_seed(0)
    graphs = [nx.cycle_graph(5), nx.star_graph(6), nx.path_graph(3)]
    feats = [torch.randn(g.number_of_nodes(), 3) for g in graphs]
    model = GraphEncoder(kind, 3, out_dim=2, hidden_dim=8, heads=2).eval()
    x, e, batch = graph_batch(graphs, feats)
    assert x.shape == (15, 3) and batch.tolist() == [0] * 5 + [1] * 7 + [2] * 3
    together = model(x, e, batch, num_graphs=3)
    alone = torch.cat([model(f, edge_index(g)) for g, f in zip(graphs, feats, strict=True)])
    assert torch.allclose(together, alone, atol=1e-5)
    assert not torch.allclose(together[0], together[1], atol=1e-3)


def test_dense_batch_pads_and_refuses_big_graphs():
    adj, mask = dense_batch([nx.path_graph(3), nx.complete_graph(4)])
    assert adj.shape == (2, 4, 4) and mask.tolist() == [[True, True, True, False], [True] * 4]
    assert adj[0].sum() == 4 and adj[1].sum() == 12 and torch.equal(adj, adj.transpose(1, 2))
    assert dense_batch([nx.path_graph(3)], max_nodes=6)[0].shape == (1, 6, 6)
    with pytest.raises(BadInputError, match="max_nodes"):
        dense_batch([nx.path_graph(9)], max_nodes=6)


def test_bad_layer_settings_are_refused():
    with pytest.raises(BadInputError, match="multiple of its heads"):
        GNNEncoder("gat", 3, hidden_dim=10, heads=4)
    with pytest.raises(BadInputError, match="unknown message-passing"):
        GNNEncoder("sage", 3)
