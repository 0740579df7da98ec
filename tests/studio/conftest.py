"""Studio test fixtures: a runs folder with an untrained model and a hand-written run, built cheaply."""

from __future__ import annotations

import json
import os

import pytest

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # never reach the network
os.environ.setdefault("GRADIO_TEMP_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"), "genlab-studio-tests"))


def save_untrained(build_name: str, folder, **config):
    """``save_pretrained`` of ``build_name`` built from ``config`` (no training)."""
    from genlab.core.registry import MODELS

    cls = MODELS.get(build_name)
    model = cls(cls.config_class.build(config, where=build_name))
    model.save_pretrained(folder)
    return folder


def write_run(run_dir, config: dict, losses: list[float], metrics: dict | None = None) -> None:
    """A finished run's files written by hand: config.yaml, status.json, metrics.csv, a loss plot, a sample and
    eval.json."""
    import yaml
    from PIL import Image

    for sub in ("plots", "samples", "checkpoints"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (run_dir / "status.json").write_text(json.dumps({"status": "completed", "step": len(losses)}), encoding="utf-8")
    rows = "\n".join(f"{i + 1},{loss}" for i, loss in enumerate(losses))
    (run_dir / "metrics.csv").write_text(f"step,train/loss\n{rows}\n", encoding="utf-8")
    Image.new("RGB", (32, 24), "white").save(run_dir / "plots" / "loss.png")
    Image.new("RGB", (16, 16), "gray").save(run_dir / "samples" / "step-000010.png")
    if metrics is not None:
        (run_dir / "eval.json").write_text(json.dumps({"metrics": metrics}), encoding="utf-8")


@pytest.fixture(scope="session")
def studio_runs(tmp_path_factory):
    """runs/image-generation/digits: an untrained tiny cGAN (a full run: config, metrics, plot, sample, eval);
    runs/image-generation/other: a second run with another config; runs/denoising/clean/model: an untrained
    DnCNN (a model folder only)."""
    root = tmp_path_factory.mktemp("studio") / "runs"
    digits = root / "image-generation" / "digits"
    save_untrained("image/cgan", digits / "model", image_size=16, num_classes=10, latent_dim=8, g_width=8,
                   d_width=8)  # fmt: skip
    base = {"task": "image-generation", "data": {"source": "builtin:digits"}, "model": {"name": "cgan"},
            "train": {"max_steps": 10, "lr": 0.0002}}  # fmt: skip
    write_run(digits, base, [1.5, 1.2, 0.9], {"fid": 123.4})
    other = root / "image-generation" / "other"
    write_run(other, {**base, "train": {"max_steps": 20, "lr": 0.001}}, [1.4, 1.0], {"fid": 99.0, "kid": 0.1})
    save_untrained("image/dncnn", root / "denoising" / "clean" / "model", depth=2, width=4)
    return root
