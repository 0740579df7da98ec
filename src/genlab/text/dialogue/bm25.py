"""Okapi BM25 over short documents (Robertson & Zaragoza 2009, "The Probabilistic Relevance Framework:
BM25 and Beyond", eq. 3.15 with the non-negative IDF of Lucene).

For a query ``q`` (its distinct terms) and a document ``d``::

    score(q, d) = Σ_{t ∈ q} IDF(t) · f(t, d) · (k1 + 1) / (f(t, d) + k1 · (1 − b + b · |d| / avgdl))
    IDF(t)      = ln(1 + (N − n(t) + 0.5) / (n(t) + 0.5))

with ``f(t, d)`` the count of ``t`` in ``d``, ``|d|`` its length in terms, ``avgdl`` the mean length, ``N`` the
number of documents and ``n(t)`` how many contain ``t``. Each query term counts once (the query-frequency
factor with k3 = 0), so repeating a word in a question does not shift the ranking.

:meth:`BM25Index.self_score` scores the query against itself as if it were a document of this collection;
the retrieval layer divides by it to turn scores into a confidence in [0, 1] (see
:mod:`genlab.text.dialogue.retrieval`).

Scoring walks an inverted index (each term's documents and counts), so a query costs the postings of its
terms, not the size of the collection: the same index serves a 30-question FAQ and the 76,000 training
contexts of DailyDialog (:mod:`genlab.text.dialogue.baselines`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

#: Okapi BM25's customary parameters: term-frequency saturation and length normalisation.
K1, B = 1.5, 0.75


class BM25Index:
    """BM25 over ``documents``, each a list of index terms (:func:`genlab.text.dialogue.terms.terms`)."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = K1, b: float = B):
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1, self.b = k1, b
        self.lengths = np.array([len(doc) for doc in documents], dtype=np.float64)
        self.n_docs = len(documents)
        self.avgdl = float(self.lengths.mean()) if self.n_docs and self.lengths.sum() else 1.0
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, doc in enumerate(documents):
            for term, tf in Counter(doc).items():
                docs, tfs = postings.setdefault(term, ([], []))
                docs.append(i)
                tfs.append(tf)
        #: term → (indices of the documents holding it, its count in each)
        self.postings = {
            t: (np.array(d, dtype=np.int64), np.array(f, dtype=np.float64)) for t, (d, f) in postings.items()
        }
        self.doc_freq: Counter[str] = Counter({t: len(d) for t, (d, _) in self.postings.items()})

    def idf(self, term: str) -> float:
        """ln(1 + (N − n + 0.5) / (n + 0.5)): positive for every term, largest for terms no document has."""
        n = self.doc_freq.get(term, 0)
        return math.log(1.0 + (self.n_docs - n + 0.5) / (n + 0.5))

    def _term_weight(self, tf: float | np.ndarray, length: float | np.ndarray) -> float | np.ndarray:
        return tf * (self.k1 + 1) / (tf + self.k1 * (1 - self.b + self.b * length / self.avgdl))

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the query terms ``query``: shape (N,), float64."""
        out = np.zeros(self.n_docs)
        for term in set(query):
            if term not in self.postings:
                continue
            docs, tf = self.postings[term]
            out[docs] += self.idf(term) * self._term_weight(tf, self.lengths[docs])
        return out

    def self_score(self, query: Sequence[str]) -> float:
        """The score the query would get as a document of this collection (0 for an empty query)."""
        counts = Counter(query)
        return float(sum(self.idf(t) * self._term_weight(tf, len(query)) for t, tf in counts.items()))
