"""The audio-classification task: the log-mel CNN, its accuracy metric and the classify pipeline."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("soundfile")

import genlab  # noqa: E402
from genlab.audio.classifier import MelCNN, MelCNNConfig  # noqa: E402
from genlab.audio.io import write_audio  # noqa: E402
from genlab.core.classification import ClassificationOutput  # noqa: E402
from genlab.core.errors import BadInputError, DataError  # noqa: E402
from genlab.core.registry import TASKS  # noqa: E402
from tests.audio.long_files import long_wav  # noqa: E402
from tests.cli_helpers import cli_ok  # noqa: E402
from tests.model_mixin import ModelTesterMixin  # noqa: E402

RATE = 4000
FREQS = {"low": 300.0, "mid": 700.0, "high": 1300.0}


def tone(freq: float, seconds: float, phase: float, amp: float) -> torch.Tensor:
    t = torch.arange(int(RATE * seconds)) / RATE
    return amp * torch.sin(2 * math.pi * freq * t + phase)


@pytest.fixture(scope="module")
def tone_folder(tmp_path_factory):
    """Three classes of tones named LABEL_SPEAKER_TAKE.wav (8 takes each, two 'speakers'), of varied length."""
    folder = tmp_path_factory.mktemp("tones")
    g = torch.Generator().manual_seed(0)
    for label, freq in FREQS.items():
        for take in range(8):
            seconds = 0.3 + 0.4 * float(torch.rand((), generator=g))
            amp = 0.1 + 0.5 * float(torch.rand((), generator=g))
            noise = 0.01 * torch.randn(int(RATE * seconds), generator=g)
            wave = tone(freq * (1 + 0.03 * take), seconds, take, amp) + noise
            write_audio(folder / f"{label}_s{take % 2}_{take}.wav", wave, RATE)
    return folder


@pytest.fixture(scope="module")
def trained(tone_folder, tmp_path_factory):
    return genlab.train(
        "audio-classification", "mel-cnn", str(tone_folder), "tones", max_steps=30, batch_size=8,
        runs_dir=tmp_path_factory.mktemp("runs"), progress=False, sample_every=0, val_batches=1,
        data_options={"sample_rate": RATE, "clip_seconds": 0.5, "val_fraction": 0.25},
        model_options={"widths": (8, 8, 16, 16), "feature_dim": 16, "lr": 1e-2, "freq_mask": 0, "time_mask": 0},
    )  # fmt: skip


def test_task_is_registered_with_the_cnn_as_default():
    task = TASKS.get("audio-classification")
    assert task.model_names() == ["mel-cnn"] and task.modality == "audio"


def test_model_shapes_and_the_rms_normalisation():
    m = MelCNN(MelCNNConfig(sample_rate=RATE, clip_samples=2000, num_classes=3, widths=(4, 4, 8, 8))).eval()
    x = torch.randn(3, 2000) * 0.1
    assert m(x).shape == (3, 3) and m.features(x).shape == (3, 128)
    assert torch.allclose(m(x), m(x * 7.0), atol=1e-4)  # the level of a clip does not change its class
    assert not any(k.startswith("mel.") for k in m.state_dict())  # the filterbank is rebuilt, not saved
    with pytest.raises(BadInputError, match="takes clips"):
        m(torch.randn(2000))


def test_training_learns_the_tones_and_the_metric_scores_the_held_out_clips(trained):
    rows = (trained.run.path / "metrics.csv").read_text().splitlines()
    assert trained.status == "completed" and trained.steps == 30 and len(rows) > 2
    result = genlab.evaluate(trained.run.path)
    assert result["protocol"]["reference_split"].startswith("validation split")
    assert result["protocol"]["n_reference"] == 6  # 25% of 24 clips
    assert result["metrics"]["accuracy"] >= 2 / 3  # three well-separated tones: chance is 1/3
    assert (trained.run.path / "samples" / "final.png").is_file()


def test_classify_pipeline_on_files_folders_and_tensors(trained, tone_folder, tmp_path):
    pipe = genlab.load(trained.run.path)
    out = pipe(tone_folder / "high_s0_0.wav")
    assert isinstance(out, ClassificationOutput) and out.items == ["high_s0_0.wav"] and out.column == "file"
    assert sorted(out.class_names) == sorted(FREQS)
    # another rate and stereo are converted
    stereo = torch.stack([tone(300.0, 0.5, 0, 0.3), tone(300.0, 0.5, 0, 0.3)])
    write_audio(tmp_path / "low.wav", stereo, 8000)
    assert pipe(tmp_path / "low.wav").probabilities.shape == (1, 3)
    folder = pipe(tone_folder)
    assert len(folder.items) == 24
    saved = ClassificationOutput.load(folder.save(tmp_path / "p.csv"))
    assert saved.items == folder.items and saved.column == "file"
    assert pipe(torch.zeros(2, 2000)).probabilities.shape == (2, 3)
    with pytest.raises(BadInputError, match="no audio file"):
        pipe(tmp_path / "missing.wav")


def test_classify_command(trained, tone_folder, tmp_path, capsys):
    out = tmp_path / "labels.csv"
    code, text = cli_ok(["classify", str(tone_folder / "mid_s1_1.wav"), "--out", str(out), "--model",
                         str(trained.run.path)], capsys)  # fmt: skip
    assert code == 0, text
    assert ClassificationOutput.load(out).items == ["mid_s1_1.wav"]


def test_speaker_labels_and_unlabelled_folders(tone_folder, tmp_path, runs_dir):
    train, _, info = TASKS.get("audio-classification").load_data(
        TASKS.get("audio-classification").data_config_class.build(
            {"source": str(tone_folder), "sample_rate": RATE, "label_field": "speaker", "clip_seconds": 0.5}
        )
    )
    assert info.class_names == ["s0", "s1"] and info.num_classes == 2
    for i in range(3):
        write_audio(tmp_path / f"clip{i}.wav", tone(440.0, 0.3, 0, 0.3), RATE)
    with pytest.raises(DataError, match="fewer than two classes"):
        genlab.train("audio-classification", data=str(tmp_path), max_steps=1, progress=False,
                     data_options={"sample_rate": RATE, "labels": "none"})  # fmt: skip


@pytest.mark.parametrize("name,classes", [("fsdd-digits", 10), ("fsdd-speakers", 6)])
def test_shipped_judges_load_verified(name, classes):
    from genlab.audio.classifier.train import WEIGHTS_DIR, load_audio_classifier
    from genlab.core.checkpoint import sha256_file

    model = load_audio_classifier(name)
    assert model.config.num_classes == classes and model.config.sample_rate == 8000
    assert model.provenance.weights_sha256 == sha256_file(WEIGHTS_DIR / name / "model.safetensors")
    assert model.provenance.raw["test_accuracy"] >= 0.95
    with pytest.raises(Exception, match="no audio classifier"):
        load_audio_classifier("no-such-judge")


def test_shipped_digit_judge_on_the_fsdd_test_split(shared_data):
    from genlab.audio.classifier.train import load_audio_classifier
    from genlab.audio.loading import AudioDataConfig, load_audio_data
    from genlab.audio.loading import stack_clips as stack

    model = load_audio_classifier("fsdd-digits")
    cfg = AudioDataConfig.build({"source": "fsdd:test", "data_dir": str(shared_data / "fsdd"), "val_fraction": 0,
                                 "augment": False})  # fmt: skip
    waves, labels = stack(load_audio_data(cfg)[0])
    assert len(waves) == 300
    assert float((model.probabilities(waves).argmax(1) == labels).float().mean()) >= 0.95


class TestMelCNNContract(ModelTesterMixin):
    """The shared model suite; a classifier's output is its logits on fixed clips, which ignore the seed."""

    model_name = "audio/mel-cnn"
    config = {"sample_rate": RATE, "clip_samples": 2000, "num_classes": 3, "widths": (4, 4, 8, 8), "feature_dim": 8}
    validation_keys = {"loss", "accuracy"}
    seeded_outputs = False
    optimizer_steps = 10

    def batch(self, model):
        labels = torch.arange(12) % 3
        waves = torch.stack([tone(list(FREQS.values())[int(y)], 0.5, float(i), 0.3) for i, y in enumerate(labels)])
        return waves, labels

    def sample(self, model, seed):
        with torch.no_grad():
            return model.eval()(self.batch(model)[0])

    def check_output(self, model, out):
        assert out.shape == (12, 3) and out.dtype == torch.float32 and torch.isfinite(out).all()


def test_classify_reads_only_the_start_of_a_three_hour_file(trained, tmp_path):
    path = long_wav(tmp_path / "three-hours.wav", 3, RATE, tone(FREQS["high"], 0.5, 0.0, 0.4))
    with pytest.warns(UserWarning, match="only their first 60 s were read"):
        out = genlab.load(trained.run.path)(path)
    assert out.labels == ["high"]
