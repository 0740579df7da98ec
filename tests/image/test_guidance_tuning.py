"""Sampling defaults chosen on validation data (genlab.image.diffusion.tuning, `genlab tune-guidance`)."""

import json

import pytest
import torch

import genlab
from genlab.core.errors import BadInputError
from genlab.image.diffusion import DDPM, RectifiedFlow
from genlab.image.diffusion.tuning import (
    CARD_HEADING,
    GuidanceSweep,
    apply,
    candidate_grid,
    card_section,
    choose,
    sweep,
    with_card_section,
)
from genlab.image.extractors import get_extractor
from tests.cli_helpers import cli_ok
from tests.image.test_diffusion import TINY
from tests.image.test_diffusion_cli import TINY_DATA, TINY_UNET


def row(guidance, steps, fid):
    return {"guidance": guidance, "steps": steps, "fid": fid, "kid": fid / 100, "seconds": 1.0}


def test_choice_prefers_fewer_steps_within_tolerance_but_never_worse_than_the_default():
    default = row(2.0, 25, 10.0)
    rows = [default, row(1.5, 25, 9.0), row(1.5, 12, 9.1), row(1.5, 50, 8.9)]
    assert choose(rows, default, "fid", 0.05) == rows[2]  # 9.1 ≤ 8.9·1.05: half the steps
    assert choose(rows, default, "fid", 0.0) == rows[3]  # no tolerance: the best
    worse = [default, row(1.0, 12, 10.2), row(3.0, 25, 10.5)]
    assert choose(worse, default, "fid", 0.05) == default  # within tolerance of the best but worse than default
    assert choose([default], default, "kid", 0.1) == default


def test_the_grid_holds_the_defaults_and_refuses_guidance_for_unconditional_models():
    cond = DDPM(DDPM.config_class.build({**TINY, "conditional": True, "guidance_scale": 2.5, "sample_steps": 10}))
    scales, steps = candidate_grid(cond, GuidanceSweep())
    assert scales == [1.0, 1.5, 2.0, 2.5, 3.0] and steps == [5, 10, 20]
    scales, steps = candidate_grid(cond, GuidanceSweep(guidance=[4, 1], steps=[3]))
    assert scales == [1.0, 2.5, 4.0] and steps == [3, 10]
    flow = RectifiedFlow(RectifiedFlow.config_class.build({**TINY, "sample_steps": 4}))
    assert candidate_grid(flow, GuidanceSweep()) == ([None], [2, 4, 8])
    with pytest.raises(BadInputError, match="unconditional"):
        candidate_grid(flow, GuidanceSweep(guidance=[1.5]))


@pytest.fixture(scope="module")
def tiny_conditional():
    torch.manual_seed(0)
    model = DDPM(DDPM.config_class.build({**TINY, "conditional": True, "sample_steps": 2, "guidance_scale": 2.0}))
    real = torch.rand(12, 1, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    return model.eval(), real, get_extractor("mnist-lenet")


def test_sweep_scores_every_candidate_on_shared_noise_and_apply_sets_the_defaults(tiny_conditional):
    model, real, extractor = tiny_conditional
    options = GuidanceSweep(guidance=[1.0, 3.0], steps=[1, 2], n=10)
    record = sweep(model, real, extractor, options)
    pairs = [(r["guidance"], r["steps"]) for r in record["candidates"]]
    assert pairs[0] == (2.0, 2) and set(pairs[1:3]) == {(1.0, 2), (3.0, 2)}  # defaults, then guidance at 2 steps
    best = min((r for r in record["candidates"] if r["steps"] == 2), key=lambda r: r["fid"])
    assert (best["guidance"], 1) in pairs  # then steps at the best scale
    assert record["n"] == 10 and record["reference"] == "validation split" and not record["skipped"]
    assert record["chosen"]["fid"] <= record["default"]["fid"]
    again = sweep(model, real, extractor, options)
    assert [r["fid"] for r in again["candidates"]] == [r["fid"] for r in record["candidates"]]  # seeded
    apply(model, record)
    assert model.config.guidance_scale == record["chosen"]["guidance"]
    assert model.config.sample_steps == record["chosen"]["steps"]
    assert model.config.sampling_sweep == record
    model.config.guidance_scale, model.config.sample_steps, model.config.sampling_sweep = 2.0, 2, None


def test_the_time_bound_skips_candidates_but_always_scores_the_defaults(tiny_conditional):
    model, real, extractor = tiny_conditional
    record = sweep(model, real, extractor, GuidanceSweep(guidance=[1.0, 3.0], steps=[4], n=6, max_minutes=1e-6))
    assert [(r["guidance"], r["steps"]) for r in record["candidates"]] == [(2.0, 2)]
    assert {(s["guidance"], s["steps"]) for s in record["skipped"]} >= {(1.0, 2), (3.0, 2)}
    assert record["chosen"] == record["default"]
    assert "Skipped for time" in card_section(record)


def test_card_section_replaces_an_earlier_one():
    record = {"n": 8, "extractor": "mnist-lenet", "sampler": "ddim", "seed": 0, "metric": "fid", "minutes": 0.1,
              "default": row(2.0, 4, 5.0), "chosen": row(1.5, 4, 4.0), "candidates": [row(2.0, 4, 5.0)],
              "skipped": []}  # fmt: skip
    card = "# run\n\n## Data\n- x\n"
    once = with_card_section(card, card_section(record))
    assert once.count(CARD_HEADING) == 1 and "**chosen: guidance 1.5, 4 steps**" in once
    record["chosen"] = row(3.0, 4, 3.0)
    twice = with_card_section(once + "\n## Later\ntext\n", card_section(record))
    assert twice.count(CARD_HEADING) == 1 and "guidance 3, 4 steps" in twice and "guidance 1.5" not in twice
    assert twice.startswith("# run\n\n## Data\n- x\n") and "## Later\ntext" in twice


def _train(root, name, *extra):
    return genlab.train(
        "image-generation", model="ddpm", data="builtin:digits", name=name, runs_dir=root, max_steps=2,
        batch_size=16, sample_every=0, progress=False,
        overrides=[*TINY_DATA, *TINY_UNET, "data.val_fraction=0.1", "model.conditional=true",
                   "model.sample_steps=2", *extra],
    )  # fmt: skip


@pytest.mark.slow
def test_training_ends_with_the_sweep_and_sampling_uses_its_choice(tmp_path, capsys):
    run = _train(tmp_path, "swept", "model.tune_min_val=4", "model.tune_n=6").run.path
    meta = json.loads((run / "model" / "config.json").read_text())
    record = meta["config"]["sampling_sweep"]
    assert record["n"] == 6 and record["candidates"][0] == record["default"]
    assert meta["config"]["guidance_scale"] == record["chosen"]["guidance"]
    assert meta["config"]["sample_steps"] == record["chosen"]["steps"]
    card = (run / "model" / "README.md").read_text()
    assert card.count(CARD_HEADING) == 1 and "`genlab sample` uses it" in card and "## Training budget" in card
    pipe = genlab.load(run)
    assert pipe.model.config.guidance_scale == record["chosen"]["guidance"]

    code, text = cli_ok(["tune-guidance", str(run), "--guidance", "1,4", "--steps", "1", "--n", "6"], capsys)
    assert code == 0 and "chosen" in text, text
    meta = json.loads((run / "model" / "config.json").read_text())
    redone = meta["config"]["sampling_sweep"]
    assert {r["guidance"] for r in redone["candidates"]} >= {1.0, 4.0} and meta["steps"] == 2  # extras kept
    assert (run / "model" / "README.md").read_text().count(CARD_HEADING) == 1
    assert genlab.load(run).model.config.sample_steps == redone["chosen"]["steps"]

    from benchmarks import diffusion

    args = ["--model", str(run), "--no-speed", "--no-accuracy", "--no-peer", "--tune-guidance", "--tune-n", "6",
            "--n", "8", "--out-dir", str(tmp_path / "results"), "--out-name", "tuning"]  # fmt: skip
    diffusion.main(args)
    rows = json.loads((tmp_path / "results" / "tuning.json").read_text())["results"]
    sweep_rows = [r for r in rows if r["reference"] == "validation split"]
    test_rows = [r for r in rows if r["reference"] != "validation split"]
    assert sweep_rows and all(r["n"] == 6 for r in sweep_rows) and all(r["n"] == 8 for r in test_rows)
    assert {r["role"] for r in test_rows} in ({"default", "chosen"}, {"default = chosen"})
    assert all("fid" in r and "kid" in r for r in rows)
    assert json.loads((run / "model" / "config.json").read_text())["config"]["sampling_sweep"] == redone  # a copy


@pytest.mark.slow
def test_small_validation_sets_keep_the_defaults_and_bad_options_are_refused(tmp_path, capsys):
    run = _train(tmp_path, "kept", "model.guidance_scale=2.5").run.path  # 13 validation images < 200
    meta = json.loads((run / "model" / "config.json").read_text())
    assert meta["config"]["sampling_sweep"] is None and meta["config"]["guidance_scale"] == 2.5
    assert "Defaults kept: 13 validation images" in (run / "model" / "README.md").read_text()
    code, text = cli_ok(["tune-guidance", str(run), "--guidance", "1,x"], capsys)
    assert code == 2 and "comma-separated numbers" in text and "hint:" in text
    code, text = cli_ok(["tune-guidance", str(run), "--metric", "is"], capsys)
    assert code == 2 and "metric" in text
    vae = genlab.train("image-generation", model="vae", data="builtin:digits", name="vae", runs_dir=tmp_path,
                       max_steps=1, batch_size=16, sample_every=0, progress=False, overrides=TINY_DATA)  # fmt: skip
    code, text = cli_ok(["tune-guidance", str(vae.run.path)], capsys)
    assert code == 2 and "image/ddpm and image/flow" in text
