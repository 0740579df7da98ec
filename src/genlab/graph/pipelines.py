"""The ``sample`` pipeline of graph generators and its output: a set of graphs saved as edge lists, GraphML and a
PNG grid of the drawn graphs.

``genlab sample RUN --n 64 --seed 0 --out graphs/`` writes ``graphs/graph-0000.edgelist`` and
``graphs/graph-0000.graphml`` for every graph and ``graphs/grid.png``; ``--out grid.png`` writes only the grid,
``--out graphs.json`` the graphs as JSON edge lists. In Python: ``genlab.load(run)(n=16, seed=0)`` gives
networkx graphs.
"""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.io import atomic_write, atomic_write_json
from genlab.core.pipeline import Output, Pipeline, Request, register_pipeline
from genlab.graph.base import TASK

GRID_MAX = 64  # graphs drawn in a grid at most (the files hold all of them)


def draw_grid(graphs: list, target: Any, columns: int | None = None, title: str | None = None) -> None:
    """Draw up to ``GRID_MAX`` graphs in a grid (spring layout, seed 0) as a PNG into ``target`` (path or buffer)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import networkx as nx

    shown = graphs[:GRID_MAX]
    cols = columns or max(1, math.ceil(math.sqrt(len(shown))))
    rows = max(1, math.ceil(len(shown) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.8 * rows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, g in zip(axes.flat, shown, strict=False):
        pos = nx.spring_layout(g, seed=0) if g.number_of_nodes() else {}
        nx.draw_networkx_edges(g, pos, ax=ax, width=0.6, edge_color="#555555")
        nx.draw_networkx_nodes(g, pos, ax=ax, node_size=14, node_color="#1f77b4", linewidths=0)
        ax.set_title(f"{g.number_of_nodes()} n, {g.number_of_edges()} e", fontsize=6)
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(target, format="png", dpi=80)
    plt.close(fig)


def graph_record(g) -> dict[str, Any]:
    """A graph as JSON: ``{"nodes": n, "edges": [[u, v], …]}`` with nodes 0..n-1."""
    return {"nodes": g.number_of_nodes(), "edges": sorted([min(u, v), max(u, v)] for u, v in g.edges())}


class GraphSetOutput(Output):
    """Generated graphs (``networkx.Graph``) with what made them (``info``).

    ``save(folder)``: one ``.edgelist`` and one ``.graphml`` per graph and ``grid.png``; ``save(x.png)``: the grid;
    ``save(x.json)``: the graphs as JSON edge lists.
    """

    formats = {"png": "image/png", "json": "application/json"}
    suffix = ""

    def __init__(self, graphs: list, info: dict[str, Any] | None = None):
        self.graphs, self.info = list(graphs), dict(info or {})

    def save(self, path: str | Path) -> Path:
        from genlab.graph.io import write_edgelist, write_graphml

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".png", ".json"):
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda tmp: Path(tmp).write_bytes(self.encode(suffix[1:])))
            return path
        if suffix:
            raise BadInputError(
                f"cannot write graphs as '{path.suffix}'", "give a folder (edge lists + GraphML + grid), .png or .json"
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BadInputError(f"cannot write to {path}: {e.strerror}", "choose a folder you can write to") from None
        width = max(4, len(str(len(self.graphs) - 1)))
        for i, g in enumerate(self.graphs):
            write_edgelist(g, path / f"graph-{i:0{width}d}.edgelist")
            write_graphml(g, path / f"graph-{i:0{width}d}.graphml")
        (path / "grid.png").write_bytes(self.encode("png"))
        atomic_write_json(path / "info.json", self.info)
        return path

    def encode(self, format: str | None = None) -> bytes:
        fmt = self.check_format(format)
        if fmt == "json":
            return json.dumps({"graphs": [graph_record(g) for g in self.graphs], **self.info}).encode("utf-8")
        buffer = io.BytesIO()
        draw_grid(self.graphs, buffer)
        return buffer.getvalue()


class GraphSampleRequest(Request):
    n: int = Field(16, ge=1, le=100_000, description="graphs to generate")


@register_pipeline("graph/sample")
class GraphSamplePipeline(Pipeline):
    task: ClassVar[str] = TASK
    verb: ClassVar[str] = "sample"
    description: ClassVar[str] = "generate graphs: edge lists + GraphML + a PNG grid of the drawn graphs"
    request_class = GraphSampleRequest
    output_class = GraphSetOutput

    def default_filename(self, request: GraphSampleRequest) -> str:
        return f"graphs-n{request.n}-seed{request.seed}"

    def __call__(self, n: int = 16, seed: int | None = None) -> list:
        """``n`` generated graphs (``networkx.Graph``): ``genlab.load(run)(n=16, seed=0)``."""
        return self.run(self.request(n=n, seed=seed)).graphs

    def run(self, request: GraphSampleRequest) -> GraphSetOutput:
        import torch

        generator = torch.Generator()
        if request.seed is not None:
            generator.manual_seed(request.seed)
        else:
            generator.seed()
        t0 = time.perf_counter()
        graphs = self.model.sample_graphs(request.n, generator)
        seconds = time.perf_counter() - t0
        info = {
            "model": self.model.registry_name,
            "n": request.n,
            "seed": request.seed,
            "seconds": round(seconds, 3),
            "graphs_per_s": round(request.n / max(seconds, 1e-9), 1),
        }
        return GraphSetOutput(graphs, info)
