"""Text-generation metrics: perplexity and bits per character, distinct-n, self-BLEU, memorization.

* perplexity = exp(mean NLL per token); bits per character = total NLL / (characters · ln 2),
  which compares models with different tokenizers.
* distinct-n (Li et al. 2016): distinct n-grams / all n-grams over the generated samples.
* self-BLEU (Zhu et al. 2018, Texygen): mean BLEU of each sample against the others as references;
  higher means less diverse. BLEU comes from ``sacrebleu`` (its ``zh`` tokenizer for Chinese).
* memorization rate: share of the generated character n-grams (n = 8) found verbatim in the
  training text — how much of the output is copied.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from genlab.core.errors import GenlabError

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def perplexity(nll_nats: float, n_tokens: int) -> float:
    """exp of the mean negative log-likelihood per token."""
    return math.exp(nll_nats / max(n_tokens, 1))


def bits_per_char(nll_nats: float, n_chars: int) -> float:
    """Total NLL (nats) over a text of ``n_chars`` characters, in bits per character."""
    return nll_nats / max(n_chars, 1) / math.log(2)


def distinct_n(samples: Sequence[Sequence[str]], n: int) -> float:
    """Distinct n-grams / total n-grams over all samples (each a sequence of units: characters or tokens)."""
    total, seen = 0, set()
    for units in samples:
        grams = [tuple(units[i : i + n]) for i in range(len(units) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def self_bleu(samples: Sequence[str]) -> float:
    """Mean sentence BLEU (0–100) of every sample against all the others (needs ≥ 2 samples)."""
    try:
        from sacrebleu.metrics import BLEU
    except ImportError:
        raise GenlabError("sacrebleu is not installed", "install the text extra: pip install 'genlab[text]'") from None
    if len(samples) < 2:
        return float("nan")
    tokenize = "zh" if any(_CJK.search(s) for s in samples) else "13a"
    bleu = BLEU(tokenize=tokenize, effective_order=True)
    scores = [bleu.sentence_score(s, [r for j, r in enumerate(samples) if j != i]).score for i, s in enumerate(samples)]
    return sum(scores) / len(scores)


def memorization_rate(samples: Sequence[str], train_text: str, n: int = 8) -> float:
    """Share of the samples' character n-grams (whitespace runs collapsed) found verbatim in ``train_text``."""
    norm = lambda s: re.sub(r"\s+", " ", s)  # noqa: E731
    corpus = norm(train_text)
    grams = [g for s in samples for g in _char_ngrams(norm(s), n)]
    if not grams:
        return 0.0
    index = _ngram_index(corpus, n) if len(grams) > 2000 else None
    hits = sum((g in index) if index is not None else (g in corpus) for g in grams)
    return hits / len(grams)


def _char_ngrams(text: str, n: int) -> list[str]:
    return [text[i : i + n] for i in range(len(text) - n + 1)]


def _ngram_index(corpus: str, n: int) -> set[str]:
    """Every character n-gram of the corpus (faster than substring search for many queries)."""
    return {corpus[i : i + n] for i in range(len(corpus) - n + 1)}
