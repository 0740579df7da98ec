"""``backend="onnx"``: a loaded model's decoder or denoiser runs in onnxruntime (exported once per weights, cached),
the samples match PyTorch's, and the loaded model itself is left as it was."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("onnxscript", reason="the export extra (onnxscript) is not installed")
pytest.importorskip("onnxruntime", reason="the export extra (onnxruntime) is not installed")

import genlab  # noqa: E402
from genlab.core.errors import BadInputError  # noqa: E402
from genlab.exporters import onnx_twin  # noqa: E402
from tests.export.test_onnx import CGAN, build, jitter  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def saved(model, folder):
    model.save_pretrained(folder)
    return genlab.load(folder)


def test_gan_samples_match_and_the_export_is_cached(tmp_path, cache):
    pipe = saved(build("image/cgan", **CGAN), tmp_path / "run" / "model")
    want = pipe(n=6, label=[0, 1, 2, 3, 4, 5], seed=3, output_type="pt")
    got = pipe(n=6, label=[0, 1, 2, 3, 4, 5], seed=3, output_type="pt", backend="onnx")
    assert got.shape == want.shape and (got - want).abs().max() < 1e-4
    (folder,) = (cache / "onnx").iterdir()
    stamp = (folder / "export.json").stat().st_mtime_ns
    again = genlab.load(tmp_path / "run" / "model")  # a new pipeline over the same weights reuses the files
    assert (
        again(n=2, seed=0, output_type="pt", backend="onnx") - again(n=2, seed=0, output_type="pt")
    ).abs().max() < 1e-4
    assert (folder / "export.json").stat().st_mtime_ns == stamp
    assert type(pipe.model).decode is type(pipe.model).decode and "decode" not in vars(pipe.model)  # untouched


def test_diffusion_sampler_loop_drives_the_exported_denoiser(tmp_path):
    ddpm = jitter(build("image/ddpm", image_size=16, conditional=True, num_classes=3, base_channels=8,
                        channel_mult=[1, 2], attention_levels=[]))  # fmt: skip
    pipe = saved(ddpm, tmp_path / "ddpm")
    options = {"n": 3, "label": 1, "seed": 0, "sampler": "ddim", "steps": 4, "guidance_scale": 2.0}
    want = pipe(output_type="pt", **options)
    got = pipe(output_type="pt", backend="onnx", **options)
    assert (got - want).abs().max() < 1e-3
    assert isinstance(pipe.model.unet, torch.nn.Module) and type(pipe.model.unet).__name__ == "UNet"


def test_a_model_never_saved_is_refused():
    with pytest.raises(BadInputError, match="loaded from disk"):
        onnx_twin(build("image/cgan", **CGAN))
