"""ONNX export of the audio models: the Vocos vocoder's network (log-mels -> STFT log-magnitude and phase; the inverse
STFT stays in PyTorch) and the audio GANs' generator pass (latents [+ labels] -> clips, or log-magnitude spectrograms
for SpecGAN, whose Griffin-Lim stays in PyTorch) follow PyTorch in onnxruntime at batch sizes and frame counts the
trace did not see; ``--backend onnx`` of ``genlab sample`` and of ``genlab vocode`` gives the torch backend's audio;
WaveNet, an autoregressive sampler, is refused with the reason."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnx", reason="the export extra (onnx) is not installed")
pytest.importorskip("onnxscript", reason="the export extra (onnxscript) is not installed")
pytest.importorskip("onnxruntime", reason="the export extra (onnxruntime) is not installed")

import genlab  # noqa: E402
from genlab.audio.features import istft  # noqa: E402
from genlab.audio.generation import SpecGAN, SpecGANConfig, WaveGAN, WaveGANConfig  # noqa: E402
from genlab.audio.generation.wavenet import WaveNet, WaveNetConfig  # noqa: E402
from genlab.audio.vocoder.vocos import MAX_MAGNITUDE  # noqa: E402
from genlab.core.errors import BadInputError  # noqa: E402
from genlab.exporters import OnnxGraphRunner, cached_export, load_manifest  # noqa: E402
from tests.audio.test_enhancement import utterance  # noqa: E402
from tests.audio.test_generation import SPEC_STATS, TINY  # noqa: E402
from tests.audio.test_vocoder import RATE, randomised  # noqa: E402
from tests.cli_helpers import cli_ok  # noqa: E402

TOLERANCE = 1e-4  # every audio graph is fp32 and declares this largest absolute difference


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    """One export cache for the module: each model is exported once, then its files are reused."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("cache")
        patch.setenv("GENLAB_CACHE_DIR", str(folder))
        yield folder


def loaded(model: torch.nn.Module, folder):
    """``model`` saved and loaded back as a pipeline (the onnx backend names its export by the weights' sha256)."""
    model.save_pretrained(folder)
    return genlab.load(folder)


def exported(model: torch.nn.Module, graph: str):
    """(the graph's manifest entry, an onnxruntime runner of it) from the model's cached export."""
    folder = cached_export(model)
    spec = load_manifest(folder)["graphs"][graph]
    return spec, OnnxGraphRunner(folder / spec["file"], threads=1)


def gan(cls, config, **options):
    torch.manual_seed(0)
    return cls(config(**{**TINY, **options})).eval()


@pytest.fixture(scope="module")
def vocoder(tmp_path_factory):
    return loaded(randomised(), tmp_path_factory.mktemp("vocos"))


@pytest.fixture(scope="module")
def wavegan_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wavegan")
    gan(WaveGAN, WaveGANConfig, conditional=True).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def wavegan(wavegan_dir):
    return genlab.load(wavegan_dir)


@pytest.fixture(scope="module")
def specgan(tmp_path_factory):
    return loaded(gan(SpecGAN, SpecGANConfig, **SPEC_STATS, griffin_lim_iters=4), tmp_path_factory.mktemp("specgan"))


def waves_of(model, log_magnitude: np.ndarray, phase: np.ndarray) -> torch.Tensor:
    """The part of the vocoder left outside the graph (docs/export.md): istft(min(exp(a), 100) · e^(i·p))."""
    c = model.config
    magnitude = torch.from_numpy(log_magnitude).exp().clamp(max=MAX_MAGNITUDE)
    phase = torch.from_numpy(phase)
    spectrum = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
    return istft(spectrum, c.n_fft, c.hop_length, c.win_length)


# --------------------------------------------------------------------------- the vocoder


def test_vocoder_spectrum_graph_follows_pytorch_at_other_batches_and_lengths(vocoder):
    model, c = vocoder.model, vocoder.model.config
    spec, runner = exported(model, "spectrum")
    assert spec["max_abs_diff"] <= spec["tolerance"] == TOLERANCE
    assert spec["inputs"] == [{"name": "mel", "shape": ["batch", 32, "frames"], "dtype": "float32"}]
    bins = c.n_fft // 2 + 1
    assert [(o["name"], o["shape"]) for o in spec["outputs"]] == [("log_magnitude", ["batch", bins, "frames"]),
                                                                   ("phase", ["batch", bins, "frames"])]  # fmt: skip
    speech = torch.stack([utterance(120 + 40 * i, 1.0, i) for i in range(3)]).float()
    mels = [model.mel(speech[:, : c.samples(57)]), torch.randn(1, c.n_mels, 1) - 4]  # the example: (2, 32, 12)
    for mel in mels:
        got = runner(mel=mel)
        with torch.no_grad():
            want = model.log_magnitude_phase(mel)
        assert got["log_magnitude"].shape == got["phase"].shape == (mel.shape[0], bins, mel.shape[-1])
        for name, w in zip(("log_magnitude", "phase"), want, strict=True):
            assert np.abs(got[name] - w.numpy()).max() <= TOLERANCE, name
    got = runner(mel=mels[0])
    wave, want = waves_of(model, got["log_magnitude"], got["phase"]), model.vocode(mels[0])
    assert wave.shape == want.shape == (3, c.samples(57))
    assert (wave - want).abs().max() <= 1e-5 * max(1.0, float(want.abs().max()))


def test_vocode_backend_onnx_gives_the_torch_audio(vocoder):
    wave = utterance(150, 1.2, 7).float()
    want = vocoder(wave, RATE, chunk_seconds=0.5).wave  # streamed in chunks: the stand-in sees several lengths
    got = vocoder(wave, RATE, chunk_seconds=0.5, backend="onnx").wave
    assert got.shape == want.shape == wave.shape and (got - want).abs().max() <= 1e-4
    mel = vocoder.model.mel(wave)
    assert (vocoder.from_mel(mel, backend="onnx").wave - vocoder.from_mel(mel).wave).abs().max() <= 1e-4
    assert "log_magnitude_phase" not in vars(vocoder.model)  # the loaded model is left as it was
    with pytest.raises(BadInputError, match="Griffin-Lim has no network"):
        vocoder(wave, RATE, griffin_lim=True, backend="onnx")


# --------------------------------------------------------------------------- the generators


@pytest.mark.parametrize("name", ["wavegan", "specgan"])
def test_generator_graph_follows_pytorch_at_another_batch(name, request):
    model = request.getfixturevalue(name).model
    spec, runner = exported(model, "generator")
    assert spec["max_abs_diff"] <= spec["tolerance"] == TOLERANCE
    z = model.sample_latent(5, torch.Generator().manual_seed(9))  # the example has 2
    inputs = {"z": z} | ({"labels": torch.tensor([0, 2, 1, 1, 0])} if model.conditional else {})
    assert [i["name"] for i in spec["inputs"]] == list(inputs)
    with torch.no_grad():
        want = model.synthesize(**inputs).numpy()
    output = spec["outputs"][0]["name"]
    got = runner(**inputs)[output]
    if name == "wavegan":
        assert output == "waves" and got.shape == (5, TINY["clip_samples"])
    else:
        assert output == "log_magnitude" and got.shape == (5, *model.config.spectrogram_shape)
    assert np.abs(want).max() > 1e-3 and np.abs(got - want).max() <= TOLERANCE  # a non-trivial output, followed


@pytest.mark.parametrize("name", ["wavegan", "specgan"])
def test_sample_backend_onnx_gives_the_torch_clips(name, request):
    pipe = request.getfixturevalue(name)
    label = "2" if pipe.model.conditional else None
    want = pipe(n=4, label=label, seed=3).waves
    got = pipe(n=4, label=label, seed=3, backend="onnx").waves  # SpecGAN: the same seeded Griffin-Lim after it
    assert got.shape == want.shape == (4, TINY["clip_samples"]) and (got - want).abs().max() <= 1e-4
    assert "synthesize" not in vars(pipe.model)


def test_sample_command_backend_onnx(wavegan_dir, tmp_path, capsys):
    out = tmp_path / "clips"
    code, text = cli_ok(["sample", str(wavegan_dir), "--n", "2", "--label", "1", "--seed", "0", "--backend", "onnx",
                         "--out", str(out)], capsys)  # fmt: skip
    assert code == 0, text
    assert sorted(p.name for p in out.iterdir()) == ["000_1.wav", "001_1.wav", "spectrograms.png"]


def test_wavenet_is_refused_with_the_reason(tmp_path):
    model = WaveNet(WaveNetConfig(sample_rate=RATE, clip_samples=400, residual_channels=4, skip_channels=4,
                                  layers_per_stack=2, stacks=1, train_outputs=16))  # fmt: skip
    with pytest.raises(BadInputError, match="sample by sample") as e:
        model.export_graphs()
    assert "WaveGAN" in str(e.value) and "audio GANs" in e.value.hint
    pipe = loaded(model, tmp_path / "wavenet")
    with pytest.raises(BadInputError, match="cannot be exported"):
        pipe(n=1, seed=0, backend="onnx")
