"""The AutoVC-style converter ``audio/vc-autoencoder``: the model, the voice verb with a neural run, and the
judged evaluation of voice conversion (target speaker, source speaker, content) with its baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

pytest.importorskip("soundfile")
pytest.importorskip("pyworld")

import genlab  # noqa: E402
from genlab.audio import voice, voice_evaluation  # noqa: E402
from genlab.audio.classifier import MelCNN, MelCNNConfig  # noqa: E402
from genlab.audio.io import read_audio, write_audio  # noqa: E402
from genlab.audio.vc import VCAutoencoder, VCAutoencoderConfig  # noqa: E402
from genlab.core.errors import BadInputError, ConfigError, UnknownNameError  # noqa: E402
from genlab.core.registry import METRICS  # noqa: E402
from genlab.core.seeding import make_generator  # noqa: E402
from tests.cli_helpers import cli_ok  # noqa: E402
from tests.model_mixin import ModelTesterMixin  # noqa: E402

RATE = 8000
JUDGE_CLIP = 4000  # the tiny judges hear 0.5 s
TINY = {"n_mels": 20, "channels": 8, "encoder_layers": 1, "bottleneck_channels": 2, "downsample": 4, "speaker_dim": 4,
        "decoder_layers": 2, "postnet_layers": 2, "postnet_channels": 4, "griffin_lim_iters": 2}  # fmt: skip
VOICES = {"low": (110.0, 1.0), "high": (220.0, 1.25)}  # speaker: (F0 Hz, formant scale)
WORDS = {"a": (700.0, 1200.0), "i": (300.0, 2300.0)}  # what is said: two formant frequencies (Hz)


def utterance(speaker: str, word: str, take: int, seconds: float = 0.4, rate: int = RATE) -> torch.Tensor:
    """A vowel-like sound: harmonics of the speaker's F0 under two formants of the word, scaled by the speaker's
    vocal-tract factor; takes vary the pitch a little."""
    f0, scale = VOICES[speaker]
    f0 *= 1 + 0.02 * take
    t = torch.arange(int(rate * seconds)) / rate
    wave = torch.zeros_like(t)
    for k in range(1, int(3800 / f0)):
        f = k * f0
        gain = sum(np.exp(-(((f - scale * fm) / 150) ** 2)) for fm in WORDS[word]) + 0.02
        wave += float(gain) * torch.sin(2 * np.pi * f * t + 0.3 * k * take)
    envelope = torch.clamp(torch.minimum(t, t.flip(0)) / 0.03, max=1.0)
    return 0.4 * wave / wave.abs().max() * envelope


def tiny_model(speakers=("high", "low"), **overrides) -> VCAutoencoder:
    torch.manual_seed(0)
    return VCAutoencoder(VCAutoencoderConfig(**{"sample_rate": RATE, "speakers": list(speakers), **TINY, **overrides}))


class TestVCAutoencoder(ModelTesterMixin):
    """The shared model suite; the output is a batch of conversions (seeded: Griffin-Lim's random phase)."""

    model_name = "audio/vc-autoencoder"
    config = {**TINY, "sample_rate": RATE, "speakers": ["high", "low"]}
    validation_keys = {"loss", "recon", "recon_before", "content"}
    optimizer_steps = 8

    def batch(self, model):
        waves = torch.stack([utterance(s, w, t) for s in VOICES for w in WORDS for t in range(2)])
        return waves, torch.tensor([model.config.speakers.index(s) for s in VOICES for _ in range(4)])

    def sample(self, model, seed):
        waves = torch.stack([utterance("low", "a", 0), utterance("high", "i", 1)])
        return model.convert(waves, ["high", "low"], make_generator(seed))

    def check_output(self, model, out):
        assert out.shape == (2, int(0.4 * RATE)) and out.dtype == torch.float32
        assert torch.isfinite(out).all() and out.abs().max() <= 1 and out.abs().max() > 0


def test_bottleneck_shapes():
    model = tiny_model(bottleneck_channels=3, downsample=4).eval()
    for samples in (RATE // 2, 1234):  # 63 and 20 frames: not multiples of the downsampling
        x = model.features(torch.randn(2, samples) * 0.1)
        frames = 1 + samples // model.config.hop_length
        assert x.shape == (2, model.config.n_mels, frames)
        codes = model.encode(x)
        assert codes.shape == (2, 3, math.ceil(frames / 4)) and codes.abs().max() < 1
        before, after = model.decode(codes, torch.tensor([0, 1]), frames)
        assert before.shape == after.shape == x.shape
    assert VCAutoencoderConfig(sample_rate=8000).n_fft == 256 and VCAutoencoderConfig(sample_rate=8000).hop_length == 64


def test_conversion_follows_the_target_and_keeps_length_and_level():
    model = tiny_model()
    model.speaker_table.weight.data = torch.tensor([[3.0, 0, 0, 0], [0, 0, 0, -3.0]])  # two clearly different voices
    wave = utterance("low", "a", 0)[:3001]
    to_high = model.convert(wave, "high", make_generator(0))
    to_low = model.convert(wave, "low", make_generator(0))
    assert to_high.shape == to_low.shape == wave.shape
    assert not torch.allclose(to_high, to_low, atol=1e-3)
    assert to_high.abs().max() == pytest.approx(float(wave.abs().max()), rel=1e-4)  # the input's peak level


def test_long_input_is_converted_in_chunks():
    model = tiny_model(chunk_seconds=1.0, crossfade_seconds=0.05)
    wave = torch.cat([utterance("low", "a", t, seconds=0.5) for t in range(5)])  # 2.5 s: three chunks
    out = model.convert(wave, "high", make_generator(0))
    assert out.shape == wave.shape and torch.isfinite(out).all() and out.abs().max() <= 1
    assert out[-RATE // 4 :].abs().max() > 0  # the last chunk is there


def test_unknown_target_speaker_is_refused_with_suggestions():
    model = tiny_model()
    with pytest.raises(UnknownNameError, match="unknown speaker 'hihg'") as err:
        model.convert(utterance("low", "a", 0), "hihg")
    assert "did you mean 'high'" in err.value.hint
    with pytest.raises(BadInputError, match="one per clip"):
        model.convert(torch.zeros(3, 100), ["high", "low"])
    with pytest.raises(ConfigError, match="needs its speakers"):
        VCAutoencoder(VCAutoencoderConfig(sample_rate=RATE))


def test_default_rate_follows_the_data(tmp_path):
    from genlab.core.registry import DATASETS

    for rate, expected in ((8000, 8000), (44100, 16000)):
        folder = tmp_path / str(rate)
        folder.mkdir()
        write_audio(folder / "a_x_0.wav", utterance("low", "a", 0, rate=rate), rate)
        assert voice.native_rate(voice.VoiceDataConfig(source=str(folder))) == expected
    assert "fsdd" in DATASETS and voice.native_rate(voice.VoiceDataConfig(source="fsdd")) == 8000


# --------------------------------------------------------------------------- a tiny run, the voice verb, evaluation


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two speakers saying two 'words', six takes each, named LABEL_SPEAKER_TAKE.wav (as FSDD) at 8 kHz."""
    root = tmp_path_factory.mktemp("voices")
    for speaker in VOICES:
        for word in WORDS:
            for take in range(6):
                write_audio(root / f"{word}_{speaker}_{take}.wav", utterance(speaker, word, take), RATE)
    return root


def tiny_judge(folder, root, field: int, names: list[str]):
    """A tiny log-mel CNN taught the speakers (field 1) or the words (field 0) of ``folder``, saved like a judge."""
    from genlab.audio.io import fit_length

    waves, labels = [], []
    for path in sorted(folder.glob("*.wav")):
        waves.append(fit_length(read_audio(path, RATE)[0], JUDGE_CLIP))
        labels.append(names.index(path.stem.split("_")[field]))
    x, y = torch.stack(waves), torch.tensor(labels)
    torch.manual_seed(0)
    config = MelCNNConfig(sample_rate=RATE, clip_samples=JUDGE_CLIP, num_classes=len(names), class_names=names,
                          widths=(4, 4, 8, 8), feature_dim=8, freq_mask=0, time_mask=0, dropout=0.0)  # fmt: skip
    judge = MelCNN(config)
    opt = torch.optim.Adam(judge.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        judge.training_losses((x, y))["loss"].backward()
        opt.step()
    assert (judge.probabilities(x).argmax(1) == y).float().mean() == 1.0
    path = root / ("speakers" if field == 1 else "words")
    judge.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def judges(folder, tmp_path_factory):
    root = tmp_path_factory.mktemp("judges")
    return {"judge_speaker": tiny_judge(folder, root, 1, ["low", "high"]),
            "judge_content": tiny_judge(folder, root, 0, ["i", "a"])}  # fmt: skip


@pytest.fixture(scope="module")
def runs(folder, tmp_path_factory):
    """Three engine steps of the converter (a quarter of the clips held out) and a WORLD fit (dio) on the folder."""
    root = tmp_path_factory.mktemp("runs")
    vc = genlab.train(
        "voice-conversion", "vc-autoencoder", str(folder), "vc", max_steps=3, batch_size=4, runs_dir=root,
        progress=False, sample_every=0, val_batches=1, threads=1,
        data_options={"clip_seconds": 0.5, "val_fraction": 0.25}, model_options=TINY,
    )  # fmt: skip
    world = genlab.train("voice-conversion", "world", str(folder), "world", runs_dir=root, progress=False,
                         model_options={"f0_method": "dio"})  # fmt: skip
    return {"vc": vc, "world": world}


def test_training_a_neural_run(runs):
    result = runs["vc"]
    assert result.status == "completed" and result.steps == 3
    model = genlab.load(result.run.path).model
    assert isinstance(model, VCAutoencoder) and model.config.speakers == ["high", "low"]
    assert model.config.sample_rate == RATE  # the default rate followed the data
    assert (result.run.path / "samples" / "final.png").is_file() and (
        result.run.path / "samples" / "final.wav"
    ).is_file()
    assert genlab.load(runs["world"].run.path).model.config.sample_rate == RATE


def test_voice_pipeline_with_a_neural_run(runs, folder, tmp_path):
    pipe = genlab.load(runs["vc"].run.path)
    source = read_audio(folder / "a_low_0.wav", 16000)[0]  # another rate than the model's: it comes back at 16 kHz
    write_audio(tmp_path / "in.wav", source, 16000)
    out = pipe(tmp_path / "in.wav", to_speaker="high", seed=1)
    assert out.sample_rate == 16000 and out.wave.shape == source.shape and torch.isfinite(out.wave).all()
    again = pipe(tmp_path / "in.wav", to_speaker="high", seed=1)
    assert torch.equal(out.wave, again.wave)  # seeded Griffin-Lim phase
    other = pipe(tmp_path / "in.wav", to_speaker="low", seed=1)
    assert not torch.allclose(out.wave, other.wave, atol=1e-4)
    with pytest.raises(BadInputError, match="--pitch and --gender are WORLD options") as err:
        pipe(tmp_path / "in.wav", to_speaker="high", pitch=2, gender="male")
    assert "--pitch --gender" in err.value.hint and "high, low" in err.value.hint
    with pytest.raises(BadInputError, match="needs a target speaker"):
        pipe(tmp_path / "in.wav")
    with pytest.raises(UnknownNameError, match="speaker"):
        pipe(tmp_path / "in.wav", to_speaker="hihg")


def test_voice_command_with_a_neural_run(runs, folder, tmp_path, capsys):
    args = ["voice", str(folder / "i_high_1.wav"), str(tmp_path / "out.wav"), "--model", str(runs["vc"].run.path)]
    code, text = cli_ok([*args, "--to-speaker", "low"], capsys)
    assert code == 0, text
    wave, rate = read_audio(tmp_path / "out.wav")
    assert rate == RATE and len(wave) == len(read_audio(folder / "i_high_1.wav")[0])
    code, text = cli_ok([*args, "--to-speaker", "low", "--formant", "1.1"], capsys)
    assert code == 2 and "--formant is a WORLD option" in text


def test_metrics_are_registered_for_the_task():
    keys = {"target_speaker_accuracy", "source_speaker_accuracy", "content_accuracy"}
    assert keys <= {spec.key for _, spec in METRICS.items() if spec.serves("voice-conversion")}


def test_eval_of_a_neural_run_with_baselines(runs, judges):
    result = genlab.evaluate(runs["vc"].run.path, None, n=4, **judges)
    metrics, baselines, protocol = result["metrics"], result["baselines"], result["protocol"]
    assert set(metrics) == {"target_speaker_accuracy", "source_speaker_accuracy", "content_accuracy"}
    assert all(0 <= v <= 1 for v in metrics.values())
    assert metrics["target_speaker_accuracy"] + metrics["source_speaker_accuracy"] == pytest.approx(1.0)  # 2 speakers
    assert set(baselines) == {"source", "world", "vocoded"}
    # the tiny judges are right on every real clip: unconverted speech keeps its speaker and its word
    assert baselines["source"] == {"target_speaker_accuracy": 0.0, "source_speaker_accuracy": 1.0,
                                   "content_accuracy": 1.0}  # fmt: skip
    assert protocol["n_source"] == 4 and protocol["n_conversions"] == 4  # each clip to the one other speaker
    assert "validation split" in protocol["reference_split"] and protocol["judge_speaker_classes"] == ["low", "high"]
    assert "audio/world fitted on" in protocol["baseline_world"] and "Griffin-Lim" in protocol["baseline_vocoded"]


def test_eval_of_a_world_run_and_refusals(runs, judges, folder, tmp_path):
    result = genlab.evaluate(runs["world"].run.path, "target_speaker_accuracy,content_accuracy", n=3,
                             ref=str(folder), **judges)  # fmt: skip
    assert set(result["baselines"]) == {"source"} and result["protocol"]["n_conversions"] == 3
    assert 0 <= result["metrics"]["target_speaker_accuracy"] <= 1
    with pytest.raises(BadInputError, match="does not know the speaker"):
        genlab.evaluate(runs["vc"].run.path, None, n=2, judge_speaker=judges["judge_content"],
                        judge_content=judges["judge_content"])  # fmt: skip
    # a WORLD run given as the baseline instead of one fitted on the spot
    result = genlab.evaluate(runs["vc"].run.path, "content_accuracy", n=2, world=str(runs["world"].run.path), **judges)
    assert result["protocol"]["baseline_world"].startswith("the WORLD run")


def test_eval_without_content_labels_says_which_metrics_remain(runs, judges, tmp_path):
    for take in range(2):  # VCTK-style names: SPEAKER_TAKE, nothing said is labelled
        write_audio(tmp_path / f"low_{take:03d}.wav", utterance("low", "a", take), RATE)
    with pytest.raises(voice_evaluation.DataError, match="no content labels") as err:
        genlab.evaluate(runs["vc"].run.path, "content_accuracy", n=2, ref=str(tmp_path), baselines=False, **judges)
    assert "target_speaker_accuracy" in err.value.hint
