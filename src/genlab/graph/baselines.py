"""Baselines fitted to the training graphs in closed form: Erdős–Rényi and a stochastic block model.

* ``graph/erdos-renyi``: the node count drawn from the training graphs' node counts (their histogram), then
  every pair linked independently with ``p`` = the maximum-likelihood edge density of the training graphs,
  ``Σ edges / Σ n(n - 1)/2`` (Erdős & Rényi 1959; the G(n, p) of Gilbert 1959).
* ``graph/sbm``: a stochastic block model (Holland, Laskey & Leinhardt 1983). Every training graph is split
  into communities by Louvain modularity optimisation (Blondel et al. 2008, networkx's implementation, seed 0);
  the number of blocks ``K`` is the most common community count (at most ``max_blocks``); a graph's communities
  are ranked by size and those beyond the ``K``-th are merged into the block they share most edges with. Block
  shares are the mean size shares of the ranked blocks, and the block link probabilities ``P_ab`` the pooled
  ratio of edges to node pairs between blocks ``a`` and ``b``. Sampling: the node count from the histogram,
  block sizes multinomial with the shares, every pair linked with ``P`` of its blocks.

Both are fitted by counting, like the n-gram of text or the copula of tables: ``genlab train graph-generation
--model erdos-renyi`` runs no gradient step. Their parameters are buffers, so they save as safetensors.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field

from genlab.core.errors import BadInputError, GenlabError
from genlab.core.model import register_model
from genlab.graph.base import GraphGenerativeModel, GraphModelConfig


def training_graphs(train_dataset: Any) -> list:
    """The networkx graphs of a training dataset (its ``graphs``), or the list itself."""
    graphs = getattr(train_dataset, "graphs", train_dataset)
    graphs = list(graphs) if graphs is not None else []
    if not graphs:
        raise BadInputError("no training graphs to fit", "give at least one graph")
    return graphs


class FittedGraphModel(GraphGenerativeModel):
    """A closed-form graph model with a node-count histogram (buffer ``node_counts``, index = node count)."""

    fits_in_closed_form = True

    def __init__(self, config: GraphModelConfig):
        super().__init__(config)
        self.register_buffer("node_counts", torch.zeros(config.max_nodes + 1, dtype=torch.float64))

    def optimizer_groups(self):
        raise GenlabError(f"{self.registry_name} is fitted in closed form, not by gradient steps")

    def fit_node_counts(self, graphs: list) -> None:
        """Histogram of the training graphs' node counts; a graph above ``max_nodes`` raises."""
        from genlab.graph.io import check_max_nodes

        check_max_nodes(graphs, self.config.max_nodes, self.registry_name)
        self.node_counts.zero_()
        for g in graphs:
            self.node_counts[g.number_of_nodes()] += 1

    def draw_node_counts(self, n: int, generator: torch.Generator | None) -> list[int]:
        """``n`` node counts drawn from the training histogram (a single node before fitting)."""
        if self.node_counts.sum() <= 0:
            return [1] * n
        return torch.multinomial(self.node_counts.float(), n, replacement=True, generator=generator).tolist()


def _symmetric_draw(prob: torch.Tensor, generator: torch.Generator | None) -> np.ndarray:
    """A 0/1 symmetric adjacency (uint8, zero diagonal) with each pair i < j linked with ``prob[i, j]``."""
    k = prob.shape[0]
    u = torch.rand(k, k, generator=generator, dtype=torch.float64).triu(1)
    drawn = (u < prob) & torch.ones(k, k, dtype=torch.bool).triu(1)
    return (drawn | drawn.T).numpy().astype(np.uint8)


@register_model("graph/erdos-renyi")
class ErdosRenyi(FittedGraphModel):
    """G(n, p) with n from the training node counts and p their edge density (module docstring)."""

    config_class = GraphModelConfig
    description: ClassVar[str] = "Erdős–Rényi G(n, p) fitted to the training graphs (baseline)"

    def __init__(self, config: GraphModelConfig):
        super().__init__(config)
        self.register_buffer("edge_density", torch.zeros((), dtype=torch.float64))

    def fit(self, train_dataset: Any, val_dataset: Any | None = None) -> dict[str, float]:
        graphs = training_graphs(train_dataset)
        self.fit_node_counts(graphs)
        pairs = sum(g.number_of_nodes() * (g.number_of_nodes() - 1) / 2 for g in graphs)
        edges = sum(g.number_of_edges() for g in graphs)
        self.edge_density.fill_(edges / pairs if pairs else 0.0)
        return {"graphs": float(len(graphs)), "edge_density": float(self.edge_density)}

    @torch.no_grad()
    def generate_adjacency(self, n: int, generator: torch.Generator | None = None) -> list[np.ndarray]:
        p = float(self.edge_density)
        return [
            _symmetric_draw(torch.full((k, k), p, dtype=torch.float64), generator)
            for k in self.draw_node_counts(n, generator)
        ]


class SBMConfig(GraphModelConfig):
    """How many blocks the stochastic block model may have."""

    max_blocks: int = Field(8, ge=1, le=64, description="most blocks (the fitted count is the commonest found)")


def ranked_blocks(g, k: int) -> np.ndarray:
    """Block of every node (0..k-1) of graph ``g``: Louvain communities ranked by size, extra ones merged."""
    import networkx as nx

    communities = sorted(nx.community.louvain_communities(g, seed=0), key=lambda c: (-len(c), min(c)))
    block = np.zeros(g.number_of_nodes(), dtype=np.int64)
    nodes = sorted(g.nodes())
    index = {v: i for i, v in enumerate(nodes)}
    for b, community in enumerate(communities[:k]):
        for v in community:
            block[index[v]] = b
    for community in communities[k:]:  # merged into the kept block they share most edges with
        links = np.zeros(k)
        for v in community:
            for u in g.neighbors(v):
                if u not in community:
                    links[block[index[u]]] += 1
        target = int(links.argmax()) if links.any() else 0
        for v in community:
            block[index[v]] = target
    return block


@register_model("graph/sbm")
class StochasticBlockModel(FittedGraphModel):
    """Stochastic block model fitted with Louvain communities of the training graphs (module docstring)."""

    config_class = SBMConfig
    description: ClassVar[str] = "stochastic block model fitted to the training graphs' communities (baseline)"
    config: SBMConfig

    def __init__(self, config: SBMConfig):
        super().__init__(config)
        k = config.max_blocks
        self.register_buffer("block_shares", torch.zeros(k, dtype=torch.float64))
        self.register_buffer("block_probs", torch.zeros(k, k, dtype=torch.float64))

    def fit(self, train_dataset: Any, val_dataset: Any | None = None) -> dict[str, float]:
        import networkx as nx

        graphs = training_graphs(train_dataset)
        self.fit_node_counts(graphs)
        found = [len(nx.community.louvain_communities(g, seed=0)) if g.number_of_edges() else 1 for g in graphs]
        k = min(int(np.bincount(found).argmax()), self.config.max_blocks)
        shares = np.zeros(self.config.max_blocks)
        edges = np.zeros((k, k))
        pairs = np.zeros((k, k))
        for g in graphs:
            block = ranked_blocks(g, k) if g.number_of_edges() else np.zeros(g.number_of_nodes(), dtype=np.int64)
            sizes = np.bincount(block, minlength=k).astype(float)
            shares[:k] += sizes / sizes.sum()
            pairs += np.outer(sizes, sizes) - np.diag(sizes * (sizes + 1) / 2)  # a ≠ b counted twice, a = b once
            for u, v in g.edges():
                a, b = block[u], block[v]
                edges[a, b] += 1
                if a != b:
                    edges[b, a] += 1
        probs = np.divide(edges, pairs, out=np.zeros_like(edges), where=pairs > 0)
        self.block_shares.copy_(torch.from_numpy(shares / len(graphs)))
        self.block_probs.zero_()
        self.block_probs[:k, :k] = torch.from_numpy(probs)
        return {"graphs": float(len(graphs)), "blocks": float(k), "within_block_p": float(np.diag(probs).mean())}

    @torch.no_grad()
    def generate_adjacency(self, n: int, generator: torch.Generator | None = None) -> list[np.ndarray]:
        shares = self.block_shares.float()
        if shares.sum() <= 0:
            shares = torch.zeros_like(shares)
            shares[0] = 1.0
        out = []
        for k in self.draw_node_counts(n, generator):
            blocks = torch.multinomial(shares, k, replacement=True, generator=generator).sort().values
            out.append(_symmetric_draw(self.block_probs[blocks][:, blocks], generator))
        return out
