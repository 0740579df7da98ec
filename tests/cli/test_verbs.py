"""Every inference verb on a run of every task: it works, or names the verbs that fit (exit 2); no internal error."""

import pytest

from genlab.core.registry import PIPELINES, TASKS
from tests.cli_helpers import cli_ok

ENGLISH = "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n" * 8


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny finished run per task: a VAE (image-generation), a LeNet (image-classification), a
    character n-gram (text-generation) and a Gaussian copula (tabular-synthesis)."""
    import genlab

    root = tmp_path_factory.mktemp("runs")
    text = root / "romeo.txt"
    text.write_text(ENGLISH)
    image = genlab.train(
        "image-generation", "vae", "builtin:digits", "v", max_steps=3, runs_dir=root, progress=False,
        data_options={"image_size": 8, "max_images": 64}, model_options={"latent_dim": 2, "hidden_dims": [8]},
    )  # fmt: skip
    classifier = genlab.train(
        "image-classification", "lenet-classifier", "builtin:digits", "c", max_steps=3, runs_dir=root,
        progress=False, data_options={"image_size": 16},
    )  # fmt: skip
    ngram = genlab.train(
        "text-generation", "ngram", str(text), "t", runs_dir=root, progress=False,
        data_options={"tokenizer": "char", "block_size": 16}, model_options={"order": 3},
    )  # fmt: skip
    table = genlab.train("tabular-synthesis", "copula", "builtin:diabetes", "tab", runs_dir=root, progress=False)
    return {
        "tabular-synthesis": table.run.path,
        "image-generation": image.run.path,
        "image-classification": classifier.run.path,
        "text-generation": ngram.run.path,
    }


VERB_ARGS = {
    "sample": ["--n", "2"],
    "reconstruct": ["--data", "builtin:digits", "--n", "2"],
    "inpaint": ["--image", "{png}", "--mask", "bottom", "--n", "1", "--steps", "2"],
    "img2img": ["--image", "{png}", "--n", "1", "--steps", "2"],
    "generate": ["--max-new-tokens", "5", "--seed", "0"],
    "poem": ["--seed", "0"],
    "classify": ["--image", "{png}"],
    "upscale": ["{png}"],
    "denoise": ["{png}"],
    "inpaint-image": ["{png}", "{png}"],
    "translate": ["{png}"],
    "stylize": ["{png}", "{png}"],
    "voice": ["{png}"],
    "denoise-audio": ["{png}"],
    "summarize": ["{png}"],
    "vocode": ["{png}"],
    "report": ["--real", "{png}"],
    "anonymize": ["{png}", "--quasi", "age"],
    "transform": ["12"],
    "respond": ["hello there"],
    "optimize": ["--budget", "6", "--n-init", "3", "--batch-size", "3", "--quiet"],
    "classify-nodes": [],
    "compose": ["--bars", "1", "--seed", "0"],
    "render": ["{png}"],
    "draw": ["--n", "1", "--seed", "0"],
    "explain": ["--image", "{png}"],
    "augment": ["--per-class", "2"],
    "benchmark-augmentation": ["--data", "builtin:digits", "--real-per-class", "2", "--seeds", "1", "--steps", "2"],
    "detect": ["{png}", "--threshold", "0.5"],
    "score": ["{png}", "--threshold", "1"],
    "transcribe": ["{png}"],
    "speak": ["Hello there."],
    "exercises": ["--topic", "vocabulary", "--n", "2", "--seed", "0", "--model-tokens", "300"],
}
OUT_NAMES = {
    "image-generation": "out.png", "image-classification": "out.csv", "text-generation": "out.txt",
    "tabular-synthesis": "out.csv",
}  # fmt: skip


def test_every_verb_has_arguments_here():
    assert {cls.verb for _, cls in PIPELINES.items()} <= set(VERB_ARGS)


@pytest.mark.parametrize("verb", sorted(VERB_ARGS))
@pytest.mark.parametrize("task", ["image-generation", "image-classification", "text-generation", "tabular-synthesis"])
def test_verb_on_run_of_task(verb, task, runs, tmp_path, capsys):
    from PIL import Image

    png = tmp_path / "in.png"
    Image.new("L", (8, 8), 128).save(png)
    args = [a.replace("{png}", str(png)) for a in VERB_ARGS[verb]]
    out_path = tmp_path / OUT_NAMES[task]
    code, out = cli_ok([verb, str(runs[task]), *args, "--out", str(out_path)], capsys)
    assert "internal error" not in out
    fits = [cls for _, cls in PIPELINES.items() if cls.verb == verb and cls.task == task]
    if not fits:  # a verb of another task: the hint names the verbs of this run's task
        assert code == 2 and f"{task} model" in out, out
        own = {cls.verb for _, cls in PIPELINES.items() if cls.task == task}
        assert any(f"genlab {v}" in out for v in own), out
    elif code == 0:
        assert out_path.exists()
    else:  # the verb belongs to the task but not to this model (inpaint on a VAE, poem on English)
        assert code == 2 and "hint:" in out, out


def test_help_of_a_verb_lists_the_pipeline_options(runs, capsys):
    code, out = cli_ok(["sample", str(runs["image-generation"]), "--help"], capsys)
    assert code == 0 and "--interpolate" in out and "--guidance" in out and "<bool>" not in out
    code, out = cli_ok(["generate", str(runs["text-generation"]), "--help"], capsys)
    assert code == 0 and "--top-p" in out and "--beam" in out


def test_train_help_lists_task_options(capsys):
    for name in TASKS.names():
        code, out = cli_ok(["train", name, "--help"], capsys)
        assert code == 0 and "--max-minutes" in out
        for flag in TASKS.get(name).cli_options:
            assert flag in out


def test_top_p_out_of_range_is_a_clear_error(runs, capsys):
    code, out = cli_ok(["generate", str(runs["text-generation"]), "--top-p", "1.5"], capsys)
    assert code == 2 and "top_p" in out and "internal error" not in out


def test_every_option_of_every_command_has_help_text():
    import click
    import typer

    from genlab.cli.evaluate import eval_command
    from genlab.cli.infer import pipeline_command
    from genlab.cli.main import app
    from genlab.cli.train import task_command

    group = typer.main.get_command(app)
    ctx = click.Context(group)
    commands = [group.get_command(ctx, name) for name in ("models", "runs", "info")]
    commands += [pipeline_command(cls, None) for _, cls in PIPELINES.items()]
    commands += [task_command(None), *(task_command(t) for _, t in TASKS.items())]
    commands += [eval_command(None), *(eval_command(t) for _, t in TASKS.items())]
    for command in commands:
        for param in command.params:
            if isinstance(param, click.Option):
                assert (param.help or "").strip(), f"{command.name} {param.opts} has no help text"


def test_user_mistakes_get_an_error_and_a_hint(runs, tmp_path, capsys):
    image, text = str(runs["image-generation"]), str(runs["text-generation"])
    for args, expected in [
        (["sample", image, "--out", "/proc/no-such-dir/grid.png"], "cannot write"),
        (["generate", text, "--n", "0"], "generate.n"),
        (["sample", image, "--n", "-3"], "sample.n"),
        (["poem", text, "--form", "sonnet"], "sonnet"),
    ]:
        code, out = cli_ok(args, capsys)
        assert code == 2 and expected in out and "internal error" not in out, out


def test_many_samples_are_drawn_in_bounded_batches(runs, monkeypatch):
    import torch

    import genlab

    pipe = genlab.load(runs["image-generation"])
    sizes = []
    generate = pipe.model.generate
    monkeypatch.setattr(pipe.model, "sample_batch_size", 4)
    monkeypatch.setattr(pipe.model, "generate", lambda n, **kw: sizes.append(n) or generate(n, **kw))
    images = pipe(n=10, seed=0, output_type="pt")
    assert images.shape[0] == 10 and sizes == [4, 4, 2]
    assert torch.equal(images, pipe(n=10, seed=0, output_type="pt"))  # still seeded


def test_runs_lists_every_run_when_one_metrics_file_is_unreadable(runs, tmp_path, capsys):
    import shutil

    root = tmp_path / "runs"
    shutil.copytree(runs["image-generation"].parents[1], root)
    (root / "image-generation" / "v" / "metrics.csv").write_bytes(b"\xff\xfe\x00garbage\x00" * 50)
    code, out = cli_ok(["runs", "--runs-dir", str(root)], capsys)
    assert code == 0 and "image-generation/v" in out and "text-generation/t" in out


def test_several_devices_pick_a_ddp_that_finds_unused_parameters():
    from lightning.pytorch.strategies import DDPStrategy

    from genlab.engine.config import TrainConfig
    from genlab.engine.trainer import _strategy

    assert _strategy(TrainConfig(devices=1)) == "auto"
    strategy = _strategy(TrainConfig(devices=2))
    assert isinstance(strategy, DDPStrategy) and strategy._ddp_kwargs.get("find_unused_parameters")


def test_a_verb_on_a_run_imports_only_that_runs_modality(runs, tmp_path):
    import subprocess
    import sys

    args = ["sample", str(runs["image-generation"]), "--n", "2", "--out", str(tmp_path / "g.png")]
    code = (
        "import sys\nfrom genlab.cli.main import main\n"
        f"try:\n    main({args!r})\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print(sorted(m for m in ('genlab.image', 'genlab.text') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "['genlab.image']"
