"""ROUGE-1, ROUGE-2 and ROUGE-L (Lin 2004, "ROUGE: A Package for Automatic Evaluation of Summaries").

For a candidate summary C and a reference R, as token sequences:

* ROUGE-N counts the n-grams they share, each at most as often as it occurs in both (clipped counts):
  precision = shared / n-grams of C, recall = shared / n-grams of R.
* ROUGE-L uses the longest common subsequence (LCS) of the two sequences, in-order but not necessarily
  contiguous: precision = LCS / |C|, recall = LCS / |R| (summary-level "rougeL", no sentence splitting).
* F1 = 2PR / (P + R) (Lin's F-measure with β = 1), 0 when P + R = 0.

English tokenisation is that of Google's ``rouge-score`` package with ``use_stemmer=True`` (its
documented default tokenizer): lowercase, every run of characters other than ``a-z0-9`` becomes a
space, tokens longer than 3 characters are reduced by NLTK's Porter stemmer, and only ``[a-z0-9]+``
tokens are kept. So non-English letters vanish: Chinese is tokenised separately, either into
characters (``zh_unit="char"``, the default: each CJK ideograph is a token and each Latin/digit run
inside the text one more) or into jieba words (``zh_unit="jieba"``). Scores are in 0–1.

With several references (SciTLDR's dev and test items have up to four) an item is scored against
each and the best is kept (:func:`best_of_references`). ``select="rouge1"`` keeps the reference with
the highest ROUGE-1 F1 and reports all three scores against it, as SciTLDR's evaluation script does
(Cachola et al. 2020); ``select="each"`` takes the maximum of each score separately.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from genlab.core.errors import BadInputError
from genlab.text.language import CJK, jieba_module, porter_stem, resolve_language

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
ZhUnit = Literal["char", "jieba"]
Select = Literal["rouge1", "each"]

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_VALID_TOKEN = re.compile(r"^[a-z0-9]+$")
_ZH_TOKEN = re.compile(CJK.pattern + r"|[^\W_\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
STEM_MIN_LENGTH = 4  # rouge-score stems only tokens longer than 3 characters


@dataclass(frozen=True)
class Score:
    """Precision, recall and F1 of one ROUGE type, each in [0, 1]."""

    precision: float
    recall: float
    fmeasure: float

    @classmethod
    def of(cls, overlap: int, candidate_total: int, reference_total: int) -> Score:
        """From the overlap count and the two totals (an empty side gives 0)."""
        precision = overlap / candidate_total if candidate_total else 0.0
        recall = overlap / reference_total if reference_total else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        return cls(precision, recall, f1)


def stem(token: str) -> str:
    """Porter stem (NLTK's default mode, as rouge-score uses it) of a token longer than 3 characters."""
    return porter_stem(token) if len(token) >= STEM_MIN_LENGTH else token


def tokenize_en(text: str, use_stemmer: bool = True) -> list[str]:
    """rouge-score's default tokenisation: lowercase ``[a-z0-9]+`` runs, Porter-stemmed when longer than 3."""
    tokens = _NON_ALNUM.sub(" ", text.lower()).split()
    if use_stemmer:
        tokens = [stem(t) for t in tokens]
    return [t for t in tokens if _VALID_TOKEN.match(t)]


def tokenize_zh(text: str, unit: ZhUnit = "char", use_stemmer: bool = True) -> list[str]:
    """Chinese tokens: CJK characters (and Latin/digit runs, lowercased) or jieba words; punctuation dropped."""
    if unit == "jieba":
        jieba = jieba_module()
        pieces = [w.strip().lower() for w in jieba.lcut(text)]
        pieces = [w for w in pieces if re.search(r"[^\W_]", w)]
    elif unit == "char":
        pieces = [p.lower() for p in _ZH_TOKEN.findall(text)]
    else:
        raise BadInputError(f"unknown Chinese ROUGE unit '{unit}'", "use char or jieba")
    if use_stemmer:
        pieces = [stem(p) if _VALID_TOKEN.match(p) else p for p in pieces]
    return pieces


def tokenize(text: str, language: str = "en", use_stemmer: bool = True, zh_unit: ZhUnit = "char") -> list[str]:
    """ROUGE tokens of ``text`` in ``language`` (``en``, ``zh`` or ``auto``)."""
    if resolve_language(language, text) == "zh":
        return tokenize_zh(text, zh_unit, use_stemmer)
    return tokenize_en(text, use_stemmer)


def ngram_counts(tokens: Sequence[str], n: int) -> Counter:
    """How often each n-gram (a tuple of tokens) occurs in ``tokens``."""
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def rouge_n(reference: Sequence[str], candidate: Sequence[str], n: int) -> Score:
    """ROUGE-N of token sequences: clipped n-gram overlap over the candidate's and the reference's n-grams."""
    ref, cand = ngram_counts(reference, n), ngram_counts(candidate, n)
    overlap = sum(min(count, cand[gram]) for gram, count in ref.items())
    return Score.of(overlap, sum(cand.values()), sum(ref.values()))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of ``a`` and ``b``.

    Bit-parallel (Allison & Dix 1986; Hyyrö 2004): bit i of the row vector stands for position i of
    ``a``, and one pass of integer operations per element of ``b`` replaces a row of the O(|a|·|b|)
    dynamic-programming table, so long texts stay fast in Python.
    """
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    row = 0
    for token in b:
        match = masks.get(token, 0) | row
        shifted = (row << 1) | 1
        row = match & ((match - shifted) ^ match)
    return row.bit_count()


def rouge_l(reference: Sequence[str], candidate: Sequence[str]) -> Score:
    """ROUGE-L of token sequences: LCS over the candidate's and the reference's lengths."""
    return Score.of(lcs_length(reference, candidate), len(candidate), len(reference))


def scores_of_tokens(reference: Sequence[str], candidate: Sequence[str]) -> dict[str, Score]:
    """ROUGE-1, ROUGE-2 and ROUGE-L of two token sequences."""
    return {"rouge1": rouge_n(reference, candidate, 1), "rouge2": rouge_n(reference, candidate, 2),
            "rougeL": rouge_l(reference, candidate)}  # fmt: skip


def rouge(
    reference: str, candidate: str, language: str = "auto", use_stemmer: bool = True, zh_unit: ZhUnit = "char"
) -> dict[str, Score]:
    """ROUGE-1/2/L of ``candidate`` against one ``reference`` (``{"rouge1": Score, "rouge2", "rougeL"}``).

    ``language``: ``en``, ``zh`` or ``auto`` (detected on the two texts together).
    """
    language = resolve_language(language, reference + "\n" + candidate)
    ref = tokenize(reference, language, use_stemmer, zh_unit)
    cand = tokenize(candidate, language, use_stemmer, zh_unit)
    return scores_of_tokens(ref, cand)


def pick_best(per_reference: Sequence[dict[str, Score]], select: Select = "rouge1") -> dict[str, Score]:
    """The best of the scores against several references (see the module docstring for ``select``)."""
    if not per_reference:
        raise BadInputError("an item has no reference summary", "give at least one reference per item")
    if select == "rouge1":
        return max(per_reference, key=lambda s: s["rouge1"].fmeasure)  # the first of equals, as a strict max
    if select == "each":
        return {t: max((s[t] for s in per_reference), key=lambda x: x.fmeasure) for t in ROUGE_TYPES}
    raise BadInputError(f"unknown reference selection '{select}'", "use rouge1 or each")


def best_of_references(
    references: Sequence[str],
    candidate: str,
    language: str = "auto",
    select: Select = "rouge1",
    use_stemmer: bool = True,
    zh_unit: ZhUnit = "char",
) -> dict[str, Score]:
    """ROUGE of ``candidate`` against the best of ``references`` (max F1 per item)."""
    if isinstance(references, str):
        references = [references]
    language = resolve_language(language, "\n".join([*references, candidate]))
    scores = [rouge(r, candidate, language, use_stemmer, zh_unit) for r in references]
    return pick_best(scores, select)


def corpus_rouge(
    candidates: Sequence[str],
    references: Sequence[str | Sequence[str]],
    language: str = "auto",
    select: Select = "rouge1",
    use_stemmer: bool = True,
    zh_unit: ZhUnit = "char",
) -> dict[str, float]:
    """Mean over items of the per-item F1 (best of each item's references), in 0–1.

    ``references[i]`` is one reference text or a list of them. Returns ``{"rouge1", "rouge2", "rougeL"}``.
    """
    if len(candidates) != len(references):
        raise BadInputError(
            f"{len(candidates)} summaries but {len(references)} reference sets", "give one reference set per summary"
        )
    if not candidates:
        raise BadInputError("no summaries to score", "give at least one summary and its references")
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for candidate, refs in zip(candidates, references, strict=True):
        best = best_of_references(refs, candidate, language, select, use_stemmer, zh_unit)
        for t in ROUGE_TYPES:
            totals[t] += best[t].fmeasure
    return {t: totals[t] / len(candidates) for t in ROUGE_TYPES}
