"""CLI behaviour: commands work end to end and bad input gives `error:`/`hint:` with exit 2."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from genlab.cli.main import main
from tests.cli_helpers import cli_ok

TINY = ["--set", "data.image_size=8", "--set", "data.max_images=128", "--no-progress"]
VAE = ["--set", "model.latent_dim=2", "--set", "model.hidden_dims=[16]"]


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    out = capsys.readouterr()
    return (e.value.code or 0), out.out + out.err


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    code = subprocess.call(
        [sys.executable, "-m", "genlab", "train", "image-generation", "--model", "vae", "--data", "builtin:digits",
         "--name", "v", "--max-steps", "5", "--runs-dir", str(runs), *TINY, *VAE],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    assert code == 0
    return runs / "image-generation" / "v"


def test_models_lists_registered(capsys):
    code, out = cli_ok(["models"], capsys)
    assert code == 0 and "dcgan" in out and "cvae" in out and "wgan-gp" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["info"], "Missing argument"),
        (["models", "--bogus"], "No such option: --bogus"),
        (["runs", "--nope"], "--nope"),
    ],
)
def test_usage_errors_of_fixed_commands_are_explained_not_internal(args, expected, capsys):
    code, out = cli_ok(args, capsys)
    assert code == 2 and expected in out and "internal error" not in out and f"genlab {args[0]} --help" in out


def test_sample_and_info_and_runs(vae_run, tmp_path, capsys):
    out_png = tmp_path / "grid.png"
    code, out = cli_ok(["sample", str(vae_run), "--n", "4", "--seed", "0", "--out", str(out_png)], capsys)
    assert code == 0 and out_png.is_file()
    code, _ = cli_ok(["sample", str(vae_run), "--interpolate", "--n", "5", "--out", str(tmp_path / "w.png")], capsys)
    assert code == 0 and Image.open(tmp_path / "w.png").size[0] > Image.open(out_png).size[0]
    code, out = cli_ok(["info", str(vae_run)], capsys)
    assert code == 0 and "config.yaml" in out and "completed" in out
    code, out = cli_ok(["runs", "--runs-dir", str(vae_run.parents[1])], capsys)
    assert code == 0 and "image-generation/v" in out
    code, out = cli_ok(
        ["reconstruct", str(vae_run), "--data", "builtin:digits", "--n", "4", "--out", str(tmp_path / "r.png")], capsys
    )
    assert code == 0 and (tmp_path / "r.png").is_file()


def test_label_on_unconditional_model(vae_run, capsys):
    code, out = run_cli(["sample", str(vae_run), "--label", "3"], capsys)
    assert code == 2 and "error:" in out and "unconditional" in out and "hint:" in out


@pytest.mark.parametrize(
    "args, expected",
    [
        (["train", "image-generation", "--model", "dcgna", "--data", "builtin:digits"], "did you mean 'dcgan'"),
        (["train", "image-generaton"], "did you mean 'image-generation'"),
        (["train", "image-generation", "--data", "builtin:mnist5k"], "builtin:mnist-5k"),
        (["train", "image-generation", "--model", "vae", "--set", "model.latent_dims=3"], "latent_dim"),
        (["train", "image-generation", "--model", "vae", "--set", "train.batchsize=3"], "batch_size"),
        (["train", "image-generation", "--model", "vae", "--imagesize", "3"], "--image-size"),
        (["train", "image-generation", "--model", "cgan", "--data", "{unlabelled}"], "no labels"),
    ],
)
def test_unknown_names_and_keys(args, expected, capsys, tmp_path, runs_dir):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        Image.new("L", (8, 8), color=i * 40).save(folder / f"{i}.png")
    args = [a.replace("{unlabelled}", str(folder)) for a in args]
    code, out = run_cli([*args, "--max-steps", "1", "--no-progress"] if args[0] == "train" else args, capsys)
    assert code == 2, out
    assert "error:" in out and expected in out


def test_missing_empty_and_imageless_data(tmp_path, capsys, runs_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_text("hello")
    for path in [tmp_path / "nope", empty, texts]:
        code, out = run_cli(["train", "image-generation", "--data", str(path), "--max-steps", "1"], capsys)
        assert code == 2 and "error:" in out and "hint:" in out, out


def test_corrupt_images_skipped_and_reported(tmp_path, capsys, runs_dir):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(20):
        Image.new("L", (8, 8), color=(i * 13) % 255).save(folder / f"{i}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    code, out = cli_ok(["train", "image-generation", "--model", "vae", "--data", str(folder), "--name", "c",
                        "--max-steps", "2", "--batch-size", "4", *TINY, *VAE], capsys)  # fmt: skip
    assert code == 0, out
    assert "skipped 1 unreadable" in out
    assert out.index("skipped 1") < out.index("done")


def test_not_a_model_and_tampered(tmp_path, vae_run, capsys):
    code, out = run_cli(["sample", str(tmp_path)], capsys)
    assert code == 2 and "not a genlab" in out
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(vae_run / "model", copy)
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-2] ^= 0x55
    (copy / "model.safetensors").write_bytes(bytes(data))
    code, out = run_cli(["sample", str(copy)], capsys)
    assert code == 2 and "sha256" in out


def _genlab(args, runs, **kw):
    env = {**os.environ, "GENLAB_RUNS_DIR": str(runs)}
    # A test runner started in the background may inherit SIGINT as ignored; restore the default in
    # the child so that Python turns SIGINT into KeyboardInterrupt as it does in a terminal.
    restore_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    return subprocess.Popen([sys.executable, "-m", "genlab", *args], env=env, preexec_fn=restore_sigint, **kw)


def test_sigint_saves_checkpoint_and_resumes(tmp_path):
    runs = tmp_path / "runs"
    args = ["train", "image-generation", "--model", "vae", "--data", "builtin:digits", "--name", "int",
            "--max-minutes", "0.25", "--set", "train.checkpoint_every=100000", *TINY, *VAE]  # fmt: skip
    run = runs / "image-generation" / "int"
    proc = _genlab(args, runs, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while not (run / "metrics.csv").is_file() or (run / "metrics.csv").stat().st_size < 200:
        assert time.time() < deadline and proc.poll() is None, proc.stdout.read() if proc.poll() is not None else ""
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert (run / "checkpoints" / "last.ckpt").is_file(), out
    assert "resume" in out
    import json

    first = json.loads((run / "status.json").read_text())
    assert first["status"] == "interrupted" and first["step"] > 0
    proc = _genlab(args, runs, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, out
    assert "resuming" in out
    second = json.loads((run / "status.json").read_text())
    assert second["status"] == "completed" and second["step"] > first["step"]


@pytest.mark.slow
def test_ddp_two_processes_on_cpu(tmp_path):
    runs = tmp_path / "runs"
    args = ["train", "image-generation", "--model", "dcgan", "--data", "builtin:digits", "--name", "ddp", "--devices",
            "2", "--strategy", "ddp", "--max-steps", "4", "--device", "cpu", "--batch-size", "8", *TINY]  # fmt: skip
    proc = _genlab(args, runs, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    run = Path(runs) / "image-generation" / "ddp"
    import json

    assert json.loads((run / "status.json").read_text()) | {} and (run / "model" / "model.safetensors").is_file()
    assert json.loads((run / "status.json").read_text())["status"] == "completed"


@pytest.mark.slow
def test_torchrun_launch_as_documented_for_several_machines(tmp_path):
    """The multi-node recipe of docs/scale-out.md on one machine: torchrun starts the processes and the engine
    joins them (Lightning reads torchrun's environment) instead of starting its own."""
    from tests.processes import free_port

    runs = tmp_path / "runs"
    launch = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
              "--master-addr", "127.0.0.1", "--master-port", str(free_port()), "-m", "genlab"]  # fmt: skip
    args = ["train", "image-generation", "--model", "dcgan", "--data", "builtin:digits", "--name", "tr", "--devices",
            "2", "--num-nodes", "1", "--strategy", "ddp", "--max-steps", "3", "--device", "cpu", "--batch-size", "8",
            *TINY]  # fmt: skip
    env = {**os.environ, "GENLAB_RUNS_DIR": str(runs), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([*launch, *args], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import json

    status = json.loads((runs / "image-generation" / "tr" / "status.json").read_text())
    assert status["status"] == "completed" and status["step"] == 3


def test_bf16_training_is_refused_on_a_cpu_without_bf16_instructions(runs_dir, capsys, monkeypatch):
    import genlab.core.devices as devices

    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: False)
    args = ["train", "image-generation", "--model", "vae", "--data", "builtin:digits", "--name", "bf"]
    code, out = cli_ok([*args, "--precision", "bf16-mixed", "--device", "cpu", "--max-steps", "1", *TINY, *VAE], capsys)
    assert code == 2 and "no bfloat16 instructions" in out and "--precision 32" in out
    assert not (runs_dir / "image-generation" / "bf").exists()  # refused before anything is written


def test_data_dir_that_looks_like_a_number_stays_a_folder_name(runs_dir, capsys):
    import yaml

    args = ["train", "image-generation", "--model", "vae", "--data", "builtin:digits", "--name", "d"]
    code, out = cli_ok([*args, "--data-dir", "2024", "--max-steps", "1", *TINY, *VAE], capsys)
    assert code == 0, out
    config = yaml.safe_load((runs_dir / "image-generation" / "d" / "config.yaml").read_text())
    assert config["data"]["data_dir"] == "2024"
