"""The vocoder task: the mel front-end contract, audio/vocos, exact chunked vocoding, the metrics and the Griffin-Lim
baselines, the vocode pipeline and an end-to-end run, on tiny synthetic "speech" so every test runs in seconds."""

from __future__ import annotations

import json
import math
import warnings
from typing import ClassVar

import pytest
import torch

pytest.importorskip("soundfile")
pytest.importorskip("scipy")

import genlab  # noqa: E402
from genlab.audio import io  # noqa: E402
from genlab.audio.loading import ClipDataset  # noqa: E402
from genlab.audio.vocoder import (  # noqa: E402
    TASK,
    MelFrontEnd,
    VocodePipeline,
    Vocos,
    VocosConfig,
    evaluation,
    mel_stream,
    pipelines,
    resynthesize_stream,
    vocode_stream,
)
from genlab.audio.vocoder.task import SegmentDataset, VocoderDataConfig  # noqa: E402
from genlab.audio.vocoder.vocos import mel_spreading  # noqa: E402
from genlab.core.errors import BadInputError, ConfigError  # noqa: E402
from genlab.core.evaluation import EvalContext, run_metrics, task_metrics  # noqa: E402
from genlab.core.registry import METRICS, PIPELINES, TASKS  # noqa: E402
from tests.audio.test_enhancement import utterance  # noqa: E402  (synthetic speech: harmonics under syllables)
from tests.cli_helpers import cli_ok  # noqa: E402
from tests.model_mixin import ModelTesterMixin  # noqa: E402

RATE = 8000
TINY = {"sample_rate": RATE, "n_mels": 32, "dim": 16, "intermediate_dim": 32, "layers": 2,
        "stft_resolutions": [(256, 32, 128), (512, 64, 256)]}  # fmt: skip
LJSPEECH = "speech/ljspeech-mini/wavs"


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def randomised(config: dict | None = None, scale: float = 0.3) -> Vocos:
    """A vocoder whose weights are random (so its output varies with the mels over time and frequency)."""
    torch.manual_seed(0)
    model = Vocos(VocosConfig(**(config or TINY)))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))
    return model.eval()


@pytest.fixture(scope="module")
def speech_folder(tmp_path_factory):
    """Six synthetic utterances of 1.5 s, LJ Speech-style names."""
    root = tmp_path_factory.mktemp("vocoder") / "wavs"
    root.mkdir()
    for i in range(6):
        io.write_audio(root / f"LJ001-{i:04d}.wav", utterance(110 + 25 * i, 1.5, i), RATE)
    return root


@pytest.fixture(scope="module")
def trained(speech_folder, tmp_path_factory):
    return genlab.train(
        TASK, "vocos", str(speech_folder), "tiny", max_steps=2, batch_size=4, threads=1, progress=False,
        sample_every=0, val_batches=1, log_every=1, runs_dir=tmp_path_factory.mktemp("runs"),
        data_options={"sample_rate": RATE, "clip_seconds": 0.25, "val_fraction": 0.34, "segments_per_epoch": 8},
        model_options={k: v for k, v in TINY.items() if k != "sample_rate"},
    )  # fmt: skip


# --------------------------------------------------------------------------- the shared model suite


class TestVocos(ModelTesterMixin):
    model_name = "audio/vocos"
    config: ClassVar[dict] = TINY
    validation_keys: ClassVar[set[str] | None] = {"loss", "stft_sc", "stft_mag", "mel_l1"}
    seeded_outputs: ClassVar[bool] = False  # vocoding draws nothing at random

    def batch(self, model):
        waves = torch.stack([utterance(120 + 30 * i, 0.3, i) for i in range(4)])
        return waves, torch.zeros(4, dtype=torch.long)  # ClipDataset's (waves, labels)

    def sample(self, model, seed):
        return model.resynthesize(self.batch(model)[0][:2])

    def check_output(self, model, out):
        assert out.shape == (2, int(0.3 * RATE)) and out.dtype == torch.float32
        assert bool(torch.isfinite(out).all()) and float(out.std()) > 0 and float(out.abs().max()) < 10


class TestVocosAdversarial(TestVocos):
    """The same model with the discriminator on: two optimizer groups, each lowering its own loss."""

    config: ClassVar[dict] = {**TINY, "adversarial_weight": 0.1, "discriminator_channels": 4}

    def test_groups_and_adversarial_terms(self):
        model = self.build()
        assert [g.name for g in model.optimizer_groups()] == ["discriminator", "generator"]
        losses = model.training_losses(self.batch(model), "generator")
        assert {"g_adv", "feature_matching", "mel_l1"} <= set(losses)
        assert set(model.training_losses(self.batch(model), "discriminator")) == {"loss", "d_loss"}
        plain = Vocos(VocosConfig(**TINY))
        assert plain.discriminator is None and [g.name for g in plain.optimizer_groups()] == ["generator"]
        with pytest.raises(BadInputError, match="no discriminator"):
            plain.training_losses(self.batch(plain), "discriminator")


# --------------------------------------------------------------------------- the front-end contract


def test_front_end_defaults_follow_the_rate_and_are_written_in_full():
    for rate, hop in ((16000, 256), (22050, 256), (24000, 256), (8000, 128), (48000, 512)):
        fe = MelFrontEnd(sample_rate=rate)
        assert (fe.hop_length, fe.win_length, fe.n_fft, fe.f_max) == (hop, 4 * hop, 4 * hop, rate / 2), rate
    fe = MelFrontEnd(sample_rate=22050, hop_length=256, win_length=800)
    assert fe.n_fft == 1024 and fe.win_length == 800  # the FFT: the next power of two
    saved = VocosConfig().to_dict()
    assert {saved[k] for k in ("n_fft", "win_length")} == {1024} and saved["hop_length"] == 256
    assert VocosConfig.build(saved) == VocosConfig()
    contract = VocosConfig().contract()
    assert contract["mel_scale"] == "slaney" and contract["power"] == 1 and "dim" not in contract
    bad_values = ({"hop_length": 1024, "win_length": 1024}, {"win_length": 2048, "n_fft": 1024}, {"f_max": 9000},
                  {"f_min": 9000}, {"kernel_size": 4}, {"stft_resolutions": [(512, 240, 240)]})  # fmt: skip
    for bad in bad_values:
        with pytest.raises(ConfigError):
            VocosConfig.build(bad)


def test_mels_have_the_documented_frames_and_vocode_gives_the_documented_samples():
    model = randomised()
    c = model.config
    for samples in (1, 127, 128, 1000, 2001):
        wave = torch.randn(samples) * 0.1
        mel = model.mel(wave)
        assert mel.shape == (c.n_mels, 1 + samples // c.hop_length) == (c.n_mels, c.frames(samples))
        assert c.samples(mel.shape[-1]) <= samples < c.samples(mel.shape[-1]) + c.hop_length
        assert model.vocode(mel).shape == (c.samples(mel.shape[-1]),)
        assert model.vocode(mel, samples).shape == (samples,)
    batch = torch.randn(3, 2000) * 0.1
    assert model.mel(batch).shape == (3, c.n_mels, 16) and model.vocode(model.mel(batch)).shape == (3, 1920)
    assert torch.allclose(model.mel(batch)[1], model.mel(batch[1]), atol=1e-5)
    floor = math.log(c.log_floor)
    assert float(model.mel(torch.zeros(500)).max()) == pytest.approx(floor)  # silence reads as the floor
    with pytest.raises(BadInputError, match="frames"):
        model.vocode(model.mel(batch), 5000)
    with pytest.raises(BadInputError, match=r"\(\.\.\., 32, frames\)") as err:
        model.vocode(torch.zeros(80, 10))
    assert "128-sample hop at 8000 Hz" in err.value.hint
    other = MelFrontEnd(sample_rate=RATE, n_mels=40)
    with pytest.raises(BadInputError, match="n_mels=40"):
        c.check_matches(other, "the acoustic model's mels")
    c.check_matches(MelFrontEnd(**c.front_end().to_dict()))


def test_magnitude_prior_spreads_a_flat_mel_back_to_a_flat_spectrum():
    fe = MelFrontEnd(sample_rate=16000)
    fb = fe.filterbank()
    spread = mel_spreading(fb)
    flat = torch.full((fe.n_freq, 1), 0.3)
    restored = spread @ (fb @ flat)
    assert torch.allclose(restored[5:-5], flat[5:-5], rtol=1e-3)  # every bin a filter covers


# --------------------------------------------------------------------------- chunked == whole


def test_chunked_analysis_and_vocoding_equal_whole_ones():
    model = randomised()
    wave = utterance(150, 3.0, 0) + 0.02 * torch.randn(3 * RATE, generator=torch.Generator().manual_seed(0))
    wave = wave[: 3 * RATE - 77]  # a length that is no multiple of the hop
    mel = model.mel(wave)
    assert float(model.vocode(mel).std()) > 0.01  # an output that varies: the test can fail
    streamed_mel = torch.cat(list(mel_stream(model, torch.split(wave, 1001), chunk_frames=7)), dim=-1)
    assert streamed_mel.shape == mel.shape and float((streamed_mel - mel).abs().max()) <= 1e-4
    whole = model.vocode(mel, wave.shape[-1])
    chunks = torch.split(mel, 13, dim=-1)  # chunks that do not line up with the cores
    streamed = torch.cat(list(vocode_stream(model, chunks, chunk_frames=10, length=wave.shape[-1])))
    assert streamed.shape == whole.shape and float((streamed - whole).abs().max()) <= 1e-5
    default = torch.cat(list(vocode_stream(model, chunks, chunk_frames=10)))
    assert torch.allclose(default, model.vocode(mel), atol=1e-5)
    resynthesised = torch.cat(list(resynthesize_stream(model, torch.split(wave, 999), chunk_frames=10)))
    assert float((resynthesised - model.resynthesize(wave)).abs().max()) <= 1e-5
    short = torch.randn(100) * 0.1  # shorter than a hop: one frame
    assert torch.allclose(torch.cat(list(resynthesize_stream(model, [short]))), model.resynthesize(short), atol=1e-6)
    with pytest.raises(BadInputError, match="frames"):
        list(vocode_stream(model, chunks, length=10))


# --------------------------------------------------------------------------- metrics and baselines


def test_metrics_score_known_signals_and_skip_what_they_cannot():
    model = randomised()
    clean = utterance(140, 1.5, 0)
    noisy = clean + 0.05 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    test = evaluation.TestSet("synthetic", RATE, [clean], ["x"])
    specs = list(task_metrics(TASK).values())
    assert [s.key for s in specs] == ["lsd", "mel_l1", "vocoder_pesq", "vocoder_stoi"]
    assert METRICS.get("audio/pesq").task == "audio-denoising"  # the enhancement task's: distinct names here

    def scores(samples):
        ctx = EvalContext(model, TASKS.get(TASK), None, name="check")
        ctx.cache |= {"reference": test, "samples": samples}
        return run_metrics(specs, ctx)

    perfect, _ = scores([clean])
    assert perfect["lsd"] == 0 and perfect["mel_l1"] == 0
    assert perfect["vocoder_pesq"] > 4.0 and perfect["vocoder_stoi"] > 0.99
    worse, _ = scores([noisy])
    assert worse["lsd"] > 1 and worse["mel_l1"] > 0.1
    assert worse["vocoder_pesq"] < perfect["vocoder_pesq"] and worse["vocoder_stoi"] < perfect["vocoder_stoi"]
    blip = clean[:1000]  # 0.125 s: too little speech for STOI, which leaves it out and counts it
    test.waves.append(blip)
    test.names.append("blip")
    values, protocol = scores([clean, blip])
    assert values["vocoder_stoi"] == perfect["vocoder_stoi"] and protocol["vocoder_stoi_skipped_recordings"] == 1


def test_griffin_lim_inverts_the_front_end_better_with_more_iterations():
    fe = MelFrontEnd(sample_rate=RATE)
    analysis = fe.mel_spectrogram()
    wave = utterance(130, 1.0, 2)
    mel = analysis(wave)
    errors = []
    for iters in (1, 32):
        out = fe.griffin_lim(mel, iters, wave.shape[-1], torch.Generator().manual_seed(0))
        assert out.shape == wave.shape and bool(torch.isfinite(out).all())
        errors.append(float((analysis(out) - mel).abs().mean()))
    assert errors[1] < errors[0] < 2


# --------------------------------------------------------------------------- training, evaluation, pipeline


def test_training_two_steps_records_the_front_end_and_previews(trained):
    assert trained.status == "completed" and trained.steps == 2
    model = genlab.load(trained.run.path).model
    assert isinstance(model, Vocos) and model.config.sample_rate == RATE and model.config.n_mels == 32
    saved = json.loads((trained.run.path / "model" / "config.json").read_text())["config"]
    assert (saved["n_fft"], saved["hop_length"], saved["win_length"], saved["f_max"]) == (512, 128, 512, 4000)
    assert model.provenance.data["split"]["n_val"] == 2
    samples = trained.run.path / "samples"
    assert (samples / "final.png").is_file() and io.audio_info(samples / "final.wav").sample_rate == RATE


def test_evaluation_end_to_end_with_the_griffin_lim_baselines(trained, speech_folder):
    result = genlab.evaluate(trained.run.path, griffin_lim_iters="8,4")  # as the CLI gives it
    assert set(result["metrics"]) == {"lsd", "mel_l1", "vocoder_pesq", "vocoder_stoi"}
    assert set(result["baselines"]) == {"griffin_lim_4", "griffin_lim_8"}
    for values in (result["metrics"], *result["baselines"].values()):
        assert set(values) == set(result["metrics"]) and all(math.isfinite(v) for v in values.values())
    p = result["protocol"]
    assert p["n_recordings"] == 2 and "validation split" in p["reference"] and p["front_end"]["n_mels"] == 32
    assert "baseline_griffin_lim_8" in p and p["model"] == "audio/vocos"
    one = genlab.evaluate(trained.run.path, "lsd", ref=str(speech_folder / "LJ001-0000.wav"), save=False,
                          griffin_lim_iters=[2])  # fmt: skip
    assert one["protocol"]["recordings"] == ["LJ001-0000.wav"] and set(one["baselines"]) == {"griffin_lim_2"}
    folder = genlab.evaluate(trained.run.path, "lsd", ref=str(speech_folder), n=3, save=False, griffin_lim_iters=[2])
    assert folder["protocol"]["n_recordings"] == 3


def test_pipeline_resynthesises_files_streamed_like_the_whole(trained, tmp_path, monkeypatch):
    pipe = genlab.load(trained.run.path)
    assert isinstance(pipe, VocodePipeline) and PIPELINES.get("audio/vocode") is VocodePipeline
    pipe.model.load_state_dict(randomised().state_dict())
    wave = utterance(150, 3.0, 1)
    path = io.write_audio(tmp_path / "in.wav", wave, RATE)
    read, _ = io.read_audio(path)
    monkeypatch.setattr(pipelines, "BLOCK_SECONDS", 0.3)  # many input blocks, several chunks
    out = pipe(path, chunk_seconds=0.5)
    assert out.sample_rate == RATE and out.info["method"] == "audio/vocos"
    assert float((out.wave - pipe.model.resynthesize(read)).abs().max()) <= 1e-5
    mel = pipe.model.mel(read)
    from_mel = pipe.from_mel(mel, chunk_seconds=0.5)
    assert torch.allclose(from_mel.wave, pipe.model.vocode(mel), atol=1e-5) and from_mel.sample_rate == RATE
    with pytest.raises(BadInputError, match="one mel spectrogram"):
        pipe.from_mel(mel[None])
    classical = pipe(path, griffin_lim=True, griffin_lim_iters=4, seed=1)
    assert classical.wave.shape == read.shape and "griffin-lim" in classical.info["method"]
    assert torch.equal(classical.wave, pipe(path, griffin_lim=True, griffin_lim_iters=4, seed=1).wave)
    monkeypatch.setattr(pipelines, "GRIFFIN_LIM_MAX_SECONDS", 1.0)
    with pytest.raises(BadInputError, match="Griffin-Lim works on the whole recording") as err:
        pipe(path, griffin_lim=True)
    assert "without --griffin-lim" in err.value.hint


def test_pipeline_converts_stereo_and_other_rates_and_refuses_bad_files(trained, tmp_path):
    pipe = genlab.load(trained.run.path)
    left = utterance(150, 1.0, 3, rate=16000)
    stereo = io.write_audio(tmp_path / "stereo.wav", torch.stack([left, 0.5 * left]), 16000)
    with pytest.warns(UserWarning, match="averaged to mono"):
        out = pipe(stereo)
    assert out.sample_rate == 16000 and out.wave.shape == (16000,) and bool(torch.isfinite(out.wave).all())
    with pytest.warns(UserWarning):
        at_model = pipe(stereo, out_rate="model")
    assert at_model.sample_rate == RATE and at_model.wave.shape == (RATE,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a mono wave at the model's rate warns about nothing
        assert pipe(utterance(150, 0.5, 4), sample_rate=RATE).wave.shape == (RATE // 2,)
    with pytest.raises(BadInputError, match="no audio file"):
        pipe(tmp_path / "nope.wav")
    (tmp_path / "notes.wav").write_text("not audio at all")
    with pytest.raises(BadInputError, match="not an audio file"):
        pipe(tmp_path / "notes.wav")
    with pytest.raises(BadInputError, match="sample_rate"):
        pipe(torch.zeros(100))


def test_cli_vocodes_with_positional_in_and_out(trained, tmp_path, capsys):
    source = io.write_audio(tmp_path / "in.wav", utterance(160, 0.8, 5), RATE)
    for extra, name in (([], "out.wav"), (["--griffin-lim", "--griffin-lim-iters", "2"], "gl.wav")):
        code, text = cli_ok(["vocode", str(source), str(tmp_path / name), "--model", str(trained.run.path), *extra],
                            capsys)  # fmt: skip
        assert code == 0, text
        assert io.audio_info(tmp_path / name).frames == io.audio_info(source).frames
    code, text = cli_ok(["vocode", str(tmp_path / "missing.wav"), "--model", str(trained.run.path)], capsys)
    assert code == 2 and "no audio file" in text


# --------------------------------------------------------------------------- data


def test_data_config_defaults_to_wide_band_segments():
    cfg = VocoderDataConfig()
    assert cfg.sample_rate == 16000 and cfg.clip_seconds == 0.5 and cfg.labels == "none"
    with pytest.raises(ConfigError):
        VocoderDataConfig.build({"sample_rate": 4000})


def test_segments_are_drawn_in_proportion_to_the_recordings_length():
    short, long = torch.full((1000,), 0.1), torch.full((3000,), 0.2)  # the level says which recording
    clips = ClipDataset([short, long, torch.full((10,), 0.3)], [-1, -1, -1], clip_samples=500, augment=True)
    segments = SegmentDataset(clips, 900)
    torch.manual_seed(0)
    levels = [round(float(segments[i][0].abs().max()), 1) for i in range(len(segments))]
    counts = {level: levels.count(level) for level in (0.1, 0.2, 0.3)}
    assert len(segments) == 900 and segments[0][0].shape == (500,)
    assert 150 < counts[0.1] < 250 and 550 < counts[0.2] < 650 and 60 < counts[0.3] < 140  # 2 : 6 : 1


def test_a_speech_folder_gives_random_training_segments(shared_data):
    folder = shared_data / LJSPEECH
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    task = TASKS.get(TASK)
    cfg = VocoderDataConfig.build({"source": str(folder), "max_files": 4, "segments_per_epoch": 50})
    train, val, info = task.load_data(cfg)
    assert info.sample_rate == 16000 and info.n_train == 3 and len(val) == 1 and len(train) == 50
    segment, _ = train[0]
    assert segment.shape == (8000,) and float(segment.abs().max()) <= 1
