"""``--logger tensorboard|mlflow``: the losses, the config, each sample and the model card reach the tracker; a
resumed run continues the same MLflow run; a tracking URI that cannot work fails before training starts."""

from __future__ import annotations

import json

import pytest

import genlab
from genlab.core.errors import BadInputError

TINY = ["model.n_layer=1", "model.n_head=2", "model.n_embd=16", "data.block_size=16", "train.batch_size=8",
        "train.sample_every=10", "train.log_every=5"]  # fmt: skip


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("To be, or not to be, that is the question.\n" * 30, encoding="utf-8")
    return str(path)


def train(corpus, runs, logger, steps=20, **options):
    return genlab.train("text-generation", "gpt", corpus, "tracked", runs_dir=runs, max_steps=steps, progress=False,
                        overrides=TINY, logger=logger, **options)  # fmt: skip


def test_tensorboard_gets_losses_samples_and_the_card(tmp_path, corpus):
    pytest.importorskip("tensorboard", reason="the track extra (tensorboard) is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = train(corpus, tmp_path / "runs", "tensorboard")
    events = EventAccumulator(str(result.run.path / "tensorboard"), size_guidance={"tensors": 0}).Reload()
    losses = events.Scalars("train/loss")
    assert [e.step for e in losses] == [5, 10, 15, 20]
    texts = set(events.Tags()["tensors"])  # text summaries are stored as tensors
    assert {"samples/step_0000010/text_summary", "samples/final/text_summary", "model/README/text_summary"} <= texts


def test_mlflow_run_is_continued_on_resume(tmp_path, corpus):
    pytest.importorskip("mlflow", reason="the track extra (mlflow) is not installed")
    from mlflow.tracking import MlflowClient

    first = train(corpus, tmp_path / "runs", "mlflow", steps=10)
    saved = json.loads((first.run.path / "tracking.json").read_text())
    second = train(corpus, tmp_path / "runs", "mlflow", steps=20)  # the same name: resumes
    assert json.loads((second.run.path / "tracking.json").read_text())["run_id"] == saved["run_id"]
    client = MlflowClient(tracking_uri=saved["tracking_uri"])
    history = client.get_metric_history(saved["run_id"], "train/loss")
    assert sorted(m.step for m in history) == [5, 10, 15, 20]
    run = client.get_run(saved["run_id"])
    assert run.data.params["train.max_steps"] == "10" and run.data.params["model.n_embd"] == "16"
    assert run.data.tags["resumed.train.max_steps"] == "20"  # logged params cannot change: the new budget is a tag
    artifacts = {a.path for a in client.list_artifacts(saved["run_id"], "samples")}
    assert {"samples/step_0000010.txt", "samples/step_0000020.txt", "samples/final.txt"} <= artifacts
    assert [a.path for a in client.list_artifacts(saved["run_id"], "model")] == ["model/README.md"]


def test_a_tracking_uri_that_cannot_work_fails_before_training(tmp_path, corpus):
    pytest.importorskip("mlflow", reason="the track extra (mlflow) is not installed")
    with pytest.raises(BadInputError, match="cannot log to MLflow") as e:
        train(corpus, tmp_path / "runs", "mlflow", tracking_uri="nosuchscheme://x")
    assert "--tracking-uri" in e.value.hint
    assert not (tmp_path / "runs" / "text-generation" / "tracked" / "model").exists()


def test_no_logger_by_default(tmp_path, corpus):
    result = train(corpus, tmp_path / "runs", "none", steps=5)
    assert not (result.run.path / "tensorboard").exists() and not (result.run.path / "mlruns").exists()
