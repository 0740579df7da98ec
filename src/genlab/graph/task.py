"""The ``graph-generation`` task: a set of graphs in, a generator of graphs like them out.

``genlab train graph-generation --model graphrnn --data builtin:community-small --max-minutes 20 --name comm``
loads the graphs (a built-in family, a folder of edge-list/GraphML/adjacency files, or one file), splits them as
GraphRNN did (shuffled with ``--split-seed``, 80 % train, 20 % test: :func:`genlab.graph.datasets.split_graphs`),
sets the model's ``max_nodes`` and BFS bandwidth ``M`` from the training graphs and trains. Every batch shows each
graph under a fresh random BFS ordering (:func:`genlab.graph.ordering.bfs_order`).

Evaluation (``genlab eval RUN``) is in :mod:`genlab.graph.evaluation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import Field
from torch.utils.data import Dataset

from genlab.core.config import Config
from genlab.core.data import DataInfo
from genlab.core.errors import ConfigError
from genlab.core.evaluation import EvalContext, MetricSpec
from genlab.core.registry import TASKS
from genlab.core.task import Task
from genlab.graph import evaluation
from genlab.graph.base import TASK, GraphGenerativeModel
from genlab.graph.pipelines import GraphSamplePipeline, draw_grid

PREVIEW_GRAPHS = 16  # graphs drawn in the sample grid written during and after training


class GraphDataConfig(Config):
    """Which graphs to learn and how to split them."""

    source: str = Field(
        ..., description="builtin:community-small, builtin:grid, builtin:lobster, builtin:ego-like, a folder or a file"
    )
    data_dir: str | None = Field(None, description="folder that a relative source is read from")
    split_seed: int = Field(0, description="seed of the synthetic family and of the train/test shuffle")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="graphs held out as the test split (GraphRNN: 0.2)")
    epoch_graphs: int = Field(
        1024, ge=1, description="graphs per epoch: the training graphs repeated, each with a fresh BFS ordering"
    )


def load_split(cfg: GraphDataConfig) -> tuple[list, list, int, int]:
    """(train graphs, test graphs, files skipped, self-loops dropped) of a data config."""
    from genlab.graph.datasets import load_graphs, split_graphs

    loaded = load_graphs(cfg.source, cfg.data_dir, cfg.split_seed)
    train, test = split_graphs(loaded.graphs, cfg.split_seed, cfg.test_fraction)
    loops = sum(int(g.graph.get("self_loops_dropped", 0)) for g in loaded.graphs)
    return train, test, loaded.skipped, loops


class GraphDataset(Dataset):
    """Training graphs as padded adjacency matrices under random BFS orderings (see :mod:`genlab.graph.base`).

    Item ``i`` is graph ``i mod len(graphs)`` in a BFS ordering drawn from torch's global generator (seeded by
    the run), so an epoch of ``length`` items shows every graph about ``length / len(graphs)`` times.
    """

    def __init__(self, graphs: list, max_nodes: int = 0, length: int | None = None):
        self.graphs = list(graphs)
        self.max_nodes = max_nodes or max(g.number_of_nodes() for g in self.graphs)
        self.length = max(length or len(self.graphs), len(self.graphs))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        from genlab.graph.ordering import bfs_order, permuted_adjacency

        g = self.graphs[index % len(self.graphs)]
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ())))
        a = permuted_adjacency(g, bfs_order(g, rng=rng))
        adj = torch.zeros(self.max_nodes, self.max_nodes)
        adj[: len(a), : len(a)] = torch.from_numpy(a)
        return {"adj": adj, "n_nodes": torch.tensor(len(a))}


@dataclass
class GraphDataInfo(DataInfo):
    """What was loaded: source, counts, the sizes the models are built for."""

    source: str
    skipped: list[str]
    graphs: int
    train_graphs: int
    test_graphs: int
    max_nodes: int
    bfs_bandwidth: int
    mean_nodes: float
    mean_edges: float
    self_loops_dropped: int
    data_config: dict[str, Any] = field(default_factory=dict)
    train: GraphDataset | None = field(default=None, repr=False, metadata={"saved": False})
    model_class: type | None = field(default=None, repr=False, metadata={"saved": False})


class GraphGenerationTask(Task):
    name = TASK
    modality = "graph"
    description = "generate graphs like a set of graphs (GraphRNN, GraphVAE, Erdős–Rényi and SBM baselines)"
    data_config_class = GraphDataConfig
    default_model = "graphrnn"
    pipeline_class = GraphSamplePipeline
    cli_options = {
        "--split-seed": "data.split_seed",
        "--test-fraction": "data.test_fraction",
        "--epoch-graphs": "data.epoch_graphs",
    }

    def load_data(self, data_cfg: GraphDataConfig):
        from genlab.graph.ordering import bfs_bandwidth

        train, test, skipped, loops = load_split(data_cfg)
        info = GraphDataInfo(
            source=data_cfg.source,
            skipped=[f"{skipped} unreadable graph file(s)"] if skipped else [],
            graphs=len(train) + len(test),
            train_graphs=len(train),
            test_graphs=len(test),
            max_nodes=max(g.number_of_nodes() for g in train),
            bfs_bandwidth=bfs_bandwidth(train, seed=data_cfg.split_seed),
            mean_nodes=round(float(np.mean([g.number_of_nodes() for g in train])), 3),
            mean_edges=round(float(np.mean([g.number_of_edges() for g in train])), 3),
            self_loops_dropped=loops,
            data_config=data_cfg.to_dict(),
        )
        info.train = GraphDataset(train, info.max_nodes, data_cfg.epoch_graphs)
        return info.train, None, info

    def check_model_fits_data(self, model_cls, info: GraphDataInfo) -> None:
        info.model_class = model_cls

    def fill_model_config(self, values: dict[str, Any], info: GraphDataInfo) -> dict[str, Any]:
        from genlab.graph.io import check_max_nodes

        model_cls = info.model_class or GraphGenerativeModel
        name = getattr(model_cls, "registry_name", "") or "this model"
        max_nodes = int(values.get("max_nodes") or info.max_nodes)
        limit = model_cls.node_limit
        if limit is not None and max_nodes > limit:
            raise ConfigError(
                f"{name} handles graphs of at most {limit} nodes; the training graphs have up to {info.max_nodes}",
                "use graphrnn for larger graphs, or leave the larger graphs out of the data",
            )
        check_max_nodes(info.train.graphs, max_nodes, name)
        bandwidth = int(values.get("bfs_bandwidth") or info.bfs_bandwidth)
        if bandwidth < info.bfs_bandwidth:
            raise ConfigError(
                f"model.bfs_bandwidth={bandwidth} is below the data's BFS bandwidth {info.bfs_bandwidth}",
                "drop the override (edges further back than M could not be generated)",
            )
        info.train.max_nodes = max_nodes
        return {**values, "max_nodes": max_nodes, "bfs_bandwidth": bandwidth}

    def write_samples(self, model: GraphGenerativeModel, stem: Path, seed: int) -> Path:
        """A PNG grid of ``PREVIEW_GRAPHS`` graphs drawn with ``seed``."""
        graphs = model.sample_graphs(PREVIEW_GRAPHS, torch.Generator().manual_seed(seed))
        path = stem.with_suffix(".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        draw_grid(graphs, path, columns=4, title=model.registry_name)
        return path

    def describe_data(self, info: GraphDataInfo) -> str:
        line = (
            f"graphs {info.source}: {info.train_graphs} train / {info.test_graphs} test, up to {info.max_nodes} "
            f"nodes (mean {info.mean_nodes:g} nodes, {info.mean_edges:g} edges), BFS bandwidth M={info.bfs_bandwidth}"
        )
        if info.skipped:
            line += f"\n[yellow]skipped {info.skipped[0]}[/]"
        if info.self_loops_dropped:
            line += f"\n[yellow]dropped {info.self_loops_dropped} self-loop(s)[/] (graphs are simple)"
        return line

    # Evaluation: MMDs against the test split, novelty and uniqueness; see genlab.graph.evaluation.
    eval_request_class = evaluation.GraphEvalRequest

    def eval_context(self, model: GraphGenerativeModel, request: evaluation.GraphEvalRequest) -> EvalContext:
        return evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return evaluation.model_protocol(ctx)

    def eval_baselines(self, ctx: EvalContext, specs: list[MetricSpec]) -> dict[str, EvalContext]:
        return evaluation.baseline_contexts(ctx)


TASKS.register(TASK)(GraphGenerationTask())
