"""ROUGE-1/2/L: equal to the rouge-score package on fixed English pairs, hand-computed values, Chinese units."""

import random

import pytest

from genlab.core.errors import BadInputError
from genlab.text.rouge import (
    ROUGE_TYPES,
    best_of_references,
    corpus_rouge,
    lcs_length,
    rouge,
    tokenize,
    tokenize_en,
    tokenize_zh,
)

# (reference, candidate): stemming, punctuation, numbers, repeats, casing, non-English letters, empties.
PAIRS = [
    ("The cats are running quickly to the houses.", "A cat runs quick to the house!"),
    ("police killed the gunman", "the gunman was shot and killed by police"),
    ("Mixed-precision training (MPT) speeds up networks by 2.5x.", "MPT: mixed precision training is 2.5 x faster"),
    ("We propose adaptive loss scaling for mixed precision training.", "Adaptive loss scaling improves training."),
    ("the the the cat", "the the the the the cat cat"),
    ("Résumé of the U.S. economy in 2020: growth was 3.5%.", "the us economy grew 3.5 percent in 2020"),
    ("Generalization bounds for deep networks via compression", "Compressing deep nets gives generalization bounds"),
    ("A B C D E F G", "g f e d c b a"),
    ("Transformers' attention heads are redundant; pruning them works.", "Pruning redundant attention heads works."),
    ("", "an empty reference scores zero"),
    ("an empty candidate scores zero", ""),
    ("Learned optimizers generalize to new tasks.", "Learned optimizers generalize to new tasks."),
    ("Graph neural networks over-smooth with depth", "Deeper graph networks suffer from oversmoothing, we show."),
]


@pytest.fixture(scope="module")
def peer():
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer", reason="rouge-score is the test peer (dev extra)")
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)


@pytest.mark.parametrize("reference,candidate", PAIRS)
def test_equal_to_rouge_score_with_stemming(peer, reference, candidate):
    ours, theirs = rouge(reference, candidate, language="en"), peer.score(reference, candidate)
    for t in ROUGE_TYPES:
        assert ours[t].fmeasure == pytest.approx(theirs[t].fmeasure, abs=1e-6), t
        assert ours[t].precision == pytest.approx(theirs[t].precision, abs=1e-6), t
        assert ours[t].recall == pytest.approx(theirs[t].recall, abs=1e-6), t


def test_english_tokens_are_those_of_rouge_score():
    tokenizers = pytest.importorskip("rouge_score.tokenizers")
    peer = tokenizers.DefaultTokenizer(use_stemmer=True)
    for reference, candidate in PAIRS:
        for text in (reference, candidate):
            assert tokenize_en(text) == peer.tokenize(text)
    assert tokenize_en("The cats were RUNNING, 3.5x!") == ["the", "cat", "were", "run", "3", "5x"]
    assert tokenize_en("cats running", use_stemmer=False) == ["cats", "running"]


def test_hand_computed_values():
    assert all(s.fmeasure == 1.0 for s in rouge("the cat sat", "the cat sat", "en").values())
    assert all(s.fmeasure == 0.0 for s in rouge("the cat sat", "dogs bark loudly", "en").values())
    # LCS of "the cat sat on the mat" and "the cat on mat" is 4 tokens: P = 4/4, R = 4/6, F = 0.8.
    s = rouge("the cat sat on the mat", "the cat on mat", "en")
    assert (s["rougeL"].precision, s["rougeL"].recall, s["rougeL"].fmeasure) == pytest.approx((1.0, 4 / 6, 0.8))
    # One shared bigram ("the cat") of 3 candidate and 5 reference bigrams: F = 2·(1/3)(1/5)/(1/3 + 1/5) = 0.25.
    assert s["rouge2"].precision == pytest.approx(1 / 3) and s["rouge2"].fmeasure == pytest.approx(0.25)
    # Clipped counts: "the" can match at most 3 times.
    clipped = rouge("the the the", "the the the the the", "en")["rouge1"]
    assert (clipped.precision, clipped.recall) == pytest.approx((3 / 5, 1.0))


def test_bit_parallel_lcs_equals_dynamic_programming():
    def table(a, b):
        row = [0] * (len(b) + 1)
        for x in a:
            prev_diag, row[0] = 0, 0
            for j, y in enumerate(b, start=1):
                prev_diag, row[j] = row[j], prev_diag + 1 if x == y else max(row[j], row[j - 1])
        return row[-1]

    rng = random.Random(0)
    for _ in range(500):
        a = [rng.choice("abcde") for _ in range(rng.randint(0, 40))]
        b = [rng.choice("abcdef") for _ in range(rng.randint(0, 40))]
        assert lcs_length(a, b) == table(a, b)
    assert lcs_length(list("abcbdab"), list("bdcaba")) == 4  # the textbook example (CLRS)


def test_best_of_references_and_corpus_mean():
    refs = ["a cat sat on a mat", "dogs bark at night"]
    best = best_of_references(refs, "the dogs bark", "en")
    assert best["rouge1"].fmeasure == rouge(refs[1], "the dogs bark", "en")["rouge1"].fmeasure > 0
    # select="rouge1" reports all three scores against the reference that is best on ROUGE-1 (SciTLDR);
    # select="each" takes each maximum separately.
    refs = ["b a x x", "a b"]
    by_r1, each = best_of_references(refs, "a b x", "en"), best_of_references(refs, "a b x", "en", select="each")
    assert by_r1["rouge1"].fmeasure == pytest.approx(6 / 7) and by_r1["rouge2"].fmeasure == 0.0
    assert each["rouge1"].fmeasure == pytest.approx(6 / 7) and each["rouge2"].fmeasure == pytest.approx(2 / 3)
    scores = corpus_rouge(["a b x", "zzz"], [refs, "a b"], "en")  # the mean of 6/7 and 0
    assert scores["rouge1"] == pytest.approx(3 / 7) and scores["rouge2"] == 0.0
    with pytest.raises(BadInputError, match="reference sets"):
        corpus_rouge(["a"], [], "en")
    with pytest.raises(BadInputError, match="no reference"):
        best_of_references([], "a", "en")


def test_chinese_is_scored_on_characters_or_jieba_words():
    assert tokenize_zh("我们用GPU训练，模型。") == ["我", "们", "用", "gpu", "训", "练", "模", "型"]
    assert tokenize("我们明天去公园", "auto") == list("我们明天去公园")
    char = rouge("我们明天去公园", "我们今天去公园")  # 6 of 7 characters; 4 of 6 character bigrams
    assert char["rouge1"].fmeasure == pytest.approx(6 / 7) and char["rouge2"].fmeasure == pytest.approx(4 / 6)
    words = tokenize_zh("我们明天去公园", unit="jieba")
    assert "".join(words) == "我们明天去公园" and len(words) < 7
    assert rouge("我们明天去公园", "我们今天去公园", zh_unit="jieba")["rouge1"].fmeasure < char["rouge1"].fmeasure
    assert rouge("今天下雨。", "今天下雨。", "en")["rouge1"].fmeasure == 0.0  # English tokens drop ideographs
    with pytest.raises(BadInputError, match="char or jieba"):
        tokenize_zh("中文", unit="words")
