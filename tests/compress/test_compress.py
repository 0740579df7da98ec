"""``genlab compress``: pruning masks, the fine-tune that keeps them, the new run and its report, ``train.init_from``,
and the documented errors."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import genlab
from genlab.compress.prune import MaskCallback, apply_masks, prune_masks, sparsity
from genlab.compress.run import compress
from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel
from tests.cli_helpers import cli_ok

TINY = {"image_size": 8, "max_images": 64}
GAN = {"latent_dim": 8, "g_width": 8, "d_width": 8}
GPT = {"n_layer": 1, "n_embd": 32, "n_head": 2}
TEXT = "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n" * 20


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    (root / "romeo.txt").write_text(TEXT)
    gan = genlab.train("image-generation", "dcgan", "builtin:digits", "gan", max_steps=4, runs_dir=root,
                       progress=False, data_options=TINY, model_options=GAN, threads=1)  # fmt: skip
    gpt = genlab.train("text-generation", "gpt", str(root / "romeo.txt"), "gpt", max_steps=4, runs_dir=root,
                       progress=False, data_options={"tokenizer": "char", "block_size": 16}, model_options=GPT,
                       threads=1)  # fmt: skip
    return {"gan": gan.run.path, "gpt": gpt.run.path}


def test_magnitude_masks_prune_the_smallest_weights_across_layers():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 10), nn.Linear(10, 4))
    masks = prune_masks(model, ["0", "1"], 0.5)
    kept = torch.cat([model[0].weight[masks["0.weight"]].abs(), model[1].weight[masks["1.weight"]].abs()])
    dropped = torch.cat([model[0].weight[~masks["0.weight"]].abs(), model[1].weight[~masks["1.weight"]].abs()])
    assert kept.min() > dropped.max() and abs(len(dropped) / (len(kept) + len(dropped)) - 0.5) < 0.01
    apply_masks(model, masks)
    assert sparsity(model, masks) == pytest.approx(0.5, abs=0.01)


def test_structured_masks_drop_whole_channels_and_keep_the_output_layer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ConvTranspose2d(8, 6, 3), nn.Conv2d(6, 1, 3))
    masks = prune_masks(model, ["0", "1", "2"], 0.5, "structured")
    assert set(masks) == {"0.weight", "0.bias", "1.weight", "1.bias"}  # the last layer is the output
    conv = masks["0.weight"].flatten(1)
    assert conv.all(1).sum() == 4 and (~conv).all(1).sum() == 4  # 4 of 8 filters, each whole
    deconv = masks["1.weight"].transpose(0, 1).flatten(1)  # ConvTranspose: output channels on axis 1
    assert deconv.all(1).sum() == 3 and (~deconv).all(1).sum() == 3
    assert torch.equal(masks["0.bias"], conv.all(1))


def test_mask_callback_holds_zeros_through_training_steps():
    torch.manual_seed(0)
    model = nn.Linear(6, 6)
    masks = {"weight": torch.rand(6, 6) > 0.5}
    holder = type("M", (), {"model": model})()
    cb = MaskCallback(masks)
    cb.on_train_start(None, holder)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        model(torch.randn(4, 6)).pow(2).sum().backward()
        opt.step()
        cb.on_train_batch_end(None, holder, None, None, 0)
    assert (model.weight[~masks["weight"]] == 0).all() and (model.weight[masks["weight"]] != 0).all()


def test_pruning_fine_tunes_into_a_normal_run_that_keeps_its_zeros(runs):
    result = compress(runs["gan"], prune=0.5, finetune_steps=3, metrics=["fid"], eval_n=64, repeats=2)
    run = result.run.path
    assert run.name == "gan-pruned50" and run.parent == runs["gan"].parent
    report = json.loads((run / "compression.json").read_text())
    assert report["method"] == "prune-0.5" and report["prune"]["sparsity"] >= 0.49
    assert report["prune"]["finetune_steps"] == 3 and json.loads((run / "status.json").read_text())["step"] == 3
    assert {"original_size_mb", "size_mb", "zip_mb", "graphs", "quality"} <= set(report)
    assert report["zip_mb"] < report["original_zip_mb"]  # zeros compress
    (graph,) = report["graphs"]
    assert graph["graph"] == "decoder" and graph["latency_ms"] > 0 and graph["max_abs_diff"] > 0
    assert set(report["quality"]["fid"]) == {"original", "compressed", "relative_change"}
    model = GenerativeModel.from_pretrained(run / "model")
    weights = [model.get_submodule(n).weight for n in ("generator.project", "generator.ups.0")]
    assert sum(int((w == 0).sum()) for w in weights) > 0.3 * sum(w.numel() for w in weights)
    assert not (run / "pruned-start").exists()
    images = genlab.load(run)(n=2, seed=0, output_type="pt")
    assert images.shape[0] == 2 and images.min() >= -1 and images.max() <= 1


def test_int8_dynamic_gpt_through_the_cli_and_refusals(runs, capsys):
    code, out = cli_ok(["compress", str(runs["gpt"]), "--quantize", "int8-dynamic", "--metric", "perplexity",
                        "--eval-n", "32"], capsys)  # fmt: skip
    assert code == 0, out
    assert "int8-dynamic" in out and "decoder_step" in out and "perplexity" in out
    run = runs["gpt"].parent / "gpt-int8dynamic"
    report = json.loads((run / "compression.json").read_text())
    assert report["quality"]["perplexity"]["relative_change"] is not None
    assert genlab.load(run)(prompt="RO", max_new_tokens=5, seed=0)
    code, out = cli_ok(["compress", str(runs["gpt"]), "--quantize", "int8-dynamic"], capsys)
    assert code == 2 and "exists already" in out  # nothing is overwritten
    code, out = cli_ok(["compress", str(run), "--quantize", "int8-dynamic", "--out", "again"], capsys)
    assert code == 2 and "already int8" in out
    code, out = cli_ok(["compress", str(runs["gpt"])], capsys)
    assert code == 2 and "nothing to do" in out
    code, out = cli_ok(["compress", str(runs["gpt"]), "--prune", "1.5"], capsys)
    assert code == 2 and "between 0 and 1" in out


def test_init_from_starts_training_from_given_weights_and_refuses_a_misfit(runs, tmp_path):
    with pytest.raises(BadInputError, match="do not fit"):
        genlab.train("image-generation", "dcgan", "builtin:digits", "misfit", max_steps=1, runs_dir=tmp_path,
                     progress=False, data_options=TINY, model_options={**GAN, "g_width": 16},
                     init_from=str(runs["gan"]))  # fmt: skip
    compress(runs["gan"], quantize="int8-static", all_layers=True, out="gan-q", evaluate=False, repeats=1)
    with pytest.raises(BadInputError, match="holds an int8 model"):
        genlab.train("image-generation", "dcgan", "builtin:digits", "from-int8", max_steps=1, runs_dir=tmp_path,
                     progress=False, data_options=TINY, model_options=GAN,
                     init_from=str(runs["gan"].parent / "gan-q"))  # fmt: skip
