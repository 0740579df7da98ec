"""Summary metrics beside ROUGE (:mod:`genlab.text.rouge`): abstractiveness and length.

* novel n-gram ratio (See et al. 2017; Narayan et al. 2018, XSum): the share of a summary's n-grams
  that do not occur in its source document — 0 for an extractive summary, higher for a more
  abstractive one. Tokens are ROUGE tokens without stemming (lowercase ``[a-z0-9]+`` words; Chinese
  characters), so word forms the source does not contain count as novel. The corpus value is the mean
  of the per-summary ratios (summaries with no n-gram are left out).
* length statistics: mean, median, min and max of the summaries' lengths in words (characters for
  Chinese) and the mean compression ratio (summary length / source length).

Distinct-n (Li et al. 2016) is :func:`genlab.text.metrics.distinct_n`.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from genlab.core.errors import BadInputError
from genlab.text.language import length_units, resolve_language
from genlab.text.rouge import ngram_counts, tokenize


def novel_ngram_ratio(summary: str, source: str, n: int = 2, language: str = "auto") -> float | None:
    """Share of the summary's n-grams (with repeats) absent from ``source``; None when it has no n-gram."""
    if n < 1:
        raise BadInputError(f"n must be at least 1, got {n}", "use n = 1 (words) or 2 (bigrams)")
    lang = resolve_language(language, summary + "\n" + source)
    grams = ngram_counts(tokenize(summary, lang, use_stemmer=False), n)
    total = sum(grams.values())
    if not total:
        return None
    source_grams = ngram_counts(tokenize(source, lang, use_stemmer=False), n)
    novel = sum(count for gram, count in grams.items() if gram not in source_grams)
    return novel / total


def mean_novel_ngram_ratio(
    summaries: Sequence[str], sources: Sequence[str], n: int = 2, language: str = "auto"
) -> float | None:
    """Mean of :func:`novel_ngram_ratio` over summary/source pairs (None when no summary has an n-gram)."""
    if len(summaries) != len(sources):
        raise BadInputError(f"{len(summaries)} summaries but {len(sources)} sources", "give one source per summary")
    ratios = [novel_ngram_ratio(s, d, n, language) for s, d in zip(summaries, sources, strict=True)]
    ratios = [r for r in ratios if r is not None]
    return sum(ratios) / len(ratios) if ratios else None


def length_stats(summaries: Sequence[str], sources: Sequence[str] | None = None, language: str = "auto") -> dict:
    """Length statistics of ``summaries`` in words (characters for Chinese), and the mean compression
    ratio against ``sources`` when given: ``{"length_mean", "length_median", "length_min", "length_max",
    "length_unit", "compression"}``."""
    if not summaries:
        raise BadInputError("no summaries to measure", "give at least one summary")
    lang = resolve_language(language, "\n".join(summaries[:100]))
    lengths = [length_units(s, lang) for s in summaries]
    stats = {
        "length_mean": sum(lengths) / len(lengths), "length_median": float(statistics.median(lengths)),
        "length_min": min(lengths), "length_max": max(lengths),
        "length_unit": "characters" if lang == "zh" else "words",
    }  # fmt: skip
    if sources is not None:
        if len(sources) != len(summaries):
            raise BadInputError(f"{len(summaries)} summaries but {len(sources)} sources", "give one source per summary")
        ratios = [n / m for n, m in zip(lengths, (length_units(d, lang) for d in sources), strict=True) if m]
        stats["compression"] = sum(ratios) / len(ratios) if ratios else None
    return stats
