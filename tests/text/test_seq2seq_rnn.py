"""The recurrent encoder–decoders: text/gru-attention (Luong et al. 2015), text/pointer-generator (See et al. 2017)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from genlab.core.errors import BadInputError, ConfigError
from genlab.core.registry import MODELS
from genlab.text.language import length_units
from genlab.text.seq2seq.base import EncoderDecoderModel
from genlab.text.seq2seq.recurrent import BidirectionalGRU, RecurrentSeq2Seq
from genlab.text.tokenizers import CharTokenizer
from tests.cli_helpers import cli_ok
from tests.text.test_seq2seq import DIGITS, EncoderDecoderTester, batch_of, reversal_pairs, train_steps

GRU, POINTER = "text/gru-attention", "text/pointer-generator"
TINY = {
    "embedding_size": 16, "hidden_size": 32, "dropout": 0.0, "max_source_length": 8, "max_target_length": 8,
    "lr": 1e-2,
}  # fmt: skip
# every attention score, the pointer-generator with and without coverage
VARIANTS = [
    (GRU, {"attention": "general"}), (GRU, {"attention": "additive"}), (GRU, {"attention": "dot"}),
    (GRU, {"tie_embeddings": False, "n_layers": 2}), (POINTER, {}), (POINTER, {"coverage": False}),
]  # fmt: skip
VARIANT_IDS = ["general", "additive", "dot", "untied-2-layers", "pointer-coverage", "pointer-no-coverage"]


def tiny(name: str, seed: int = 0, **overrides: Any) -> RecurrentSeq2Seq:
    tok = CharTokenizer.train([DIGITS])
    cls = MODELS.get(name)
    config = cls.config_class.build({**TINY, "vocab_size": tok.vocab_size, "tokenizer": tok.to_dict(), **overrides})
    torch.manual_seed(seed)
    return cls(config).eval()


def trained(name: str, steps: int = 20, **overrides: Any) -> RecurrentSeq2Seq:
    """A tiny model moved off its initial weights by a few steps on reversals."""
    model = tiny(name, **overrides)
    train_steps(model, batch_of(model, reversal_pairs()), steps, lr=1e-2)
    return model.eval()


def framed(model: RecurrentSeq2Seq, rows: list[list[int]]) -> torch.Tensor:
    """Target rows framed as bos … eos and right-padded: (B, T)."""
    rows = [[model.bos_id, *r, model.eos_id] for r in rows]
    width = max(map(len, rows))
    return torch.tensor([r + [model.pad_id] * (width - len(r)) for r in rows])


class _RecurrentTests(EncoderDecoderTester):
    config: ClassVar[dict[str, Any]] = TINY

    def check_reloaded(self, model, loaded) -> None:
        sources = ["1234", "907"]
        assert loaded.generate(sources, num_beams=3) == model.generate(sources, num_beams=3)


class TestGRUAttention(_RecurrentTests):
    model_name = GRU
    validation_keys: ClassVar[set[str]] = {"loss", "nll"}


class TestPointerGenerator(_RecurrentTests):
    model_name = POINTER
    validation_keys: ClassVar[set[str]] = {"loss", "nll", "coverage"}


# --------------------------------------------------------------------------- the pointer-generator's mixture


def test_the_final_distribution_is_a_distribution_and_copies_only_source_ids():
    model = trained(POINTER)
    src = model.source_ids(["1234", "56"])  # the second source is padded
    tgt = framed(model, [[4, 3, 2, 1], [6, 5]])[:, :-1]
    with torch.no_grad():
        memory, hidden = model.encode(src)
        out = model.decode(tgt, memory, hidden, model.initial_coverage(memory))
        logp, p_gen, copy = model.mixture(out, memory)
    probs = logp.exp()
    assert (probs >= 0).all()
    torch.testing.assert_close(probs.sum(-1), torch.ones(2, tgt.shape[1]), atol=1e-5, rtol=0)
    assert ((p_gen > 0) & (p_gen < 1)).all()
    torch.testing.assert_close(copy.sum(-1), torch.ones(2, tgt.shape[1]), atol=1e-5, rtol=0)
    for row, ids in enumerate(([1, 2, 3, 4], [5, 6])):  # char ids of the digits are the digits
        outside = torch.ones(model.n_ids, dtype=torch.bool)
        outside[ids] = False
        assert (copy[row][:, outside] == 0).all() and (copy[row][:, ids] > 0).all()
    assert (out.weights[1, :, 2:] == 0).all()  # no attention on the padding
    # P = p_gen · P_vocab + (1 - p_gen) · copy, as See et al. (2017) eq. 9
    vocab = model.readout(out).softmax(-1)
    expected = p_gen[..., None] * vocab + (1 - p_gen[..., None]) * copy
    torch.testing.assert_close(probs, expected, atol=1e-6, rtol=1e-5)


def test_a_closed_gate_copies_from_the_source_only():
    model = tiny(POINTER)
    with torch.no_grad():
        model.gate.weight.zero_()
        model.gate.bias.fill_(-30.0)  # p_gen ≈ 1e-13
        logp = model.logits(model.source_ids(["377"]), framed(model, [[7, 7, 3]])[:, :-1])
    probs = logp.exp()[0]
    assert probs[:, [3, 7]].sum(-1).min() > 1 - 1e-6
    others = [i for i in range(model.n_ids) if i not in (3, 7)]
    assert probs[:, others].max() < 1e-6


def test_coverage_loss_is_non_negative_and_zero_without_coverage():
    batch = batch_of(tiny(POINTER), reversal_pairs(8))
    with torch.no_grad():
        losses = tiny(POINTER).training_losses(batch, "model")
        plain = tiny(POINTER, coverage=False).training_losses(batch, "model")
    assert losses["coverage"] > 0 and losses["loss"] == pytest.approx(float(losses["nll"] + losses["coverage"]))
    assert plain["coverage"] == 0 and plain["loss"] == pytest.approx(float(plain["nll"]))
    weighted = tiny(POINTER, coverage_weight=0.5).training_losses(batch, "model")
    assert weighted["loss"].item() == pytest.approx(float(losses["nll"] + 0.5 * losses["coverage"]), abs=1e-6)


def test_coverage_sums_the_earlier_attention():
    model = trained(POINTER)
    src = model.source_ids(["1234", "56"])
    tgt = framed(model, [[4, 3, 2, 1], [6, 5]])[:, :-1]
    with torch.no_grad():
        memory, hidden = model.encode(src)
        out = model.decode(tgt, memory, hidden, model.initial_coverage(memory))
    coverage_before = torch.cumsum(out.weights, 1) - out.weights  # c_t = Σ_{t' < t} a_t'
    expected = torch.minimum(out.weights, coverage_before).sum(-1)
    torch.testing.assert_close(out.coverage_loss, expected)
    assert (out.coverage_loss[:, 0] == 0).all() and (out.coverage_loss >= 0).all()
    torch.testing.assert_close(out.coverage, out.weights.sum(1))


def test_coverage_needs_additive_attention():
    with pytest.raises(ConfigError, match="additive"):
        tiny(POINTER, attention="general")
    assert tiny(POINTER, attention="general", coverage=False).config.attention == "general"


# --------------------------------------------------------------------------- the network


@pytest.mark.parametrize(("name", "overrides"), VARIANTS, ids=VARIANT_IDS)
def test_incremental_decoding_equals_the_teacher_forced_forward(name, overrides):
    model = trained(name, steps=8, **overrides)
    src = model.source_ids(["1234", "56"])
    tgt = framed(model, [[4, 3, 2, 1], [6, 5]])
    with torch.no_grad():
        full = F.log_softmax(model.logits(src, tgt), -1)  # (B, T, V)
        decoder = model.conditioned(src)
        state = decoder.init_state(2)
        scores, state = decoder.step(tgt[:, :2], state)  # two ids at once, then one at a time
        torch.testing.assert_close(F.log_softmax(scores, -1), full[:, 1], atol=1e-5, rtol=1e-5)
        for t in range(2, tgt.shape[1]):
            if t == 4:  # swap the rows, as beam search reorders its hypotheses
                state = decoder.reorder_state(state, torch.tensor([1, 0]))
                tgt, full = tgt.flip(0), full.flip(0)
            scores, state = decoder.step(tgt[:, t : t + 1], state)
            torch.testing.assert_close(F.log_softmax(scores, -1), full[:, t], atol=1e-5, rtol=1e-5, msg=f"pos {t}")


@pytest.mark.parametrize("name", [GRU, POINTER])
def test_beams_of_one_source_follow_their_own_targets(name):
    """Several rows decoded from one encoded source, reordered (a row dropped, one duplicated) midway."""
    model = trained(name, steps=8)
    src = model.source_ids(["1234"])
    tgt = framed(model, [[4, 3, 2, 1], [1, 1, 1, 1], [4, 4, 2, 2]])
    with torch.no_grad():
        full = F.log_softmax(model.logits(src.expand(3, -1), tgt), -1)
        decoder = model.conditioned(src)
        state = decoder.init_state(3)
        for t in range(tgt.shape[1] - 1):
            if t == 3:
                index = torch.tensor([2, 2, 0])
                state, tgt, full = decoder.reorder_state(state, index), tgt[index], full[index]
            scores, state = decoder.step(tgt[:, t : t + 1], state)
            torch.testing.assert_close(F.log_softmax(scores, -1), full[:, t], atol=1e-5, rtol=1e-5, msg=f"pos {t}")


@pytest.mark.parametrize("name", [GRU, POINTER])
def test_source_padding_does_not_change_the_outputs(name):
    model = trained(name, steps=8)
    tgt = framed(model, [[4, 3]])[:, :-1]
    with torch.no_grad():
        alone = model.logits(model.source_ids(["1234"]), tgt)
        padded = torch.cat([model.source_ids(["1234"]), torch.full((1, 3), model.pad_id)], dim=1)
        torch.testing.assert_close(model.logits(padded, tgt), alone, atol=1e-5, rtol=1e-5)
        # a short source batched with a long one decodes as it does alone
        short = model.logits(model.source_ids(["12"]), tgt)
        both = model.logits(model.source_ids(["12", "98765"]), tgt.expand(2, -1))
        torch.testing.assert_close(both[:1], short, atol=1e-5, rtol=1e-5)


def test_the_encoder_reads_both_directions_and_ties_embeddings():
    model = tiny(GRU)
    assert model.out.weight is model.embedding.weight and model.embedding.num_embeddings == 13
    assert tiny(GRU, tie_embeddings=False).out.weight.shape == (13, 32)
    with torch.no_grad():
        a, _ = model.encode(model.source_ids(["1234"]))
        b, _ = model.encode(model.source_ids(["1239"]))
    assert not torch.allclose(a.states[:, 0], b.states[:, 0], atol=1e-6)  # the first position sees the last token
    with pytest.raises(ConfigError, match="hidden_size"):
        tiny(GRU, hidden_size=33)  # each encoder direction has half


def test_the_bidirectional_encoder_equals_a_packed_torch_gru():
    torch.manual_seed(0)
    ours = BidirectionalGRU(4, 3, layers=2, dropout=0.0)
    packed = torch.nn.GRU(4, 3, num_layers=2, bidirectional=True, batch_first=True)
    with torch.no_grad():
        for layer in range(2):
            for suffix, gru in (("", ours.forward_layers[layer]), ("_reverse", ours.backward_layers[layer])):
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(packed, f"{kind}_l{layer}{suffix}").copy_(getattr(gru, f"{kind}_l0"))
    x, lengths = torch.randn(3, 6, 4), torch.tensor([6, 2, 4])
    with torch.no_grad():
        out, final = ours(x, lengths)
        seq = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        expected, h_n = packed(seq)
        expected, _ = pad_packed_sequence(expected, batch_first=True, total_length=6)
    real = torch.arange(6)[None] < lengths[:, None]
    torch.testing.assert_close(out[real], expected[real])
    # (2L, B, H) of torch, directions of each layer side by side -> (L, B, 2H)
    torch.testing.assert_close(final, h_n.view(2, 2, 3, 3).permute(0, 2, 1, 3).reshape(2, 3, 6))


def test_an_empty_source_in_training_data_is_read_as_one_padding_symbol():
    model = tiny(POINTER)
    src = torch.full((1, 4), model.pad_id)  # what PairDataset makes of an empty source text
    with torch.no_grad():
        logp = model.logits(src, framed(model, [[1]])[:, :-1])
    assert torch.isfinite(logp.logsumexp(-1)).all()


def test_every_encoder_decoder_shares_one_generation_code():
    for name in (GRU, POINTER, "text/transformer-seq2seq"):
        cls = MODELS.get(name)
        assert issubclass(cls, EncoderDecoderModel) and cls.generate_ids is EncoderDecoderModel.generate_ids
        assert {"seq2seq", "summarization"} <= set(cls.tasks)


# --------------------------------------------------------------------------- training and generation


@pytest.mark.parametrize("name", [GRU, POINTER])
def test_a_few_steps_lower_the_loss_and_reversal_is_learnt(name):
    model = tiny(name, seed=1)
    pairs = reversal_pairs(50)
    losses = train_steps(model, batch_of(model, pairs), 150, lr=1e-2)
    assert losses[10] < losses[0] - 0.3 and losses[-1] < losses[10], losses
    outputs = model.eval().generate([p.source for p in pairs])
    exact = sum(out == p.target for out, p in zip(outputs, pairs, strict=True)) / len(pairs)
    assert exact >= 0.9, (exact, outputs[:5])


@pytest.mark.parametrize("name", [GRU, POINTER])
def test_beam_search_scores_at_least_as_high_as_greedy(name):
    model = trained(name, steps=30)

    def logprob(source: str, ids: list[int]) -> float:  # pad/bos excluded, as decoding does
        tgt = framed(model, [ids])
        with torch.no_grad():
            scores = model.logits(model.source_ids([source]), tgt[:, :-1])[0]
        scores[:, [model.pad_id, model.bos_id]] = float("-inf")
        return float(F.log_softmax(scores, -1).gather(1, tgt[0, 1:, None]).sum())

    for source in ("1234", "907", "55"):
        src = model.source_ids([source])
        greedy = model.generate_ids(src, max_new_tokens=8)[0]
        beam = model.generate_ids(src, num_beams=4, length_penalty=0.0, max_new_tokens=8)[0]
        assert logprob(source, beam) >= logprob(source, greedy) - 1e-5, source


@pytest.mark.parametrize("name", [GRU, POINTER])
def test_generation_options_and_bad_input(name):
    model = trained(name, steps=10)
    src = model.source_ids(["12", "345"])
    a = model.generate_ids(src, temperature=1.0, seed=3, top_k=5, max_new_tokens=5)
    assert a == model.generate_ids(src, temperature=1.0, seed=3, top_k=5, max_new_tokens=5)
    assert all(len(r) <= 5 for r in a)
    out = model.generate_ids(src[:1], min_new_tokens=6, max_new_tokens=8, no_repeat_ngram=2)[0]
    bigrams = list(zip(out, out[1:], strict=False))
    assert len(out) >= 6 and len(bigrams) == len(set(bigrams))
    with pytest.raises(BadInputError, match="encodes to no tokens"):
        model.generate(["12", ""])
    with pytest.raises(BadInputError, match="minimum length"):
        model.generate_ids(src, min_new_tokens=9)
    assert model.generate([]) == []


# --------------------------------------------------------------------------- commands


def test_gru_attention_trains_for_seq2seq_and_transforms_through_the_cli(tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"{p.source}\t{p.target}\n" for p in reversal_pairs(40)))
    runs = tmp_path / "runs"
    args = ["train", "seq2seq", "--model", "gru-attention", "--data", str(pairs), "--max-steps", "3",
            "--tokenizer", "char", "--embedding-size", "8", "--hidden-size", "16", "--attention", "dot",
            "--max-source-length", "8", "--max-target-length", "8", "--name", "rev", "--runs-dir", str(runs),
            "--no-progress"]  # fmt: skip
    code, out = cli_ok(args, capsys)
    assert code == 0, out
    run = runs / "seq2seq" / "rev"
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["model"] == GRU and config["config"]["attention"] == "dot" and config["config"]["hidden_size"] == 16
    code, out = cli_ok(["transform", str(run), "1234", "--beam", "2", "--max-new-tokens", "4"], capsys)
    assert code == 0 and len(out.strip()) <= 4 and set(out.strip()) <= set(DIGITS), out
    code, out = cli_ok(["eval", str(run), "--n", "4", "--beam", "1"], capsys)
    assert code == 0 and "bleu" in out and "exact_match" in out, out
    code, out = cli_ok(["models", "--task", "summarization"], capsys)
    assert code == 0 and all(m in out for m in ("gru-attention", "pointer-generator", "transformer-seq2seq")), out


def test_pointer_generator_trains_for_summarization_and_summarizes_through_the_cli(tmp_path, capsys):
    docs = [(f"We study the model number {i}. It works well on data.", f"Model {i} works.") for i in range(24)]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"source": s, "target": t}) + "\n" for s, t in docs))
    runs = tmp_path / "runs"
    args = ["train", "summarization", "--model", "pointer-generator", "--data", str(data), "--max-steps", "3",
            "--tokenizer", "bpe", "--vocab-size", "300", "--embedding-size", "8", "--hidden-size", "16",
            "--max-source-length", "64", "--max-target-length", "16", "--name", "pg", "--runs-dir", str(runs),
            "--no-progress", "--set", "model.coverage_weight=0.5"]  # fmt: skip
    code, out = cli_ok(args, capsys)
    assert code == 0, out
    run = runs / "summarization" / "pg"
    assert (run / "model" / "tokenizer.json").is_file() and (run / "samples" / "final.txt").is_file()
    metrics = (run / "metrics.csv").read_text()
    assert "coverage" in metrics.splitlines()[0], metrics[:300]
    doc = tmp_path / "paper.txt"
    doc.write_text("We study the model number 7. It works well on data.")
    code, out = cli_ok(["summarize", str(doc), "--model", str(run), "--beam", "2", "--max-words", "5"], capsys)
    assert code == 0 and out.strip() and length_units(out, "en") <= 5, out  # punctuation-only tokens are no words
    code, out = cli_ok(["eval", str(run), "--n", "2", "--beam", "1"], capsys)
    assert code == 0 and "rouge1" in out and "novel_bigram_ratio" in out, out
    code, out = cli_ok(["transform", str(run), "some text"], capsys)
    assert code == 2, out  # a summarizer is no seq2seq transformer
