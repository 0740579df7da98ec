"""Graph datasets: the synthetic families of the graph-generation literature, Zachary's karate club, user graphs.

Synthetic families are generated in code from fixed seeds (same seed → same graphs), following the
published recipes:

* ``community-small`` — You et al. (2018), GraphRNN, section 4.1 ("Community-small": 100 graphs of two
  communities, 12 ≤ |V| ≤ 20), with the recipe of its ``n_community`` generator as also written out by
  Niu et al. (2020, EDP-GNN, appendix): each of the two communities has a size drawn uniformly from
  6..10 and is an Erdős–Rényi graph G(n, p=0.7); every pair of nodes from different communities is
  joined with probability 0.05, and one inter-community edge is added when none was drawn.
* ``grid`` — GraphRNN: the 100 2D grid graphs of 10 ≤ rows, cols < 20 (100–361 nodes). No randomness.
* ``lobster`` — Liao et al. (2019), GRAN, section 5: 100 random lobsters (``networkx.random_lobster`` with
  mean backbone length 80, p1 = p2 = 0.7), keeping those with 10 ≤ |V| ≤ 100, seeds increasing from ``seed``.
* ``ego-like`` — GraphRNN's ego-small are 200 one-hop ego networks (4 ≤ |V| ≤ 18) of the Citeseer
  citation graph, which genlab does not ship; this family takes the 200 one-hop ego networks of
  distinct centres with 3 ≤ degree ≤ 17 from a Holme–Kim power-law cluster graph
  (``networkx.powerlaw_cluster_graph(3000, 2, 0.3)``), which has Citeseer-like heavy-tailed degrees
  and clustering. It is "ego-small-like", not Citeseer.

``builtin:karate`` is Zachary's karate club (networkx), the node-classification example (label
``club``). :func:`load_graphs` also reads a user's folder of graph files or one file
(:mod:`genlab.graph.io`). :func:`split_graphs` splits as GraphRNN did: shuffle, first 80 % train.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np

from genlab.core.data import DatasetSpec, first_line, register_dataset
from genlab.core.errors import BadInputError, DataError, unknown_name
from genlab.graph.io import read_graph, read_graph_folder


def community_small(seed: int = 0, n_graphs: int = 100) -> list[nx.Graph]:
    """Two-community graphs, 12–20 nodes (GraphRNN's community-small; recipe in the module doc)."""
    rng = np.random.default_rng(seed)
    graphs = []
    for _ in range(n_graphs):
        sizes = rng.integers(6, 11, size=2)
        g = nx.Graph()
        blocks = []
        offset = 0
        for size in sizes:
            nodes = list(range(offset, offset + size))
            g.add_nodes_from(nodes)
            iu = np.triu_indices(size, k=1)
            keep = rng.random(len(iu[0])) < 0.7
            g.add_edges_from(zip((iu[0][keep] + offset).tolist(), (iu[1][keep] + offset).tolist(), strict=True))
            blocks.append(nodes)
            offset += size
        inter = rng.random((sizes[0], sizes[1])) < 0.05
        pairs = [(blocks[0][i], blocks[1][j]) for i, j in np.argwhere(inter)]
        if not pairs:
            pairs = [(blocks[0][0], blocks[1][0])]
        g.add_edges_from(pairs)
        graphs.append(g)
    return graphs


def grid(seed: int = 0) -> list[nx.Graph]:
    """The 100 2D grids of 10 ≤ rows, cols < 20 (GraphRNN's grid; ``seed`` is unused: there is no randomness)."""
    return [nx.convert_node_labels_to_integers(nx.grid_2d_graph(r, c)) for r in range(10, 20) for c in range(10, 20)]


def lobster(seed: int = 0, n_graphs: int = 100) -> list[nx.Graph]:
    """Random lobsters with 10–100 nodes (GRAN's lobster recipe; see the module doc)."""
    graphs = []
    s = seed
    while len(graphs) < n_graphs:
        g = nx.random_lobster(80, 0.7, 0.7, seed=s)
        s += 1
        if 10 <= g.number_of_nodes() <= 100:
            graphs.append(nx.convert_node_labels_to_integers(g))
    return graphs


def ego_like(seed: int = 0, n_graphs: int = 200) -> list[nx.Graph]:
    """One-hop ego networks of 4–18 nodes from a power-law cluster graph (ego-small-like; see the module doc)."""
    rng = np.random.default_rng(seed)
    host = nx.powerlaw_cluster_graph(3000, 2, 0.3, seed=int(rng.integers(2**31)))
    centres = [v for v, d in host.degree() if 3 <= d <= 17]
    picked = rng.choice(len(centres), size=min(n_graphs, len(centres)), replace=False)
    return [nx.convert_node_labels_to_integers(nx.ego_graph(host, centres[i], radius=1)) for i in picked]


FAMILIES: dict[str, Callable[..., list[nx.Graph]]] = {
    "community-small": community_small,
    "grid": grid,
    "lobster": lobster,
    "ego-like": ego_like,
}


def synthetic_graphs(name: str, seed: int = 0) -> list[nx.Graph]:
    """The graphs of the synthetic family ``name`` (one of :data:`FAMILIES`), generated with ``seed``."""
    if name not in FAMILIES:
        raise unknown_name("graph family", name, FAMILIES)
    return FAMILIES[name](seed=seed)


def karate() -> list[nx.Graph]:
    """Zachary's karate club (34 members, 78 ties); node attribute ``club`` is the faction each joined."""
    g = nx.karate_club_graph()
    for v in g.nodes():
        g.nodes[v]["name"] = str(v)
    g.graph = {"name": "karate"}
    return [g]


@dataclass
class GraphSet:
    """Graphs loaded from one source: ``name`` (the source as given), the graphs, and files skipped."""

    name: str
    graphs: list[nx.Graph]
    skipped: int = 0


def load_graphs(source: str, data_dir: str | Path | None = None, seed: int = 0) -> GraphSet:
    """Load ``builtin:<family>`` / ``builtin:karate``, a folder of graph files, or one graph file.

    ``data_dir`` is the folder relative paths are read from (default: the current directory);
    ``seed`` seeds the synthetic families.
    """
    if source.startswith("builtin:"):
        name = source.removeprefix("builtin:")
        if name == "karate":
            return GraphSet(source, karate())
        if name not in FAMILIES:
            raise unknown_name("built-in graph dataset", source, [f"builtin:{n}" for n in [*FAMILIES, "karate"]])
        return GraphSet(source, synthetic_graphs(name, seed=seed))
    path = Path(source)
    if data_dir is not None and not path.is_absolute():
        path = Path(data_dir) / path
    if path.is_dir():
        graphs, skipped = read_graph_folder(path)
        return GraphSet(source, graphs, skipped)
    if path.is_file():
        return GraphSet(source, [read_graph(path)])
    raise DataError(
        f"no graph data at '{source}'",
        "give builtin:" + ", builtin:".join([*FAMILIES, "karate"]) + ", a folder of graph files, or one file",
    )


def split_graphs(
    graphs: Sequence[nx.Graph], seed: int = 0, test_fraction: float = 0.2
) -> tuple[list[nx.Graph], list[nx.Graph]]:
    """Shuffle with ``seed`` and split into ``(train, test)``: GraphRNN's protocol (80 % train, 20 % test).

    The test part has ``int(test_fraction * len(graphs))`` graphs (at least one when there are two or more).
    """
    if not 0.0 < test_fraction < 1.0:
        raise BadInputError(f"test_fraction must be in (0, 1), got {test_fraction}", "GraphRNN used 0.2")
    n = len(graphs)
    if n < 2:
        raise DataError(f"cannot split {n} graph(s) into train and test", "give at least two graphs")
    perm = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(test_fraction * n))
    shuffled = [graphs[i] for i in perm]
    return shuffled[: n - n_test], shuffled[n - n_test :]


def _spec(name: str, fn: Callable[..., list[nx.Graph]], description: str, use: str, license: str) -> DatasetSpec:
    def loader(split: str | None = None, data_dir: str | Path | None = None, seed: int = 0) -> list[nx.Graph]:
        return fn(seed=seed) if name in FAMILIES else fn()

    spec = DatasetSpec(f"builtin:{name}", "graph", loader, (), description, license)
    spec.extras["use"] = use
    return register_dataset(spec)


for _name, _fn in FAMILIES.items():
    _spec(_name, _fn, first_line(_fn.__doc__), "generation", "generated in code (no data shipped)")
_spec(
    "karate",
    karate,
    first_line(karate.__doc__),
    "node-classification",
    "public data (Zachary 1977), ships with networkx",
)
