"""Reading and writing graphs: edge lists, GraphML and adjacency matrices, as simple undirected networkx graphs.

Every reader returns a :class:`networkx.Graph` that is undirected and simple, with nodes relabelled
``0..n-1``; the node's name in the file is kept in the node attribute ``name`` and node attributes of
GraphML files are kept as they are. Directed or multi-edges are merged into one undirected edge.

Formats, chosen by the file's suffix:

* **edge list** (``.edgelist``, ``.edges``, ``.txt``, ``.el``, ``.tsv``, and ``.csv`` that is not an
  adjacency matrix): one edge ``u v`` per line (spaces, tabs or commas); ``#`` starts a comment;
  further columns (a weight, attributes) are ignored; a line with a single name declares an isolated
  node. When the node names are integers (as in SNAP and TU files), nodes are numbered in increasing
  order of their names and a line whose names are not integers is unreadable.
* **GraphML** (``.graphml``, ``.xml``), node and graph attributes kept.
* **adjacency matrix** (``.npy``, or a ``.csv`` that is a square 0/1 matrix of more than two rows):
  an edge wherever ``a[i, j]`` or ``a[j, i]`` is non-zero.

Bad input: self-loops are dropped and counted (a warning is logged, and the count is kept in
``g.graph["self_loops_dropped"]``); unreadable lines of an edge list are skipped and counted
(``g.graph["lines_skipped"]``); an empty file, or one with no readable edge or node, raises
:class:`~genlab.core.errors.DataError`. Disconnected graphs are read as they are: whether a use
accepts them is decided by that use (:func:`components_count` helps to say so).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import networkx as nx
import numpy as np

from genlab.core.errors import BadInputError, DataError
from genlab.core.io import atomic_write_text

log = logging.getLogger(__name__)

EDGELIST_SUFFIXES = (".edgelist", ".edges", ".txt", ".el", ".tsv")
GRAPHML_SUFFIXES = (".graphml", ".xml")
MATRIX_SUFFIXES = (".npy",)
GRAPH_SUFFIXES = EDGELIST_SUFFIXES + GRAPHML_SUFFIXES + MATRIX_SUFFIXES + (".csv",)


def read_graph(path: str | Path) -> nx.Graph:
    """Read one graph from ``path`` (edge list, GraphML, ``.npy``/``.csv`` adjacency matrix; see the module doc).

    Returns an undirected simple graph with nodes ``0..n-1``. Raises :class:`DataError` for a missing,
    empty or unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no graph file at {path}", "give an edge list, a GraphML file or an adjacency matrix")
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty", "an edge list has one 'u v' pair per line")
    if suffix in GRAPHML_SUFFIXES:
        g = _read_graphml(path)
    elif suffix in MATRIX_SUFFIXES:
        g = from_adjacency(_load_matrix(path, np.load, allow_pickle=False), count_self_loops=True)
    elif suffix == ".csv" and (matrix := _csv_matrix(path)) is not None:
        g = from_adjacency(matrix, count_self_loops=True)
    elif suffix in EDGELIST_SUFFIXES or suffix == ".csv":
        g = _read_edgelist(path)
    else:
        raise DataError(
            f"{path}: unknown graph format '{suffix or path.name}'",
            "use .edgelist/.txt (edge list), .graphml, .npy or .csv (adjacency matrix or edge list)",
        )
    if g.number_of_nodes() == 0:
        raise DataError(f"{path} has no nodes", "an edge list has one 'u v' pair per line")
    g.graph["source"] = str(path)
    loops = g.graph.get("self_loops_dropped", 0)
    skipped = g.graph.get("lines_skipped", 0)
    if loops:
        log.warning("%s: %d self-loop(s) dropped (graphs are simple)", path, loops)
    if skipped:
        log.warning("%s: %d unreadable line(s) skipped", path, skipped)
    return g


def read_graph_folder(path: str | Path) -> tuple[list[nx.Graph], int]:
    """Read every graph file of a folder (by name order; hidden files and other suffixes ignored).

    Returns ``(graphs, skipped)``: files that are empty or unreadable are skipped, counted and logged.
    Raises :class:`DataError` when the folder holds no readable graph.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"no folder at {folder}", "give a folder of edge-list/GraphML/adjacency files")
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in GRAPH_SUFFIXES
    )
    graphs: list[nx.Graph] = []
    skipped = 0
    for f in files:
        try:
            graphs.append(read_graph(f))
        except DataError as e:
            skipped += 1
            log.warning("skipped %s: %s", f, e.message)
    if not graphs:
        raise DataError(
            f"no readable graph in {folder} ({len(files)} graph file(s), {skipped} unreadable)",
            f"put files ending in {', '.join(GRAPH_SUFFIXES)} there",
        )
    return graphs, skipped


def write_edgelist(g: nx.Graph, path: str | Path) -> None:
    """Write ``g`` as an edge list ``u v`` per line (isolated nodes as a line of their own), nodes as ``0..n-1``."""
    g = _relabel(g)
    lines = [f"# {g.number_of_nodes()} nodes, {g.number_of_edges()} edges"]
    lines += [f"{u} {v}" for u, v in sorted((min(e), max(e)) for e in g.edges())]
    lines += [f"{v}" for v in sorted(nx.isolates(g))]
    atomic_write_text(path, "\n".join(lines) + "\n")


def write_graphml(g: nx.Graph, path: str | Path) -> None:
    """Write ``g`` as GraphML (node and graph attributes of plain types kept)."""
    g = g.copy()
    g.graph = {k: v for k, v in g.graph.items() if isinstance(v, (str, int, float, bool))}
    nx.write_graphml(g, str(path))


def to_adjacency(g: nx.Graph, order: Sequence | None = None, dtype: type = np.float32) -> np.ndarray:
    """The 0/1 adjacency matrix of ``g`` (shape (n, n)), rows and columns in ``order`` (default
    ``sorted(g.nodes())``); self-loops are left out."""
    nodes = sorted(g.nodes()) if order is None else order
    index = {v: i for i, v in enumerate(nodes)}
    a = np.zeros((len(nodes), len(nodes)), dtype=dtype)
    for u, v in g.edges():
        if u != v:
            a[index[u], index[v]] = a[index[v], index[u]] = 1.0
    return a


def from_adjacency(a: np.ndarray, count_self_loops: bool = False) -> nx.Graph:
    """The undirected simple graph of a square matrix: edge ``i–j`` where ``a[i, j]`` or ``a[j, i]`` is non-zero.

    The diagonal (self-loops) is ignored; with ``count_self_loops`` the number of non-zero diagonal
    entries is kept in ``g.graph["self_loops_dropped"]``. Every row is a node, isolated or not.
    """
    a = np.asarray(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise BadInputError(f"an adjacency matrix must be square, got shape {a.shape}", "give an (n, n) matrix")
    nonzero = a != 0
    loops = int(np.count_nonzero(np.diagonal(nonzero)))
    upper = np.triu(nonzero | nonzero.T, k=1)
    g = nx.Graph()
    g.add_nodes_from(range(a.shape[0]))
    g.add_edges_from(zip(*(idx.tolist() for idx in np.nonzero(upper)), strict=True))
    if count_self_loops:
        g.graph["self_loops_dropped"] = loops
    return g


def check_max_nodes(graphs: Iterable[nx.Graph], max_nodes: int, what: str = "this model") -> None:
    """Raise :class:`BadInputError` when a graph has more than ``max_nodes`` nodes, naming the largest."""
    sizes = [g.number_of_nodes() for g in graphs]
    too_big = [i for i, n in enumerate(sizes) if n > max_nodes]
    if too_big:
        worst = max(too_big, key=lambda i: sizes[i])
        raise BadInputError(
            f"{len(too_big)} graph(s) have more nodes than {what} allows ({max_nodes}); "
            f"the largest, graph #{worst}, has {sizes[worst]}",
            f"raise the model's max_nodes to at least {sizes[worst]} (--set model.max_nodes={sizes[worst]}) "
            "or leave the larger graphs out of the data",
        )


def components_count(g: nx.Graph) -> int:
    """Number of connected components of ``g`` (0 for the empty graph)."""
    return nx.number_connected_components(g) if g.number_of_nodes() else 0


def _relabel(g: nx.Graph) -> nx.Graph:
    """``g`` as an undirected simple graph with nodes ``0..n-1`` (in node order; old names in ``name``)."""
    simple = nx.Graph(g.to_undirected() if g.is_directed() else g)
    loops = nx.number_of_selfloops(simple)
    simple.remove_edges_from(list(nx.selfloop_edges(simple)))
    out = nx.convert_node_labels_to_integers(simple, ordering="default", label_attribute="name")
    out.graph["self_loops_dropped"] = out.graph.get("self_loops_dropped", 0) + loops
    return out


def _read_graphml(path: Path) -> nx.Graph:
    try:
        g = nx.read_graphml(str(path))
    except Exception as e:  # noqa: BLE001  (networkx/lxml raise many kinds on a broken file)
        raise DataError(f"{path} is not readable GraphML: {e}", "check the file is valid GraphML") from None
    return _relabel(g)


def _load_matrix(path: Path, loader, **kwargs) -> np.ndarray:  # noqa: ANN001
    try:
        a = np.asarray(loader(path, **kwargs))
    except Exception as e:  # noqa: BLE001
        raise DataError(f"{path} is not a readable adjacency matrix: {e}", "save it with numpy.save") from None
    if a.ndim != 2 or a.shape[0] != a.shape[1] or not np.issubdtype(a.dtype, np.number):
        raise DataError(f"{path}: an adjacency matrix must be a square numeric array, got {a.shape}", None)
    return a


def _csv_matrix(path: Path) -> np.ndarray | None:
    """The matrix in a .csv when it is a square 0/1 matrix with more than two rows, else None (an edge list)."""
    try:
        rows = [r for r in path.read_text(encoding="utf-8").splitlines() if r.strip() and not r.startswith("#")]
        a = np.array([[float(x) for x in r.split(",")] for r in rows])
    except (ValueError, UnicodeDecodeError):
        return None
    if a.ndim == 2 and a.shape[0] == a.shape[1] > 2 and np.isin(a, (0.0, 1.0)).all():
        return a
    return None


def _tokens(line: str) -> list[str]:
    return line.replace(",", " ").split()


def _read_edgelist(path: Path) -> nx.Graph:
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as e:
        raise DataError(f"cannot read {path}: {e}", None) from None
    records: list[list[str]] = []
    skipped = 0
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "\ufffd" in line or any(ord(c) < 32 and c not in "\t" for c in line):
            skipped += 1  # not text: a binary or mis-encoded line
            continue
        records.append(_tokens(line)[:2])
    numeric = sum(all(_is_int(t) for t in r) for r in records)
    integer_ids = records and numeric * 2 >= len(records)
    if integer_ids:
        kept = [[int(t) for t in r] for r in records if all(_is_int(t) for t in r)]
        skipped += len(records) - len(kept)
    else:
        kept = records
    if not kept:
        raise DataError(f"{path} has no readable edge ({skipped} line(s) skipped)", "write one 'u v' pair per line")
    g = nx.Graph()
    names = sorted({t for r in kept for t in r}) if integer_ids else list(dict.fromkeys(t for r in kept for t in r))
    g.add_nodes_from(names)
    loops = 0
    for r in kept:
        if len(r) == 2:
            if r[0] == r[1]:
                loops += 1
            else:
                g.add_edge(r[0], r[1])
    out = nx.convert_node_labels_to_integers(g, ordering="default", label_attribute="name")
    out.graph["self_loops_dropped"] = loops
    out.graph["lines_skipped"] = skipped
    return out


def _is_int(token: str) -> bool:
    try:
        int(token)
    except ValueError:
        return False
    return True


def node_names(g: nx.Graph) -> Sequence[str]:
    """The names the file gave to nodes ``0..n-1`` (as strings; the node number when the file gave none)."""
    return [str(g.nodes[v].get("name", v)) for v in sorted(g.nodes())]
