"""genlab distill: tiny teachers (DCGAN, GPT, DDPM) distilled a few steps into normal student runs that load,
sample, resume and carry a report; the losses of every method go down on a fixed batch; bad input is refused."""

from __future__ import annotations

import json

import pytest
import torch

import genlab
from genlab.compress.distill import DistillConfig, distill, method_for, student_class
from genlab.core.errors import BadInputError, CheckpointError, ConfigError
from genlab.core.model import GenerativeModel
from genlab.engine.module import make_optimizer
from tests.cli_helpers import cli_ok

IMAGES = ["data.image_size=8", "data.max_images=256"]
GAN = [*IMAGES, "model.g_width=16", "model.d_width=8", "model.latent_dim=8"]
GPT = ["data.block_size=32", "data.max_chars=20000", "model.n_layer=2", "model.n_embd=32", "model.n_head=2"]
DDPM = [*IMAGES, "model.base_channels=8", "model.channel_mult=[1,2]", "model.attention_levels=[]",
        "model.num_timesteps=100", "model.sample_steps=8"]  # fmt: skip
QUIET = {"threads": 1, "progress": False}
REPORT_KEYS = {"size_mb", "size_ratio", "latency_ms", "latency_of", "threads", "speedup", "quality"}


def _teacher(root, task, model, data, name, overrides, steps=20):
    result = genlab.train(task, model, data, name, runs_dir=root, max_steps=steps, overrides=overrides,
                          batch_size=32, **QUIET)  # fmt: skip
    assert result.status == "completed"
    return result.run.path


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {
        "dcgan": _teacher(root, "image-generation", "dcgan", "builtin:digits", "gan", GAN),
        "cgan": _teacher(root, "image-generation", "cgan", "builtin:digits", "cgan", GAN, steps=5),
        "gpt": _teacher(root, "text-generation", "gpt", "builtin:tinyshakespeare", "gpt", GPT, steps=30),
        "ddpm": _teacher(root, "image-generation", "ddpm", "builtin:digits", "ddpm", DDPM),
    }


def _report(run) -> dict:
    record = json.loads((run.path / "distillation.json").read_text())
    assert set(record["report"]) >= REPORT_KEYS and record["report"]["threads"] == 1
    return record


def test_gan_generator_student_is_a_normal_smaller_run(teachers, tmp_path):
    result = distill(teachers["dcgan"], {"g_width": 4}, runs_dir=tmp_path, max_steps=15, options={"eval_n": 64},
                     **QUIET)  # fmt: skip
    assert result.status == "completed" and result.steps == 15
    run = result.run
    assert run.path == tmp_path / "image-generation" / "gan-distilled"
    for name in ("config.yaml", "metrics.csv", "status.json", "samples/final.png", "model/model.safetensors"):
        assert (run.path / name).is_file(), name
    student = GenerativeModel.from_pretrained(run.model_dir)
    assert student.registry_name == "image/dcgan" and student.config.g_width == 4
    assert student.provenance.raw["distillation"]["method"] == "gan-generator"
    images = student.generate(5, generator=torch.Generator().manual_seed(0))
    assert images.shape == (5, 1, 8, 8) and images.min() >= -1 and images.max() <= 1
    assert genlab.load(run.path)(n=2, seed=0, output_type="pt").shape == (2, 1, 8, 8)
    record = _report(run)
    r = record["report"]
    assert record["method"] == "gan-generator" and record["student"]["config"]["g_width"] == 4
    assert r["size_mb"]["student"] < r["size_mb"]["teacher"] and r["size_ratio"] < 1
    assert r["quality"]["metric"] == "fid" and r["quality"]["teacher"] > 0 and r["quality"]["student"] > 0
    assert r["quality"]["protocol"]["n_generated"] == 64
    header = (run.path / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"l1", "val_l1"} <= set(header)


def test_gpt_student_learns_soft_targets_and_reports_val_loss(teachers, tmp_path):
    result = distill(teachers["gpt"], {"n_layer": 1, "n_embd": 16}, runs_dir=tmp_path, name="small",
                     max_steps=12, overrides=["distill.temperature=3", "train.log_every=4"], **QUIET)  # fmt: skip
    assert result.status == "completed"
    student = GenerativeModel.from_pretrained(result.run.model_dir)
    teacher = GenerativeModel.from_pretrained(teachers["gpt"] / "model")
    assert (student.config.n_layer, student.config.n_embd) == (1, 16)
    assert student.config.tokenizer == teacher.config.tokenizer
    text = genlab.load(result.run.path)(max_new_tokens=8, seed=0)[0]
    assert isinstance(text, str) and text
    record = _report(result.run)
    r = record["report"]
    assert record["options"]["temperature"] == 3
    assert r["quality"]["metric"] == "val_loss" and set(r["quality"]["others"]["student"]) == {"perplexity"}
    assert r["size_mb"]["student"] < r["size_mb"]["teacher"]
    assert "one-token" in r["latency_of"]
    header = (result.run.path / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"kd", "ce", "val_loss", "val_kd"} <= set(header)


def test_ddpm_progressive_round_records_the_student_steps(teachers, tmp_path):
    result = distill(teachers["ddpm"], steps=4, runs_dir=tmp_path, max_steps=6, options={"eval_n": 64}, **QUIET)
    assert result.status == "completed"
    student = GenerativeModel.from_pretrained(result.run.model_dir)
    c = student.config
    assert (c.sample_steps, c.sampler, c.eta) == (4, "ddim", 0.0)
    images = student.generate(3, generator=torch.Generator().manual_seed(0))
    assert images.shape == (3, 1, 8, 8) and images.abs().max() <= 1
    record = _report(result.run)
    assert record["sampling_steps"] == {"teacher": 8, "student": 4}
    assert [(r["teacher_steps"], r["student_steps"]) for r in record["rounds"]] == [(8, 4)]
    assert record["report"]["size_ratio"] == 1.0 and record["report"]["quality"]["metric"] == "fid"
    assert "(4 for this one)" in record["report"]["latency_of"]


def test_ddpm_two_rounds_train_the_first_in_the_run_and_skip_it_on_resume(teachers, tmp_path):
    result = distill(teachers["ddpm"], steps=2, runs_dir=tmp_path, max_steps=3, options={"eval_n": 0}, **QUIET)
    first = result.run.path / "rounds" / "image-generation" / "4-steps"
    assert result.status == "completed" and (first / "model" / "config.json").is_file()
    assert GenerativeModel.from_pretrained(first / "model").config.sample_steps == 4
    assert GenerativeModel.from_pretrained(result.run.model_dir).config.sample_steps == 2
    record = _report(result.run)
    assert [r["student_steps"] for r in record["rounds"]] == [4, 2] and record["report"]["quality"] is None
    stamp = (first / "model" / "model.safetensors").stat().st_mtime_ns
    again = distill(teachers["ddpm"], steps=2, runs_dir=tmp_path, max_steps=3, options={"eval_n": 0}, **QUIET)
    assert again.status == "completed" and (first / "model" / "model.safetensors").stat().st_mtime_ns == stamp


def test_resume_continues_the_student(teachers, tmp_path):
    common = {"runs_dir": tmp_path, "name": "r", "options": {"eval_n": 0}, **QUIET}
    first = distill(teachers["dcgan"], {"g_width": 4}, max_steps=6, overrides=["train.checkpoint_every=3"], **common)
    assert first.steps == 6
    second = distill(teachers["dcgan"], {"g_width": 4}, max_steps=10, overrides=["train.checkpoint_every=3"], **common)
    assert second.status == "completed" and second.steps == 10
    steps = [int(line.split(",")[0]) for line in (second.run.path / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(steps) and steps[-1] == 10
    with pytest.raises(BadInputError, match="other settings: g_width"):
        distill(teachers["dcgan"], {"g_width": 8}, max_steps=12, **common)


def _fixed_batch_losses(teacher_dir, method_options: dict, batch, group: str, steps: int = 25) -> tuple[float, float]:
    """The method's loss on ``batch`` (same random draws each time) before and after ``steps`` Adam steps."""
    teacher = GenerativeModel.from_pretrained(teacher_dir / "model")
    method = method_for(teacher.registry_name)
    options = DistillConfig.build(method_options)
    config = type(teacher).config_class.build(method.student_values(teacher, teacher.config.to_dict(), options))
    cls = student_class(teacher, method, options, teacher_dir, **({"student_steps": 4} if options.steps else {}))
    student = cls(config)
    if options.steps is None:  # a fresh student (GAN, GPT)
        student = cls(type(teacher).config_class.build({**config.to_dict(), **_SMALLER[teacher.registry_name]}))
    else:  # a diffusion student starts as its teacher: move it away, or there is nothing to learn
        with torch.no_grad():
            for p in student.unet.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    optimizer = make_optimizer(student.optimizer_groups()[0])

    def loss() -> torch.Tensor:
        torch.manual_seed(0)
        return student.training_losses(batch, group)["loss"]

    before = float(loss().detach())
    for _ in range(steps):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    return before, float(loss().detach())


_SMALLER = {"image/dcgan": {"g_width": 4}, "image/cgan": {"g_width": 4}, "text/gpt": {"n_layer": 1, "n_embd": 16}}


@pytest.mark.parametrize("name", ["dcgan", "cgan"])
def test_generator_loss_goes_down(teachers, name):
    batch = (torch.zeros(16, 1, 8, 8), torch.zeros(16, dtype=torch.long))
    before, after = _fixed_batch_losses(teachers[name], {"feature_weight": 0.1}, batch, "generator")
    assert after < 0.8 * before


def test_soft_target_loss_goes_down(teachers):
    ids = torch.randint(0, 30, (8, 33), generator=torch.Generator().manual_seed(0))
    before, after = _fixed_batch_losses(teachers["gpt"], {"alpha": 0.9}, ids, "model")
    assert after < 0.9 * before


def test_progressive_loss_goes_down(teachers):
    images = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    batch = (images, torch.zeros(16, dtype=torch.long))
    before, after = _fixed_batch_losses(teachers["ddpm"], {"steps": 4}, batch, "denoiser", steps=15)
    assert after < 0.8 * before


def test_student_checkpoints_hold_the_student_alone(teachers):
    teacher = GenerativeModel.from_pretrained(teachers["dcgan"] / "model")
    method = method_for("image/dcgan")
    cls = student_class(teacher, method, DistillConfig(), teachers["dcgan"])
    student = cls(type(teacher).config_class.build({**teacher.config.to_dict(), "g_width": 4}))
    assert type(student).__name__ == "DCGAN" and not any(k.startswith("teacher") for k in student.state_dict())
    assert all(not p.requires_grad for p in student.teacher.parameters())
    assert [s.name for s in student.optimizer_groups()] == ["generator"]


def test_bad_input_is_refused_with_a_hint(teachers, tmp_path):
    no_model = tmp_path / "runs" / "image-generation" / "empty"
    no_model.mkdir(parents=True)
    (no_model / "config.yaml").write_text("task: image-generation\nname: empty\n")
    with pytest.raises(CheckpointError, match="no exported model") as e:
        distill(no_model)
    assert "finish its training" in e.value.hint
    with pytest.raises(CheckpointError, match="not a training run"):
        distill(tmp_path)
    with pytest.raises(BadInputError, match="no distillation method for image/vae") as e:
        method_for("image/vae")
    assert "image/dcgan" in e.value.hint and "text/gpt" in e.value.hint and "image/ddpm" in e.value.hint
    with pytest.raises(ConfigError, match="unknown config key 'model.g_widht'") as e:
        distill(teachers["dcgan"], {"g_widht": 4}, runs_dir=tmp_path)
    assert "g_width" in e.value.hint
    with pytest.raises(ConfigError, match="latent_dim"):
        distill(teachers["dcgan"], {"latent_dim": 4}, runs_dir=tmp_path)
    with pytest.raises(ConfigError, match="unknown config key 'distill.alpah'"):
        distill(teachers["gpt"], overrides=["distill.alpah=0.1"], runs_dir=tmp_path)
    with pytest.raises(BadInputError, match="needs the student's sampling steps"):
        distill(teachers["ddpm"], runs_dir=tmp_path)
    with pytest.raises(BadInputError, match="cannot be reached by halving") as e:
        distill(teachers["ddpm"], steps=3, options={"teacher_steps": 8}, runs_dir=tmp_path)
    assert "4" in e.value.hint
    with pytest.raises(ConfigError, match="keeps its network sizes"):
        distill(teachers["ddpm"], {"base_channels": 4}, steps=4, runs_dir=tmp_path)
    with pytest.raises(ConfigError, match="must be its teacher's, image/dcgan"):
        distill(teachers["dcgan"], {"name": "wgan-gp"}, runs_dir=tmp_path)
    assert not (tmp_path / "image-generation").exists()  # nothing written by a refused call


def test_unsupported_teacher_names_the_supported_models(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 40)
    ngram = genlab.train("text-generation", "ngram", str(text), "ng", runs_dir=tmp_path, **QUIET)
    with pytest.raises(BadInputError, match="no distillation method for text/ngram") as e:
        distill(ngram.run.path)
    assert "text/gpt (soft-targets)" in e.value.hint


def test_cli_distills_and_prints_the_report(teachers, tmp_path, capsys):
    small = tmp_path / "small.yaml"
    small.write_text("g_width: 4\n")
    code, out = cli_ok(["distill", str(teachers["dcgan"]), "--student-config", str(small), "--runs-dir",
                        str(tmp_path), "--max-steps", "4", "--threads", "1", "--eval-n", "0", "--no-progress"],
                       capsys)  # fmt: skip
    assert code == 0, out
    assert "gan-generator distillation: size" in out and "distillation.json" in out
    code, out = cli_ok(["distill", str(teachers["ddpm"]), "--steps", "3", "--runs-dir", str(tmp_path),
                        "--set", "distill.teacher_steps=8"], capsys)  # fmt: skip
    assert code == 2 and "error:" in out and "hint:" in out
