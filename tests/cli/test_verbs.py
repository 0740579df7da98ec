"""Every inference verb on a run of every task: it works, or names the verbs that fit (exit 2); no internal error."""

import pytest

from genlab.core.registry import PIPELINES, TASKS
from tests.cli_helpers import cli_ok

ENGLISH = "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n" * 8


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny finished run per task: a VAE (image-generation), a LeNet (image-classification) and a
    character n-gram (text-generation)."""
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
    return {
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
}
OUT_NAMES = {"image-generation": "out.png", "image-classification": "out.csv", "text-generation": "out.txt"}


def test_every_verb_has_arguments_here():
    assert {cls.verb for _, cls in PIPELINES.items()} <= set(VERB_ARGS)


@pytest.mark.parametrize("verb", sorted(VERB_ARGS))
@pytest.mark.parametrize("task", ["image-generation", "image-classification", "text-generation"])
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
