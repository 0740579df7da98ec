"""The registered music metrics on a Markov model counted from hand-made pieces, and the held-out baseline."""

from __future__ import annotations

import math
import random

import pytest
import torch

from genlab.core.evaluation import EvalContext, run_metrics, select_metrics, task_metrics
from genlab.music import evaluation
from genlab.music.notes import Note, Piece

MUSIC_METRICS = [
    "nll",
    "pitch_class_kl",
    "scale_degree_kl",
    "interval_kl",
    "duration_kl",
    "key_consistency",
    "groove",
    "plagiarism",
]


def tune(seed: int, bars: int = 8) -> Piece:
    """A seeded random C-major melody in 4/4 (quarter and half notes)."""
    rng = random.Random(seed)
    notes, t = [], 0.0
    while t < 4 * bars:
        d = rng.choice([1.0, 1.0, 2.0])
        notes.append(Note(rng.choice([60, 62, 64, 65, 67, 69, 71, 72]), t, d))
        t += d
    return Piece(notes, key="C major", tempo=100)


class _Task:
    name = "music"


@pytest.fixture(scope="module")
def markov():
    from genlab.music.markov import MusicMarkov
    from genlab.music.tokenizers import REMITokenizer

    tok = REMITokenizer()
    model = MusicMarkov(MusicMarkov.config_class(vocab_size=tok.vocab_size, tokenizer=tok.to_dict(), max_order=3))
    train = [tune(s) for s in range(20)]
    stream = evaluation._Stream(torch.tensor([t for p in train for t in tok.encode(p)], dtype=torch.long))
    model.fit(stream, None)
    return model.eval(), train


def context(model, train, test, **options) -> EvalContext:
    request = evaluation.MusicEvalRequest.build({"n": 6, "max_tokens": 200, **options}, "eval")
    ctx = evaluation.model_context(_Task(), model, request)
    ref = evaluation.MusicReference(test, train, test, "hand-made test", "hand-made test")
    ctx.cache["reference"] = ref
    return ctx


def test_the_music_metrics_are_registered_under_the_names_users_type():
    assert list(task_metrics("music")) == MUSIC_METRICS
    chosen = select_metrics("music", "nll,pitch-class-kl,key-consistency,groove,plagiarism")
    assert [s.name for s in chosen] == [
        "music/nll", "music/pitch_class_kl", "music/key_consistency", "music/groove", "music/plagiarism",
    ]  # fmt: skip
    assert all(s.default and s.on_baselines for s in task_metrics("music").values())


def test_every_metric_scores_a_markov_model_and_the_held_out_baseline(markov):
    model, train = markov
    test = [tune(s) for s in range(100, 106)]
    ctx = context(model, train, test)
    specs = list(task_metrics("music").values())
    values, protocol = run_metrics(specs, ctx)
    assert len(ctx.samples) == 6 and all(isinstance(p, Piece) for p in ctx.samples)
    assert 0 < values["nll_per_note"] < 50 and values["nll_per_token"] < values["nll_per_note"]
    for key in ("pitch_class_overlap", "interval_overlap", "duration_overlap", "key_consistency", "plagiarism_rate"):
        assert 0 <= values[key] <= 1, key
    assert values["pitch_class_kl"] >= 0 and 0 < values["groove_similarity"] <= 1
    assert "hand-made" in protocol["distribution_reference"] and "nll" in protocol

    baselines = evaluation.baseline_contexts(ctx)
    assert list(baselines) == ["held_out"]  # a Markov model gets no Markov baseline
    held = baselines["held_out"]
    assert held.samples == test and held.reference.compare == train and held.reference.scored == test
    held_values, _ = run_metrics(specs, held)
    assert "nll_per_note" not in held_values  # real pieces have no likelihood to report
    assert held_values["key_consistency"] == 1.0  # the tunes stay in C major
    assert held_values["plagiarism_rate"] == 0.0  # fresh random tunes copy no 8 bars


def test_copied_training_pieces_are_plagiarism_and_match_the_reference(markov):
    model, train = markov
    ctx = context(model, train, train[:6])
    ctx.cache["samples"] = train[:4] + [Piece([Note(61, 0, 0.25)]), Piece([])]  # 4 copies, 2 with nothing to copy
    values, _ = run_metrics(select_metrics("music", "plagiarism,key-consistency,pitch-class-kl"), ctx)
    assert values["plagiarism_rate"] == pytest.approx(4 / 6)
    assert values["longest_copy_bars"] == pytest.approx(4 * 8 / 6)
    assert values["key_consistency"] == pytest.approx((4 * 1.0 + 1.0) / 5)  # C# alone: its estimated key fits it


def test_samples_without_notes_give_nan_distributions_not_an_error(markov):
    model, train = markov
    ctx = context(model, train, train[:6])
    ctx.cache["samples"] = [Piece([]), Piece([])]
    values, _ = run_metrics(select_metrics("music", "interval-kl,plagiarism"), ctx)
    assert math.isnan(values["interval_kl"]) and values["plagiarism_rate"] == 0.0


def test_max_tokens_defaults_to_the_models_context(markov):
    model, _ = markov
    request = evaluation.MusicEvalRequest.build({}, "eval")
    assert evaluation.sample_tokens(model, request) == model.config.block_size
    assert evaluation.sample_tokens(model, request.model_copy(update={"max_tokens": 64})) == 64


@pytest.mark.slow
def test_genlab_eval_of_a_tiny_trained_lstm_scores_it_beside_both_baselines(tmp_path):
    import genlab
    import genlab.music.task  # noqa: F401  (registers the task where the installed metadata predates it)
    from genlab.core.registry import TASKS
    from genlab.music.io import write_midi

    folder = tmp_path / "tunes"
    folder.mkdir()
    for s in range(40):
        piece = tune(s, bars=4)
        piece.title = f"tune {s}"
        write_midi(piece, folder / f"tune{s:02d}.mid")
    result = genlab.train(
        "music", "lstm", str(folder), "tiny", runs_dir=tmp_path / "runs", max_steps=2, progress=False,
        data_options={"data_dir": str(tmp_path / "data"), "transpose": False},
        model_options={"hidden_size": 16, "n_layer": 1}, sample_every=0,
    )  # fmt: skip
    model = genlab.load(result.run.path).model
    out = TASKS.get("music").evaluate(model, "nll,plagiarism,key-consistency", {"n": 3, "max_tokens": 64})
    assert set(out["metrics"]) == {"nll_per_note", "nll_per_token", "plagiarism_rate", "longest_copy_notes",
                                   "longest_copy_bars", "key_consistency"}  # fmt: skip
    assert set(out["baselines"]) == {"markov", "held_out"}
    assert "nll_per_note" in out["baselines"]["markov"] and "nll_per_note" not in out["baselines"]["held_out"]
    assert out["protocol"]["n_samples"] == 3 and "test split" in out["protocol"]["reference"]


def test_markov_samples_only_transitions_seen_in_training(markov):
    model, train = markov
    tok = model.tokenizer
    seen = {(a, b) for p in train for a, b in zip(tok.encode(p), tok.encode(p)[1:], strict=False)}
    rows = model.sample_ids(8, 120, generator=torch.Generator().manual_seed(0))
    pairs = {(a, b) for r in rows for a, b in zip(r, r[1:], strict=False)}
    assert pairs and pairs <= seen
    # scoring keeps the smoothed distribution: an unseen transition costs finite NLL
    assert math.isfinite(float(model.token_nll(torch.tensor([[tok.bos_id, tok.eos_id, tok.bos_id]]))[0]))
