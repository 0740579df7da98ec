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
