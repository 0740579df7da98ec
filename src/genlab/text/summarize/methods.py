"""Extractive methods: which sentences of a document make its summary.

Every method picks sentence indices greedily under a :class:`Budget` (a number of sentences, or a
number of words — characters for Chinese); the summary keeps the document's order.

* ``lead``: the first sentences (the classic news baseline).
* ``textrank`` (Mihalcea & Tarau 2004, "TextRank: Bringing Order into Texts"): a graph whose nodes
  are the sentences and whose edge weights are the cosine similarities of their TF-IDF vectors;
  each sentence's score is the fixed point of the weighted PageRank recursion
  ``WS(i) = (1 - d) + d · Σ_j w_ji / (Σ_k w_jk) · WS(j)`` with damping ``d = 0.85``, found by power
  iteration until no score moves by more than 1e-8. Sentences are taken by score, equal scores by
  position.
* ``mmr`` (Carbonell & Goldstein 1998, "The Use of MMR, Diversity-Based Reranking for Reordering
  Documents and Producing Summaries"): the next sentence maximises
  ``λ · sim(s, centroid) − (1 − λ) · max_{c chosen} sim(s, c)``, the relevance to the document's
  centroid (mean TF-IDF vector) minus the redundancy with what is already chosen; λ = 1 is pure
  relevance, lower values favour new content.
* ``oracle``: greedily adds the sentence that most raises the mean of ROUGE-1, ROUGE-2 and ROUGE-L F1
  against the references (best reference per score set, as :func:`genlab.text.rouge.pick_best`) and
  stops when no sentence raises it — an upper bound for extractive methods, usable only when the
  references are known.

Sentence similarity is TF-IDF cosine by default, or (``similarity="embedding"``, English, with the optional
``genlab[text-embed]`` package) the cosine of offline all-MiniLM-L6-v2 sentence embeddings (Reimers &
Gurevych 2019), which also links sentences that say the same thing in other words; TextRank's graph keeps
the positive similarities as edge weights.

TF-IDF: terms are the stemmed ROUGE tokens (English) or jieba words (Chinese) minus function words
(:mod:`.stopwords`); tf is the count in the sentence, idf = ln((1 + N) / (1 + df)) + 1 over the N
sentences of the document, and vectors have unit length. The vectors are kept sparse, so a 1 MB
document (thousands of sentences) never needs an N × N matrix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from genlab.core.errors import BadInputError
from genlab.text.language import Language, jieba_module, length_units
from genlab.text.rouge import ROUGE_TYPES, pick_best, scores_of_tokens, tokenize
from genlab.text.summarize.stopwords import CHINESE, ENGLISH

DAMPING = 0.85
TOLERANCE = 1e-8
MAX_ITERATIONS = 1000
TIE_DECIMALS = 10  # scores equal to this many decimals count as ties (broken by position)
_EN_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Budget:
    """How long a summary may be: ``sentences`` (at most that many) or ``max_words`` (length units)."""

    sentences: int | None
    max_words: int | None
    language: Language

    def fits(self, chosen_lengths: Sequence[int], length: int) -> bool:
        """True when a sentence of ``length`` units may join sentences of ``chosen_lengths``."""
        if self.sentences is not None and len(chosen_lengths) >= self.sentences:
            return False
        return self.max_words is None or sum(chosen_lengths) + length <= self.max_words

    def full(self, chosen_lengths: Sequence[int]) -> bool:
        """True when no further sentence can join."""
        if self.sentences is not None and len(chosen_lengths) >= self.sentences:
            return True
        return self.max_words is not None and sum(chosen_lengths) >= self.max_words


def content_terms(sentence: str, language: Language) -> list[str]:
    """The sentence's terms for TF-IDF: stemmed content words (English) or jieba content words (Chinese)."""
    if language == "zh":
        jieba = jieba_module()
        words = (w.strip().lower() for w in jieba.lcut(sentence))
        return [w for w in words if re.search(r"[^\W_]", w) and w not in CHINESE]
    words = [w for w in _EN_WORD.findall(sentence.lower()) if w not in ENGLISH]
    return tokenize(" ".join(words), "en")


class SparseRows:
    """Unit-length TF-IDF rows in coordinate form (``rows``, ``cols``, ``vals``): one row per sentence."""

    def __init__(self, terms: Sequence[Sequence[str]]):
        vocab: dict[str, int] = {}
        rows, cols, counts = [], [], []
        for i, sentence_terms in enumerate(terms):
            tf: dict[int, int] = {}
            for t in sentence_terms:
                j = vocab.setdefault(t, len(vocab))
                tf[j] = tf.get(j, 0) + 1
            rows += [i] * len(tf)
            cols += list(tf)
            counts += list(tf.values())
        self.n_rows, self.n_cols = len(terms), len(vocab)
        self.rows, self.cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        df = np.bincount(self.cols, minlength=self.n_cols)
        idf = np.log((1 + self.n_rows) / (1 + df)) + 1.0
        vals = np.asarray(counts, dtype=np.float64) * idf[self.cols]
        norms = np.sqrt(np.bincount(self.rows, weights=vals**2, minlength=self.n_rows))
        self.vals = vals / norms[self.rows] if len(vals) else vals
        self.nonempty = (norms > 0).astype(np.float64)  # rows with at least one term (their self-similarity is 1)

    def dot(self, v: np.ndarray) -> np.ndarray:
        """``X @ v`` for a term-space vector ``v`` (n_cols,) → (n_rows,)."""
        return np.bincount(self.rows, weights=self.vals * v[self.cols], minlength=self.n_rows)

    def tdot(self, y: np.ndarray) -> np.ndarray:
        """``Xᵀ @ y`` for a sentence-space vector ``y`` (n_rows,) → (n_cols,)."""
        return np.bincount(self.cols, weights=self.vals * y[self.rows], minlength=self.n_cols)

    def row(self, i: int) -> np.ndarray:
        """Row ``i`` as a dense term-space vector."""
        out = np.zeros(self.n_cols)
        mask = self.rows == i
        out[self.cols[mask]] = self.vals[mask]
        return out

    def similarity_times(self, y: np.ndarray) -> np.ndarray:
        """``W @ y`` where W holds the cosine similarities of distinct rows (zero diagonal)."""
        return self.dot(self.tdot(y)) - self.nonempty * y


class DenseRows:
    """Unit-length dense sentence vectors (N, D) with :class:`SparseRows`' interface; the similarity graph
    (positive cosines, zero diagonal) is held as an N × N matrix."""

    def __init__(self, vectors: np.ndarray):
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.vectors = (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float64)
        self.n_rows, self.n_cols = self.vectors.shape
        graph = np.clip(self.vectors @ self.vectors.T, 0.0, None)  # a graph's edge weights cannot be negative
        np.fill_diagonal(graph, 0.0)
        self.graph = graph

    def dot(self, v: np.ndarray) -> np.ndarray:
        """``X @ v`` → (n_rows,)."""
        return self.vectors @ v

    def tdot(self, y: np.ndarray) -> np.ndarray:
        """``Xᵀ @ y`` → (n_cols,)."""
        return self.vectors.T @ y

    def row(self, i: int) -> np.ndarray:
        """Row ``i``."""
        return self.vectors[i]

    def similarity_times(self, y: np.ndarray) -> np.ndarray:
        """``W @ y``: W the positive cosine similarities of distinct rows."""
        return self.graph @ y


Similarity = Literal["tfidf", "embedding"]
SIMILARITIES: tuple[str, ...] = ("tfidf", "embedding")


def sentence_vectors(sentences: Sequence[str], language: Language, similarity: str = "tfidf"):
    """The sentences' vectors for TextRank and MMR: TF-IDF (:class:`SparseRows`) or MiniLM embeddings
    (:class:`DenseRows`; English only, needs ``genlab[text-embed]``)."""
    if similarity == "tfidf":
        return SparseRows([content_terms(s, language) for s in sentences])
    if similarity != "embedding":
        raise BadInputError(f"unknown sentence similarity '{similarity}'", f"use one of {', '.join(SIMILARITIES)}")
    if language == "zh":
        raise BadInputError("the sentence encoder is English-only", "use --similarity tfidf for Chinese documents")
    from genlab.text.metrics import sentence_embeddings

    return DenseRows(np.asarray(sentence_embeddings(list(sentences)), dtype=np.float64))


def textrank_scores(vectors: SparseRows | DenseRows, damping: float = DAMPING) -> np.ndarray:
    """Weighted PageRank scores (Mihalcea & Tarau 2004, eq. 2) of the sentence-similarity graph."""
    n = vectors.n_rows
    out_weight = vectors.similarity_times(np.ones(n))  # Σ_k w_jk for every sentence j
    safe = np.where(out_weight > 1e-12, out_weight, np.inf)  # a sentence without edges passes nothing on
    scores = np.ones(n)
    for _ in range(MAX_ITERATIONS):
        new = (1 - damping) + damping * vectors.similarity_times(scores / safe)
        moved = np.max(np.abs(new - scores)) if n else 0.0
        scores = new
        if moved < TOLERANCE:
            break
    return scores


def rank_by(scores: np.ndarray) -> list[int]:
    """Indices by decreasing score; equal scores (to :data:`TIE_DECIMALS`) in document order."""
    rounded = np.round(scores, TIE_DECIMALS)
    return sorted(range(len(scores)), key=lambda i: (-rounded[i], i))


def fill(ranking: Sequence[int], lengths: Sequence[int], budget: Budget, prefix: bool = False) -> list[int]:
    """Take sentences in ``ranking`` order while the budget allows; skip those that do not fit
    (``prefix``: stop at the first that does not)."""
    chosen: list[int] = []
    for i in ranking:
        if budget.full([lengths[c] for c in chosen]):
            break
        if budget.fits([lengths[c] for c in chosen], lengths[i]):
            chosen.append(i)
        elif prefix:
            break
    return chosen


def greedy(
    n: int, lengths: Sequence[int], budget: Budget, gain: Callable[[list[int], int], float], stop_when_no_gain: bool
) -> list[int]:
    """Add, one at a time, the fitting sentence of highest ``gain(chosen, i)`` (ties: the earlier one)."""
    chosen: list[int] = []
    while True:
        used = [lengths[c] for c in chosen]
        candidates = [i for i in range(n) if i not in chosen and budget.fits(used, lengths[i])]
        if not candidates:
            return chosen
        gains = [round(gain(chosen, i), TIE_DECIMALS) for i in candidates]
        best = int(np.argmax(gains))  # argmax returns the first of equal maxima
        if stop_when_no_gain and chosen and gains[best] <= 0:
            return chosen
        chosen.append(candidates[best])


def mmr_gain(vectors: SparseRows | DenseRows, mmr_lambda: float) -> Callable[[list[int], int], float]:
    """MMR's marginal relevance of sentence i given the chosen ones (Carbonell & Goldstein 1998)."""
    centroid = vectors.tdot(np.ones(vectors.n_rows)) / max(vectors.n_rows, 1)
    norm = np.linalg.norm(centroid)
    relevance = vectors.dot(centroid / norm) if norm > 0 else np.zeros(vectors.n_rows)
    similarity: dict[int, np.ndarray] = {}  # sentence → its similarity to every sentence, computed once

    def gain(chosen: list[int], i: int) -> float:
        for c in chosen:
            if c not in similarity:
                similarity[c] = vectors.dot(vectors.row(c))
        redundancy = max((similarity[c][i] for c in chosen), default=0.0)
        return mmr_lambda * relevance[i] - (1 - mmr_lambda) * redundancy

    return gain


def oracle_gain(
    sentences: Sequence[str], references: Sequence[str], language: Language
) -> Callable[[list[int], int], float]:
    """The rise in mean ROUGE-1/2/L F1 (best reference) from adding sentence i to the chosen ones."""
    ref_tokens = [tokenize(r, language) for r in references]
    sentence_tokens = [tokenize(s, language) for s in sentences]

    def objective(indices: list[int]) -> float:
        if not indices:
            return 0.0
        tokens = [t for i in sorted(indices) for t in sentence_tokens[i]]
        best = pick_best([scores_of_tokens(ref, tokens) for ref in ref_tokens])
        return sum(best[t].fmeasure for t in ROUGE_TYPES) / len(ROUGE_TYPES)

    cache: dict[tuple[int, ...], float] = {}

    def score(indices: list[int]) -> float:
        key = tuple(sorted(indices))
        if key not in cache:
            cache[key] = objective(list(key))
        return cache[key]

    return lambda chosen, i: score([*chosen, i]) - score(chosen)


def sentence_lengths(sentences: Sequence[str], language: Language) -> list[int]:
    """Length units (words; characters for Chinese) of each sentence."""
    return [length_units(s, language) for s in sentences]
