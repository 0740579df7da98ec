"""ONNX export: every exportable family's graphs match PyTorch in onnxruntime (also at another batch size), the GPT
decoder step drives generation with its cache passed in and out, the manifest, the CLI, and the errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnx", reason="the export extra (onnx) is not installed")
pytest.importorskip("onnxscript", reason="the export extra (onnxscript) is not installed")
pytest.importorskip("onnxruntime", reason="the export extra (onnxruntime) is not installed")

from genlab.core.errors import BadInputError, GenlabError  # noqa: E402
from genlab.core.registry import MODELS  # noqa: E402
from genlab.exporters import OnnxGraphRunner, export_onnx, load_manifest  # noqa: E402

pytestmark = pytest.mark.slow


def build(name: str, **config):
    import genlab.image  # noqa: F401  (registers the image models)
    import genlab.text  # noqa: F401

    cls = MODELS.get(name)
    torch.manual_seed(0)
    return cls(cls.config_class.build(config, where=name)).eval()


def jitter(model: torch.nn.Module) -> torch.nn.Module:
    """Random weights everywhere (an untrained UNet's zero output convolution would make parity trivial)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model


CGAN = {"image_size": 16, "num_classes": 10, "latent_dim": 8, "g_width": 8, "d_width": 8}
GPT = {"vocab_size": 20, "n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 32}


def test_gan_decoder_matches_at_any_batch_size(tmp_path):
    model = build("image/cgan", **CGAN)
    (report,) = export_onnx(model, tmp_path)
    assert report.name == "decoder" and report.ok and report.max_abs_diff <= 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decoder.onnx", "export.json"]  # self-contained files
    assert [i["name"] for i in report.inputs] == ["z", "labels"] and report.inputs[0]["shape"] == ["batch", 8]
    runner = OnnxGraphRunner(tmp_path / "decoder.onnx", threads=1)
    z, labels = torch.randn(5, 8), torch.tensor([0, 3, 9, 9, 1])
    got = runner(z=z, labels=labels)["images"]
    with torch.no_grad():
        want = model.decode(z, labels).numpy()
    assert got.shape == (5, 1, 16, 16) and np.abs(got - want).max() < 1e-4
    manifest = load_manifest(tmp_path)
    assert manifest["model"] == "image/cgan" and manifest["opset"] == 18
    assert manifest["graphs"]["decoder"]["outputs"][0] == {"name": "images", "shape": ["batch", 1, 16, 16],
                                                           "dtype": "float32"}  # fmt: skip


def test_vae_decoder_and_diffusion_denoiser(tmp_path):
    (vae,) = export_onnx(build("image/conv-vae", image_size=16, latent_dim=4), tmp_path / "vae")
    assert vae.ok and [i["name"] for i in vae.inputs] == ["z"]
    ddpm = jitter(build("image/ddpm", image_size=16, conditional=True, num_classes=3, base_channels=8,
                        channel_mult=[1, 2], attention_levels=[]))  # fmt: skip
    (denoiser,) = export_onnx(ddpm, tmp_path / "ddpm")
    assert denoiser.name == "denoiser" and denoiser.ok
    assert [i["name"] for i in denoiser.inputs] == ["x", "t", "labels"]
    runner = OnnxGraphRunner(tmp_path / "ddpm" / "denoiser.onnx")
    x, t, labels = torch.randn(3, 1, 16, 16), torch.tensor([1.0, 250.0, 999.0]), torch.tensor([0, 2, 3])  # 3: null
    with torch.no_grad():
        want = ddpm.unet(x, t, labels).numpy()
    got = runner(x=x, t=t, labels=labels)["prediction"]
    assert np.abs(want).max() > 1e-3 and np.abs(got - want).max() < 1e-4  # a non-trivial output, followed


@pytest.mark.parametrize(
    ("name", "config"),
    [("image/dcgan", {"image_size": 16, "latent_dim": 8, "g_width": 8, "d_width": 8}),
     ("image/cvae", {"image_size": 16, "num_classes": 10, "latent_dim": 4}),
     ("image/gaussian", {"image_size": 16}),
     ("image/flow", {"image_size": 16, "base_channels": 8, "channel_mult": [1, 2], "attention_levels": []})],
)  # fmt: skip
def test_every_image_family_exports(tmp_path, name, config):
    (report,) = export_onnx(jitter(build(name, **config)), tmp_path)
    assert report.ok, report


def test_gpt_logits_and_a_decoding_loop_on_the_exported_step(tmp_path):
    model = build("text/gpt", **GPT)
    reports = {r.name: r for r in export_onnx(model, tmp_path)}
    assert set(reports) == {"logits", "decoder_step"} and all(r.ok for r in reports.values())
    step = OnnxGraphRunner(tmp_path / "decoder_step.onnx")
    prompt = torch.tensor([[3, 1, 4, 1, 5]])
    empty = np.zeros((2, 1, 2, 0, 8), dtype=np.float32)  # no past: the prompt goes in whole
    out = step(ids=prompt, past_keys=empty, past_values=empty)
    ids = prompt
    for _ in range(6):  # greedy decoding, one token at a time, the cache passed back in
        nxt = torch.tensor(out["logits"][:, -1].argmax(-1))[:, None]
        ids = torch.cat([ids, nxt], dim=1)
        out = step(ids=nxt, past_keys=out["keys"], past_values=out["values"])
    with torch.no_grad():
        want = model.all_logits(ids).numpy()
    assert out["keys"].shape == (2, 1, 2, 11, 8)
    assert np.abs(out["logits"][:, -1] - want[:, -1]).max() < 1e-4  # the same as the whole sequence at once
    ref = prompt
    for _ in range(6):  # PyTorch's own greedy decoding picks the same tokens
        with torch.no_grad():
            ref = torch.cat([ref, model.all_logits(ref)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(ref, ids)
    logits = OnnxGraphRunner(tmp_path / "logits.onnx")(ids=ids)["logits"]
    assert np.abs(logits - want).max() < 1e-4


def test_forward_past_equals_the_cached_and_uncached_paths():
    model = build("text/gpt", **GPT)
    ids = torch.randint(20, (2, 9))
    empty = torch.zeros(2, 2, 2, 0, 8)
    with torch.no_grad():
        first, keys, values = model.forward_past(ids[:, :5], empty, empty)
        rest, keys, values = model.forward_past(ids[:, 5:], keys, values)
        assert torch.allclose(torch.cat([first, rest], dim=1), model.logits(ids), atol=1e-5)
        assert keys.shape == (2, 2, 2, 9, 8)


def test_errors(tmp_path, monkeypatch):
    with pytest.raises(BadInputError, match="cannot be exported") as e:
        export_onnx(build("text/char-rnn", vocab_size=20, n_layer=1, hidden_size=8, n_embd=8), tmp_path)
    assert "GPT" in e.value.hint
    with pytest.raises(BadInputError, match="searchsorted"):
        export_onnx(build("image/gmm", image_size=16), tmp_path)
    model = build("image/cgan", **CGAN)
    with pytest.raises(BadInputError, match="unknown graph"):
        export_onnx(model, tmp_path, graphs=["encoder"])
    with pytest.raises(BadInputError, match="folder"):
        export_onnx(model, tmp_path / "model.onnx")
    with pytest.raises(BadInputError, match="opset"):
        export_onnx(model, tmp_path, opset=3)
    graphs = model.export_graphs()
    graphs["decoder"].tolerance = -1.0  # nothing can pass: the failure path
    monkeypatch.setattr(model, "export_graphs", lambda: graphs)
    with pytest.raises(GenlabError, match="differs from PyTorch"):
        export_onnx(model, tmp_path / "strict")
    assert (tmp_path / "strict" / "decoder.onnx").is_file()  # kept for inspection, with the figures
    assert json.loads((tmp_path / "strict" / "export.json").read_text())["graphs"]["decoder"]["max_abs_diff"] < 1e-4


def test_cli_and_api(tmp_path, capsys):
    import genlab
    from tests.cli_helpers import cli_ok

    model = build("image/cgan", **CGAN)
    model.save_pretrained(tmp_path / "run" / "model")
    code, output = cli_ok(["export", str(tmp_path / "run"), "--out", str(tmp_path / "onnx")], capsys)
    assert code == 0, output
    assert "decoder" in output and "parity: max |diff|" in output
    assert (tmp_path / "onnx" / "decoder.onnx").is_file() and (tmp_path / "onnx" / "export.json").is_file()
    with pytest.raises(BadInputError, match="format"):
        genlab.export(tmp_path / "run", tmp_path / "x", format="tflite")
