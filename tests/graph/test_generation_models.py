"""Graph generators (GraphRNN, GraphVAE, Erdős–Rényi, SBM) run the shared model suite on three tiny graphs,
plus checks of their own: GraphRNN learns, the graph matching of GraphVAE recovers a permutation, the fitted
baselines reproduce the data's edge density and block structure."""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from genlab.core.errors import BadInputError
from genlab.graph.base import rows_from_adjacency
from genlab.graph.baselines import ErdosRenyi, StochasticBlockModel
from genlab.graph.graphrnn import GraphRNN, GraphRNNConfig
from genlab.graph.graphvae import max_pooling_matching, permute_to_slots
from genlab.graph.ordering import bfs_order, bfs_rows, permuted_adjacency
from genlab.graph.task import GraphDataset
from tests.model_mixin import ModelTesterMixin

MAX_NODES, BANDWIDTH = 6, 4


def tiny_graphs() -> list[nx.Graph]:
    return [nx.cycle_graph(4), nx.path_graph(5), nx.star_graph(5)]


def tiny_batch(max_nodes: int = MAX_NODES) -> dict[str, torch.Tensor]:
    """The three tiny graphs in fixed BFS orderings, batched as the engine batches them."""
    torch.manual_seed(0)
    ds = GraphDataset(tiny_graphs(), max_nodes)
    return default_collate([ds[i] for i in range(len(ds))])


class GraphModelTesterMixin(ModelTesterMixin):
    """Hooks of the shared suite for graph generators: samples are lists of adjacency matrices."""

    validation_keys = {"loss"}

    def batch(self, model) -> dict[str, torch.Tensor]:
        return tiny_batch(model.config.max_nodes)

    def sample(self, model, seed: int) -> list[torch.Tensor]:
        return [torch.from_numpy(a) for a in model.generate_adjacency(8, torch.Generator().manual_seed(seed))]

    def check_output(self, model, out: list[torch.Tensor]) -> None:
        assert len(out) == 8
        for a in out:
            assert a.dtype == torch.uint8 and a.dim() == 2 and a.shape[0] == a.shape[1]
            assert 1 <= a.shape[0] <= model.config.max_nodes
            assert torch.equal(a, a.T) and not a.diagonal().any() and set(a.unique().tolist()) <= {0, 1}

    def fit_data(self, model) -> tuple[Any, Any]:
        return tiny_graphs(), None


class TestGraphRNN(GraphModelTesterMixin):
    model_name = "graph/graphrnn"
    config = {
        "max_nodes": MAX_NODES, "bfs_bandwidth": BANDWIDTH, "graph_hidden": 16, "graph_layers": 2,
        "graph_embedding": 8, "edge_hidden": 8, "edge_layers": 2, "edge_embedding": 4,
    }  # fmt: skip
    validation_keys = {"loss", "edge_nll", "stop_nll"}


class TestGraphVAE(GraphModelTesterMixin):
    model_name = "graph/graphvae"
    config = {"max_nodes": MAX_NODES, "latent_dim": 4, "encoder_dims": [8], "decoder_dims": [16], "kl_weight": 0.1}
    validation_keys = {"loss", "recon", "kl"}


class TestErdosRenyi(GraphModelTesterMixin):
    model_name = "graph/erdos-renyi"
    config = {"max_nodes": MAX_NODES}
    validation_keys = None


class TestSBM(GraphModelTesterMixin):
    model_name = "graph/sbm"
    config = {"max_nodes": MAX_NODES, "max_blocks": 3}
    validation_keys = None


def test_batched_rows_are_the_bfs_rows_of_the_ordering():
    batch = tiny_batch()
    rows = rows_from_adjacency(batch["adj"], BANDWIDTH)
    for i, n in enumerate(batch["n_nodes"].tolist()):
        expected = bfs_rows(batch["adj"][i, :n, :n].numpy(), BANDWIDTH)
        assert np.array_equal(rows[i, : n - 1].numpy(), expected)
        assert not rows[i, n - 1 :].any()  # padding nodes have no links


def test_graphrnn_learns_three_tiny_graphs():
    """Thirty Adam steps on the same three graphs cut GraphRNN's NLL by more than half, and its samples look
    like them afterwards (node counts of the data)."""
    torch.manual_seed(0)
    model = GraphRNN(GraphRNNConfig(max_nodes=MAX_NODES, bfs_bandwidth=BANDWIDTH, graph_hidden=32, graph_layers=2,
                                    graph_embedding=16, edge_hidden=16, edge_layers=2))  # fmt: skip
    batch = tiny_batch()
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    first = model.training_losses(batch, "model")["loss"].item()
    for _ in range(60):
        opt.zero_grad()
        model.training_losses(batch, "model")["loss"].backward()
        opt.step()
    last = model.eval().training_losses(batch, "model")["loss"].item()
    assert last < first / 2, (first, last)
    sizes = [g.number_of_nodes() for g in model.sample_graphs(50, torch.Generator().manual_seed(0))]
    assert np.mean([s in (4, 5, 6) for s in sizes]) > 0.8, sizes


def test_graph_matching_recovers_a_permutation():
    """Decoded probabilities that are a relabelled copy of the input graph: max-pooling matching finds the
    relabelling, and the input moved to its slots equals the decoded graph."""
    g = nx.Graph([(0, 1), (1, 2), (2, 3), (3, 0), (0, 4)])  # a square with a tail: few automorphisms
    k = 6
    a = np.zeros((k, k), dtype=np.float32)
    a[:5, :5] = nx.to_numpy_array(g, nodelist=range(5))
    perm = np.array([3, 5, 0, 1, 4, 2])  # input node i sits in decoded slot perm[i]
    decoded = np.zeros((k, k), dtype=np.float32)
    decoded[np.ix_(perm, perm)] = a
    nodes = torch.tensor([[1, 1, 1, 1, 1, 0]], dtype=torch.float32)
    slots_used = torch.zeros(1, k)
    slots_used[0, perm[:5]] = 1
    adj = torch.from_numpy(a)[None]
    probs = torch.from_numpy(decoded)[None] * 0.98 + 0.01
    slots = max_pooling_matching(adj, nodes, probs, slots_used * 0.98 + 0.01, iterations=30)
    moved, exists = permute_to_slots(adj, nodes, slots)
    assert torch.equal(moved[0], torch.from_numpy(decoded))
    assert torch.equal(exists, slots_used)


def _graphs(name: str) -> list[nx.Graph]:
    from genlab.graph.datasets import split_graphs, synthetic_graphs

    return split_graphs(synthetic_graphs(name, seed=0), seed=0)[0]


def density(graphs: list[nx.Graph]) -> float:
    pairs = sum(g.number_of_nodes() * (g.number_of_nodes() - 1) / 2 for g in graphs)
    return sum(g.number_of_edges() for g in graphs) / pairs


def test_fitted_baselines_reproduce_edge_density_and_node_counts():
    train = _graphs("community-small")
    max_nodes = max(g.number_of_nodes() for g in train)
    for cls in (ErdosRenyi, StochasticBlockModel):
        model = cls(cls.config_class(max_nodes=max_nodes))
        model.fit(train)
        drawn = model.sample_graphs(400, torch.Generator().manual_seed(0))
        assert abs(density(drawn) - density(train)) < 0.02, cls.__name__
        assert abs(np.mean([g.number_of_nodes() for g in drawn]) - np.mean([g.number_of_nodes() for g in train])) < 0.5
        assert max(g.number_of_nodes() for g in drawn) <= max_nodes


def test_sbm_finds_the_two_communities_of_community_small():
    train = _graphs("community-small")
    model = StochasticBlockModel(StochasticBlockModel.config_class(max_nodes=20))
    metrics = model.fit(train)
    assert metrics["blocks"] == 2
    p = model.block_probs[:2, :2]
    assert p[0, 0] > 0.6 and p[1, 1] > 0.6 and p[0, 1] < 0.1  # the recipe: 0.7 within, 0.05 between


def test_a_baseline_refuses_graphs_above_its_max_nodes():
    model = ErdosRenyi(ErdosRenyi.config_class(max_nodes=4))
    with pytest.raises(BadInputError, match="more nodes than"):
        model.fit(tiny_graphs())


def test_dataset_draws_a_fresh_bfs_ordering_each_time():
    g = nx.path_graph(6)
    ds = GraphDataset([g], 6, length=4)
    torch.manual_seed(0)
    seen = {tuple(ds[0]["adj"].flatten().tolist()) for _ in range(20)}
    assert len(seen) > 1  # the random start node and neighbour order change the ordering
    for _ in range(5):
        a = ds[0]["adj"].numpy()
        assert nx.is_isomorphic(nx.from_numpy_array(a), g)
    order = bfs_order(g, rng=0)
    assert permuted_adjacency(g, order).shape == (6, 6) and len(ds) == 4
