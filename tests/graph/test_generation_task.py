"""The graph-generation task end to end: data loading and splitting, sizes set from the data, clear refusals,
the sample pipeline's files, and the CLI's train → sample → eval on a tiny GraphRNN."""

from __future__ import annotations

import json

import networkx as nx
import pytest
import torch

import genlab
from genlab.core.errors import BadInputError, ConfigError
from genlab.core.registry import TASKS
from genlab.graph.graphrnn import GraphRNN
from genlab.graph.graphvae import GraphVAE
from genlab.graph.io import read_graph
from genlab.graph.pipelines import GraphSetOutput
from genlab.graph.task import GraphDataConfig
from tests.cli_helpers import cli_ok

TINY_RNN = ["--set", "model.graph_hidden=8", "--set", "model.graph_layers=1", "--set", "model.graph_embedding=4",
            "--set", "model.edge_hidden=4", "--set", "model.edge_layers=1"]  # fmt: skip


@pytest.fixture
def graph_folder(tmp_path):
    """Ten small graph files (cycles and paths of 3–7 nodes); one has a self-loop, one is unreadable."""
    folder = tmp_path / "graphs"
    folder.mkdir()
    for i in range(10):
        g = nx.cycle_graph(3 + i % 5) if i % 2 else nx.path_graph(3 + i % 5)
        lines = [f"{u} {v}" for u, v in g.edges()] + (["2 2"] if i == 0 else [])
        (folder / f"g{i}.edgelist").write_text("\n".join(lines) + "\n")
    (folder / "broken.edgelist").write_text("")
    return folder


def load(source: str, **options):
    task = TASKS.get("graph-generation")
    return task, task.load_data(GraphDataConfig(source=source, **options))


def test_folder_is_split_and_bad_input_is_skipped_and_counted(graph_folder):
    task, (train, val, info) = load(str(graph_folder), epoch_graphs=64)
    assert val is None and info.train_graphs == 8 and info.test_graphs == 2  # 80 / 20
    assert info.skipped == ["1 unreadable graph file(s)"] and info.self_loops_dropped == 1
    assert info.max_nodes == max(g.number_of_nodes() for g in train.graphs) and len(train) == 64
    assert "dropped 1 self-loop" in task.describe_data(info) and "skipped" in task.describe_data(info)
    batch = train[0]
    assert batch["adj"].shape == (info.max_nodes, info.max_nodes) and torch.equal(batch["adj"], batch["adj"].T)


def test_model_sizes_come_from_the_data_and_larger_graphs_are_refused(graph_folder):
    task, (_, _, info) = load(str(graph_folder))
    task.check_model_fits_data(GraphRNN, info)
    filled = task.fill_model_config({}, info)
    assert filled["max_nodes"] == info.max_nodes and filled["bfs_bandwidth"] == info.bfs_bandwidth >= 2
    with pytest.raises(BadInputError, match="more nodes than") as err:
        task.fill_model_config({"max_nodes": info.max_nodes - 1}, info)
    assert "max_nodes" in err.value.hint
    with pytest.raises(ConfigError, match="bandwidth"):
        task.fill_model_config({"bfs_bandwidth": 1}, info)


def test_graphvae_refuses_graphs_above_its_node_limit(tmp_path):
    for n in range(65, 70):
        (tmp_path / f"path{n}.edgelist").write_text("\n".join(f"{i} {i + 1}" for i in range(n - 1)) + "\n")
    task, (_, _, info) = load(str(tmp_path))
    task.check_model_fits_data(GraphVAE, info)
    with pytest.raises(ConfigError, match="at most 64 nodes"):
        task.fill_model_config({}, info)


def test_output_saves_edge_lists_graphml_and_a_grid(tmp_path):
    graphs = [nx.path_graph(3), nx.cycle_graph(5), nx.empty_graph(1)]
    out = GraphSetOutput(graphs, {"model": "test"})
    folder = out.save(tmp_path / "graphs")
    names = sorted(p.name for p in folder.iterdir())
    assert names[:3] == ["graph-0000.edgelist", "graph-0000.graphml", "graph-0001.edgelist"] and "grid.png" in names
    for i, g in enumerate(graphs):
        for suffix in ("edgelist", "graphml"):
            back = read_graph(folder / f"graph-{i:04d}.{suffix}")
            assert nx.is_isomorphic(back, g), (i, suffix)
    assert out.save(tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"
    records = json.loads(out.encode("json"))["graphs"]
    assert records[1] == {"nodes": 5, "edges": [[0, 1], [0, 4], [1, 2], [2, 3], [3, 4]]}
    with pytest.raises(BadInputError, match="cannot write graphs"):
        out.save(tmp_path / "graphs.csv")


def test_cli_train_sample_eval_of_a_tiny_graphrnn(tmp_path, capsys, runs_dir):
    train = [
        "train",
        "graph-generation",
        "--model",
        "graphrnn",
        "--data",
        "builtin:community-small",
        "--max-steps",
        "3",
    ]
    code, out = cli_ok([*train, "--batch-size", "8", "--name", "g", "--no-progress", *TINY_RNN], capsys)
    assert code == 0, out
    run = runs_dir / "graph-generation" / "g"
    assert (run / "model" / "model.safetensors").is_file() and (run / "samples" / "final.png").is_file()
    code, out = cli_ok(["sample", str(run), "--n", "5", "--seed", "0", "--out", str(tmp_path / "graphs")], capsys)
    assert code == 0, out
    files = sorted(p.name for p in (tmp_path / "graphs").iterdir())
    assert files.count("grid.png") == 1 and sum(f.endswith(".edgelist") for f in files) == 5
    assert sum(f.endswith(".graphml") for f in files) == 5
    first = genlab.load(run)(n=5, seed=0)
    assert [sorted(g.edges()) for g in first] == [sorted(g.edges()) for g in genlab.load(run)(n=5, seed=0)]
    assert all(g.number_of_nodes() <= 20 and nx.number_of_selfloops(g) == 0 for g in first)
    code, out = cli_ok(["eval", str(run), "--metrics", "mmd-degree,mmd-clustering,mmd-orbit,mmd-spectral,novelty,"
                        "uniqueness", "--n", "6"], capsys)  # fmt: skip
    assert code == 0, out
    result = json.loads((run / "eval.json").read_text())
    keys = {"mmd_degree", "mmd_clustering", "mmd_orbit", "mmd_spectral", "novelty", "uniqueness"}
    assert set(result["metrics"]) == keys
    assert set(result["baselines"]) == {"train_vs_test", "erdos_renyi"}
    assert set(result["baselines"]["train_vs_test"]) == keys and result["baselines"]["train_vs_test"]["novelty"] == 0
    assert result["protocol"]["n_samples"] == 6 and "test split (20 graphs" in result["protocol"]["reference"]


def test_baselines_train_in_closed_form_through_the_api(runs_dir):
    result = genlab.train("graph-generation", "sbm", "builtin:community-small", "s", progress=False)
    assert result.status == "completed" and result.steps == 0
    graphs = genlab.load(result.run.path)(n=20, seed=1)
    assert len(graphs) == 20 and max(g.number_of_nodes() for g in graphs) <= 20
