"""How well the retrieval layer finds the right FAQ entry, and where its threshold should sit.

* hits@1: share of test questions whose best entry is the right one; MRR (Voorhees 1999, TREC-8 QA): mean of
  1 / rank of the right entry. Entries are ranked by confidence, ties in file order; an entry with confidence 0
  shares no evidence with the question and is not ranked (it adds 0 to the MRR).
* A test set is a JSON-lines file of ``{"query": "...", "question": "<the FAQ question it asks>"}``; a
  ``"question": null`` line is an out-of-scope query that the bot should not answer from the FAQ.
* :func:`leave_one_out` turns the FAQ's own paraphrases into a development set (each wording asked of the FAQ
  without that wording), on which :func:`tune_threshold` picks the confidence threshold — the held-out test
  sets are never used for tuning.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from genlab.core.errors import BadInputError
from genlab.text.dialogue.faq import BUILTIN_TESTS, FAQ, load_faq
from genlab.text.dialogue.retrieval import Retriever, build_retriever

#: A test pair: the user's wording, and the FAQ entry it asks (its index or question; None: out of scope).
Pair = tuple[str, int | str | None]


def load_test_pairs(path: str | Path) -> list[tuple[str, str | None]]:
    """(query, FAQ question or None) pairs of a JSON-lines test set (or ``builtin:faq-en`` for the shipped one)."""
    path = BUILTIN_TESTS.get(str(path), path)
    pairs = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            query, question = row["query"], row["question"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise BadInputError(
                f"{path}, line {number}: not a test pair", 'write {"query": "...", "question": "..."} on each line'
            ) from None
        if not isinstance(query, str) or not (question is None or isinstance(question, str)):
            raise BadInputError(f"{path}, line {number}: 'query' must be text and 'question' text or null")
        pairs.append((query, question))
    return pairs


def _index(faq: FAQ, expected: int | str | None) -> int | None:
    if expected is None or isinstance(expected, int):
        return expected
    return faq.index_of(expected)


def rank_of(scores: np.ndarray, index: int) -> int | None:
    """1-based rank of entry ``index`` by ``scores`` (ties: file order), None when its score is 0."""
    if scores[index] <= 0:
        return None
    return int(np.sum(scores > scores[index]) + np.sum(scores[:index] == scores[index]) + 1)


def faq_retrieval_scores(faq: FAQ | str | Path, test_pairs: Iterable[Pair], retriever: str | Retriever = "bm25"):
    """``{"hits_at_1", "mrr", "n"}`` of ``retriever`` on the in-scope ``test_pairs`` (out-of-scope pairs are left out).

    ``faq``: an :class:`FAQ`, a file or a shipped name; ``retriever``: a name or a built retriever over ``faq``.
    """
    faq = faq if isinstance(faq, FAQ) else load_faq(faq)
    retriever = build_retriever(retriever, faq.entries) if isinstance(retriever, str) else retriever
    ranks = []
    for query, expected in test_pairs:
        index = _index(faq, expected)
        if index is not None:
            ranks.append(rank_of(retriever.scores(query), index))
    if not ranks:
        raise BadInputError("no in-scope test pairs to score", "give pairs whose question is in the FAQ")
    return {
        "hits_at_1": sum(r == 1 for r in ranks) / len(ranks),
        "mrr": sum(1 / r for r in ranks if r) / len(ranks),
        "n": len(ranks),
    }


def confidences(faq: FAQ, pairs: Iterable[Pair], retriever: Retriever) -> tuple[list[tuple[float, bool]], list[float]]:
    """For in-scope pairs (best confidence, whether the best entry is right); for out-of-scope ones the best
    confidence."""
    inside, outside = [], []
    for query, expected in pairs:
        scores = retriever.scores(query)
        index = _index(faq, expected)
        if index is None:
            outside.append(float(scores.max()))
        else:
            inside.append((float(scores.max()), rank_of(scores, index) == 1))
    return inside, outside


def threshold_scores(inside: Sequence[tuple[float, bool]], outside: Sequence[float], threshold: float) -> dict:
    """At ``threshold``: ``answered_correct`` (in-scope questions answered with the right entry),
    ``answered_wrong`` (answered with another) and ``out_of_scope_refused`` (out-of-scope ones not answered)."""
    out = {
        "answered_correct": float(np.mean([c >= threshold and ok for c, ok in inside])) if inside else None,
        "answered_wrong": float(np.mean([c >= threshold and not ok for c, ok in inside])) if inside else None,
        "out_of_scope_refused": float(np.mean([c < threshold for c in outside])) if outside else None,
    }
    return out


def tune_threshold(inside: Sequence[tuple[float, bool]], outside: Sequence[float]) -> float:
    """The threshold (0.01 grid) that maximises Youden's J (Youden 1950, "Index for rating diagnostic tests") of
    answering: the share of in-scope questions answered with the right entry (a wrong answer and a fallback both
    count as misses) plus the share of out-of-scope questions sent to the fallback, minus 1. Of equally good
    thresholds, the middle one."""
    grid = np.round(np.arange(0.01, 1.0, 0.01), 2)
    values = []
    for t in grid:
        s = threshold_scores(inside, outside, float(t))
        values.append((s["answered_correct"] or 0.0) + (s["out_of_scope_refused"] or 0.0) - 1)
    best = np.flatnonzero(np.isclose(values, max(values)))
    return float(grid[best[len(best) // 2]])


def leave_one_out(faq: FAQ) -> Iterable[tuple[FAQ, str, int]]:
    """(the FAQ without one wording, that wording, its entry index) for every wording of every entry that has
    several: each paraphrase (and each question, answered by its paraphrases) becomes a development query."""
    for i, entry in enumerate(faq.entries):
        if len(entry.variants) < 2:
            continue
        for j, wording in enumerate(entry.variants):
            rest = [v for k, v in enumerate(entry.variants) if k != j]
            held = replace(entry, question=rest[0], paraphrases=tuple(rest[1:]))
            yield replace(faq, entries=[*faq.entries[:i], held, *faq.entries[i + 1 :]]), wording, i


def leave_one_out_confidences(faq: FAQ, retriever: str) -> list[tuple[float, bool]]:
    """(best confidence, right entry first?) of every held-out wording of :func:`leave_one_out`."""
    out = []
    for reduced, wording, index in leave_one_out(faq):
        scores = build_retriever(retriever, reduced.entries).scores(wording)
        out.append((float(scores.max()), rank_of(scores, index) == 1))
    return out
