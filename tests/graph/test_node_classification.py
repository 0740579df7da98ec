"""The node-classification task: GCN/GAT/GIN on karate, labels and features from files, eval and classify-nodes."""

import networkx as nx
import pytest
import torch

import genlab
from genlab.core.classification import ClassificationOutput
from genlab.core.errors import BadInputError, DataError
from genlab.core.registry import TASKS
from genlab.graph.io import write_edgelist, write_graphml
from genlab.graph.node import NodeDataConfig, load_node_graph, split_nodes
from tests.cli_helpers import cli_ok
from tests.model_mixin import ModelTesterMixin


def _karate_batch():
    data, _ = load_node_graph(NodeDataConfig())
    return {"x": data.x, "edge_index": data.edge_index, "y": data.y, "mask": data.train_mask}


class NodeClassifierTester(ModelTesterMixin):
    """The shared model suite on karate (identity features); a classifier's logits ignore the seed."""

    config = {"in_features": 34, "num_classes": 2, "hidden_dim": 8, "heads": 2}
    validation_keys = {"loss", "accuracy"}
    seeded_outputs = False
    optimizer_steps = 10

    def batch(self, model):
        return _karate_batch()

    def sample(self, model, seed):
        b = self.batch(model)
        with torch.no_grad():
            return model.eval()(b["x"], b["edge_index"])

    def check_output(self, model, out):
        assert out.shape == (34, 2) and out.dtype == torch.float32 and torch.isfinite(out).all()


class TestGCN(NodeClassifierTester):
    model_name = "graph/gcn"


class TestGAT(NodeClassifierTester):
    model_name = "graph/gat"


class TestGIN(NodeClassifierTester):
    model_name = "graph/gin"


def test_task_lists_the_three_models():
    task = TASKS.get("node-classification")
    assert task.model_names() == ["gat", "gcn", "gin"] and task.default_model == "gcn"


def test_karate_split_is_per_class_and_disjoint():
    data, info = load_node_graph(NodeDataConfig())
    assert info.class_names == ["Mr. Hi", "Officer"] and info.features == "identity" and info.in_features == 34
    masks = torch.stack([data.train_mask, data.val_mask, data.test_mask]).int()
    assert (masks.sum(0) == 1).all()  # every karate node is labelled and in exactly one split
    assert (info.n_train, info.n_val, info.n_test) == (22, 4, 8)
    for c in (0, 1):
        assert int((data.y[data.test_mask] == c).sum()) == 4
    y = torch.tensor([0, 1, 1, 2, -1])
    train, val, test = split_nodes(y, 0.5, 0.0, seed=0)
    assert train[0] and train[3] and not (train | val | test)[4]  # one-node classes stay in train; unlabelled in none


def test_labels_csv_edge_list_self_loops_and_components(tmp_path, caplog):
    g = nx.disjoint_union(nx.complete_graph(5), nx.complete_graph(5))
    g.add_edge(0, 0)
    write_edgelist(nx.Graph(g.edges()), tmp_path / "g.edgelist")
    (tmp_path / "g.edgelist").write_text((tmp_path / "g.edgelist").read_text() + "3 3\nnot an edge line here\n")
    rows = ["node,label"] + [f"{v},{'a' if v < 5 else 'b'}" for v in range(10)] + ["99,a", "broken"]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    cfg = NodeDataConfig(source=str(tmp_path / "g.edgelist"), labels=str(tmp_path / "labels.csv"), features="degree")
    data, info = load_node_graph(cfg)
    assert (info.num_nodes, info.components, info.num_classes) == (10, 2, 2)
    assert info.self_loops_dropped == 1 and info.lines_skipped == 1 and info.labels_skipped == 2
    assert data.x.shape == (10, 33) and (data.x.argmax(1) == 4).all()  # degree one-hot
    with pytest.raises(DataError, match="no node labels"):
        load_node_graph(NodeDataConfig(source=str(tmp_path / "g.edgelist")))


def test_graphml_attributes_become_features_and_labels(tmp_path):
    g = nx.path_graph(8)
    for v in g:
        g.nodes[v].update(weight=float(v), flag=v % 2 == 0, label="left" if v < 4 else "right", note="text")
    write_graphml(g, tmp_path / "p.graphml")
    data, info = load_node_graph(NodeDataConfig(source=str(tmp_path / "p.graphml")))
    assert info.features == "attributes" and info.feature_names == ["flag", "weight"]
    assert data.x[:, 1].tolist() == [float(v) for v in range(8)]
    with pytest.raises(DataError, match="1 class"):
        load_node_graph(NodeDataConfig(source=str(tmp_path / "p.graphml"), label_attribute="note"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return genlab.train(
        "node-classification", "gcn", "builtin:karate", "karate", max_steps=60, runs_dir=tmp_path_factory.mktemp("r"),
        progress=False, sample_every=0, data_options={"features": "degree"},
    )  # fmt: skip


def test_karate_trains_above_chance_and_eval_reports_baselines(trained):
    result = genlab.evaluate(trained.run.path)
    assert result["metrics"]["accuracy"] > 0.5  # two balanced classes: chance is 0.5
    assert result["baselines"]["majority_class"]["accuracy"] == pytest.approx(0.5)
    assert 0 <= result["baselines"]["label_propagation"]["accuracy"] <= 1
    assert result["protocol"]["n_reference"] == 8 and "held-out test nodes" in result["protocol"]["reference_split"]
    assert (trained.run.path / "samples" / "final.png").is_file()


def test_classify_nodes_on_the_training_graph_and_another(trained, tmp_path, capsys):
    out = genlab.load(trained.run.path)()
    assert isinstance(out, ClassificationOutput) and len(out.items) == 34 and set(out.labels) <= {"Mr. Hi", "Officer"}
    write_edgelist(nx.star_graph(4), tmp_path / "star.edgelist")
    code, text = cli_ok(["classify-nodes", str(trained.run.path), "--graph", str(tmp_path / "star.edgelist"),
                         "--out", str(tmp_path / "pred.csv")], capsys)  # fmt: skip
    assert code == 0, text
    lines = (tmp_path / "pred.csv").read_text().splitlines()
    assert lines[0].startswith("node,label,probability") and len(lines) == 6


def test_eval_on_another_labelled_graph(trained, tmp_path):
    g = nx.karate_club_graph().subgraph(range(20)).copy()
    g.graph = {}
    write_graphml(g, tmp_path / "part.graphml")
    result = genlab.evaluate(trained.run.path, ref=str(tmp_path / "part.graphml"), save=False)
    assert 0 <= result["metrics"]["accuracy"] <= 1 and result["baselines"] == {}
    assert result["protocol"]["n_reference"] == 20 and "every labelled node" in result["protocol"]["reference_split"]
    (tmp_path / "other.csv").write_text("node,label\n0,a\n1,b\n")
    with pytest.raises(DataError, match="differ from the model's"):
        genlab.evaluate(trained.run.path, ref=str(tmp_path / "part.graphml"), ref_labels=str(tmp_path / "other.csv"))


def test_identity_features_refuse_another_graph(tmp_path):
    model = TestGCN().build()
    with pytest.raises(BadInputError, match="node identities of a 34-node graph"):
        model.features_of(nx.path_graph(5))
