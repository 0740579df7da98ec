"""Extractive summaries: choose sentences of the document (see :mod:`.methods`) and keep their order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from genlab.core.errors import BadInputError
from genlab.text.language import Language, cut_to_units, resolve_language
from genlab.text.summarize import methods
from genlab.text.summarize.document import prepare

Method = Literal["lead", "textrank", "mmr", "oracle"]
METHODS: tuple[str, ...] = ("lead", "textrank", "mmr", "oracle")
DEFAULT_SENTENCES = 3
DEFAULT_MMR_LAMBDA = 0.7


@dataclass
class Summary:
    """An extractive summary: the chosen ``sentences`` (document order) and their ``indices``.

    ``cut`` is True when even the best sentence was longer than ``max_words`` and was shortened.
    """

    sentences: list[str]
    indices: list[int]
    method: str
    language: Language
    n_document_sentences: int
    truncated_document: bool = False
    cut: bool = False
    options: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The summary as one paragraph (sentences joined by a space; nothing for Chinese)."""
        return ("" if self.language == "zh" else " ").join(self.sentences)

    def to_dict(self) -> dict:
        """JSON-ready record of the summary and how it was made."""
        return {
            "summary": self.text, "sentences": self.sentences, "indices": self.indices, "method": self.method,
            "language": self.language, "document_sentences": self.n_document_sentences,
            "truncated_document": self.truncated_document, "cut": self.cut, **self.options,
        }  # fmt: skip


def make_budget(sentences: int | None, max_words: int | None, language: Language) -> methods.Budget:
    """The length limit: ``sentences`` or ``max_words`` (not both; neither: 3 sentences)."""
    if sentences is not None and max_words is not None:
        raise BadInputError("give either a number of sentences or a number of words, not both", "drop one of them")
    for name, value in (("sentences", sentences), ("max_words", max_words)):
        if value is not None and value < 1:
            raise BadInputError(f"{name} must be at least 1, got {value}", f"give a positive {name}")
    if sentences is None and max_words is None:
        sentences = DEFAULT_SENTENCES
    return methods.Budget(sentences, max_words, language)


def choose(
    sentences: Sequence[str],
    method: str,
    budget: methods.Budget,
    mmr_lambda: float = DEFAULT_MMR_LAMBDA,
    references: Sequence[str] | None = None,
    similarity: str = "tfidf",
) -> list[int]:
    """Indices (document order) of the sentences ``method`` picks within ``budget``; may be empty when no
    sentence fits a word budget. ``similarity``: how TextRank and MMR compare sentences (``tfidf`` or
    ``embedding``, :func:`.methods.sentence_vectors`)."""
    language, n = budget.language, len(sentences)
    lengths = methods.sentence_lengths(sentences, language)
    if method == "lead":
        chosen = methods.fill(range(n), lengths, budget, prefix=True)
    elif method == "textrank":
        vectors = methods.sentence_vectors(sentences, language, similarity)
        chosen = methods.fill(methods.rank_by(methods.textrank_scores(vectors)), lengths, budget)
    elif method == "mmr":
        if not 0 <= mmr_lambda <= 1:
            raise BadInputError(f"the MMR λ must be in [0, 1], got {mmr_lambda}", "1 = relevance only; try 0.7")
        vectors = methods.sentence_vectors(sentences, language, similarity)
        chosen = methods.greedy(n, lengths, budget, methods.mmr_gain(vectors, mmr_lambda), stop_when_no_gain=False)
    elif method == "oracle":
        if not references:
            raise BadInputError("the oracle needs reference summaries", "give references=[...] (it is an upper bound)")
        gain = methods.oracle_gain(sentences, list(references), language)
        chosen = methods.greedy(n, lengths, budget, gain, stop_when_no_gain=True)
    else:
        raise BadInputError(f"unknown summarisation method '{method}'", f"use one of {', '.join(METHODS)}")
    return sorted(chosen)


def extract(
    sentences: Sequence[str],
    method: str = "textrank",
    k: int | None = None,
    max_words: int | None = None,
    language: str = "auto",
    mmr_lambda: float = DEFAULT_MMR_LAMBDA,
    references: Sequence[str] | None = None,
    similarity: str = "tfidf",
) -> Summary:
    """Summarise a document given as its ``sentences`` (already split, e.g. SciTLDR's ``source``).

    ``k`` (sentences) or ``max_words`` bound the length (neither: 3 sentences). When no sentence fits
    ``max_words``, the method's first choice is cut to that many words (characters for Chinese).
    """
    sentences = [s.strip() for s in sentences if s and s.strip()]
    if not sentences:
        raise BadInputError("the document has no sentences", "give a document with at least one sentence")
    lang = resolve_language(language, " ".join(sentences[:200]))
    budget = make_budget(k, max_words, lang)
    indices = choose(sentences, method, budget, mmr_lambda, references, similarity)
    chosen, cut = [sentences[i] for i in indices], False
    if not indices:  # nothing fits the word budget: shorten the best sentence
        unbounded = methods.Budget(1, None, lang)
        indices = choose(sentences, method, unbounded, mmr_lambda, references, similarity)
        chosen, cut = [cut_to_units(sentences[indices[0]], max_words or 1, lang) + "…"], True
    options = {"max_words": max_words} if max_words is not None else {"sentences_limit": budget.sentences}
    if method == "mmr":
        options["mmr_lambda"] = mmr_lambda
    if method in ("textrank", "mmr"):
        options["similarity"] = similarity
    return Summary(chosen, indices, method, lang, len(sentences), cut=cut, options=options)


def summarize_document(
    text: str,
    method: str = "textrank",
    sentences: int | None = None,
    max_words: int | None = None,
    language: str = "auto",
    mmr_lambda: float = DEFAULT_MMR_LAMBDA,
    references: Sequence[str] | None = None,
    name: str = "the text",
    cut: bool = False,
    similarity: str = "tfidf",
) -> Summary:
    """Split ``text`` into sentences (after the checks of :func:`.document.prepare`) and summarise it."""
    doc = prepare(text, language, name, cut)
    summary = extract(doc.sentences, method, sentences, max_words, doc.language, mmr_lambda, references, similarity)
    summary.truncated_document = doc.truncated
    return summary


def summarize(
    text: str,
    method: str = "textrank",
    sentences: int | None = None,
    max_words: int | None = None,
    language: str = "auto",
    mmr_lambda: float = DEFAULT_MMR_LAMBDA,
    references: Sequence[str] | None = None,
    similarity: str = "tfidf",
) -> str:
    """The extractive summary of ``text`` as a string.

    >>> summarize(report, method="textrank", sentences=3)
    >>> summarize(report_zh, method="mmr", max_words=80)   # Chinese: 80 characters

    ``method``: ``lead``, ``textrank``, ``mmr`` (λ = ``mmr_lambda``) or ``oracle`` (needs
    ``references``). ``language``: ``auto``, ``en`` or ``zh``. ``similarity``: ``tfidf`` or ``embedding``
    (TextRank and MMR). Raises ``BadInputError`` for an empty text; a text over 1 MB is cut at a sentence
    boundary with a logged warning.
    """
    doc = summarize_document(
        text, method, sentences, max_words, language, mmr_lambda, references, similarity=similarity
    )
    return doc.text


def principal_sentence(text: str, language: str = "auto") -> str:
    """The document's principal sentence: the one with the highest ROUGE-1 F1 against the rest of the
    document, each sentence scored on its own (the "Ind-Orig" gap-sentence choice of PEGASUS, Zhang et al.
    2020) — a pseudo-summary for pre-training abstractive summarizers on unlabelled documents. A document of
    one sentence returns it."""
    from genlab.text.rouge import rouge_n, tokenize

    doc = prepare(text, language)
    if len(doc.sentences) == 1:
        return doc.sentences[0]
    tokens = [tokenize(s, doc.language) for s in doc.sentences]

    def gain(i: int) -> float:
        rest = [t for j, sentence in enumerate(tokens) if j != i for t in sentence]
        return rouge_n(rest, tokens[i], 1).fmeasure

    return doc.sentences[max(range(len(tokens)), key=gain)]
