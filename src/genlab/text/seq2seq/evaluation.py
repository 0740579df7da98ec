"""Evaluation of sequence-to-sequence models on their validation pairs: ``genlab eval RUN``.

The validation split is rebuilt from the data config recorded with the model (the held-out pairs of a
pairs file; SciTLDR-A dev for ``scitldr``, every TLDR a reference). Outputs are generated once (beam
search by default) and scored by the task's metrics: ROUGE-1/2/L (Lin 2004; mean per-item F1 against the
best reference, :mod:`genlab.text.rouge`) and the novel uni/bi/trigram ratios (See et al. 2017) for
summarization; corpus BLEU (Papineni et al. 2002, through sacreBLEU, Post 2018) and exact match for
seq2seq; output length and compression for both, and on request BERTScore with the offline MiniLM
encoder (``bertscore-free``, :func:`genlab.text.metrics.bertscore`); BLEU and length also score dialogue models
(:mod:`genlab.text.dialogue.generation`). Baselines
score outputs made without the model: the lead sentence of the source (summarization) and the source
copied unchanged (seq2seq).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from genlab.core.config import Config
from genlab.core.errors import ConfigError
from genlab.core.evaluation import EvalContext, register_metric, weights_field
from genlab.text.language import has_cjk
from genlab.text.seq2seq.data import Pair, validation_pairs

SUMMARIZATION, SEQ2SEQ, DIALOGUE = "summarization", "seq2seq", "dialogue"
NOVEL_KEYS = ("novel_unigram_ratio", "novel_bigram_ratio", "novel_trigram_ratio")


class Seq2SeqEvalRequest(Config):
    """Options of ``genlab eval`` for sequence-to-sequence models."""

    n: int = Field(200, ge=1, description="validation pairs scored (the first n of the split)")
    beam: int = Field(4, ge=1, le=64, description="beam width of the generated outputs (1: greedy)")
    length_penalty: float = Field(1.0, ge=0, description="beam scores divided by length ** this")
    no_repeat_ngram: int = Field(0, ge=0, description="forbid repeating n-grams of this size (0: allowed)")
    max_new_tokens: int | None = Field(None, ge=1, description="tokens generated at most (default: the model's)")
    seed: int = Field(0, description="seed (outputs are deterministic unless sampled)")
    data_dir: str | None = Field(None, description="folder of standard datasets")


@dataclass
class Validation:
    """The scored pairs and where they come from."""

    pairs: list[Pair]
    source: str


def model_context(task, model, request: Seq2SeqEvalRequest) -> EvalContext:
    """Outputs of the model for the validation sources; references from the recorded data."""
    return EvalContext(model, task, request, draw_samples=generate_outputs, load_reference=_load_validation)


def _load_validation(ctx: EvalContext) -> Validation:
    recorded = ctx.model.provenance.data.get("data_config")
    if not recorded:
        raise ConfigError("the model does not record its training data", "evaluate a model trained by genlab")
    pairs, source = validation_pairs(recorded, ctx.request.data_dir)
    if not pairs:
        raise ConfigError("the model's data has no validation pairs", "train with --val-fraction above 0")
    return Validation(pairs[: ctx.request.n], source)


def generate_outputs(ctx: EvalContext) -> list[str]:
    """The model's outputs for the sources of the context's reference pairs, in batches of 32."""
    r = ctx.request
    sources = [p.source for p in ctx.reference.pairs]
    options = {"num_beams": r.beam, "length_penalty": r.length_penalty, "no_repeat_ngram": r.no_repeat_ngram,
               "max_new_tokens": r.max_new_tokens, "seed": r.seed}  # fmt: skip
    out: list[str] = []
    for i in range(0, len(sources), 32):
        out += ctx.model.generate(sources[i : i + 32], **options)
    return out


def model_protocol(ctx: EvalContext) -> dict[str, Any]:
    """Protocol fields of every seq2seq evaluation."""
    r = ctx.request
    return {
        "val_source": ctx.reference.source, "n_pairs": len(ctx.reference.pairs), "beam": r.beam,
        "length_penalty": r.length_penalty, "no_repeat_ngram": r.no_repeat_ngram, **weights_field(ctx.model),
    }  # fmt: skip


def baseline_contexts(ctx: EvalContext) -> dict[str, EvalContext]:
    """Outputs without the model: the source's first sentence (summarization) or the source itself (seq2seq)."""
    sources = [p.source for p in ctx.reference.pairs]
    if ctx.model.task == SUMMARIZATION:
        from genlab.text.summarize import summarize

        lead = [summarize(s, method="lead", sentences=1) for s in sources]
        return {"lead_1": ctx.derive("lead_1", samples=lead, protocol={"baseline": "first sentence of the source"})}
    return {"copy": ctx.derive("copy", samples=sources, protocol={"baseline": "the source copied unchanged"})}


def seq2seq_problem(model: Any) -> str | None:
    """None for an encoder-decoder serving one of the text-pair tasks, else why it cannot be scored as one."""
    from genlab.text.seq2seq.base import encoder_decoder_problem

    if getattr(model, "task", "") in (SEQ2SEQ, SUMMARIZATION, DIALOGUE):
        return encoder_decoder_problem(model)
    return f"{getattr(model, 'registry_name', type(model).__name__)} is not a sequence-to-sequence model"


@register_metric(
    "text/rouge", task=SUMMARIZATION, outputs=("rouge1", "rouge2", "rougeL"), needs=("samples", "reference"),
    default=True, on_baselines=True, applies=seq2seq_problem,
    protocol=lambda ctx: {"rouge": "mean per-item F1, best of the references, Porter stemming (genlab.text.rouge)"},
)  # fmt: skip
def rouge(ctx: EvalContext) -> dict[str, float]:
    """ROUGE-1/2/L F1 of the outputs against the best of each item's references (Lin 2004)."""
    from genlab.text.rouge import corpus_rouge

    return corpus_rouge(ctx.samples, [p.references for p in ctx.reference.pairs])


@register_metric(
    "text/novel_ngrams", task=SUMMARIZATION, outputs=NOVEL_KEYS, needs=("samples", "reference"),
    default=True, on_baselines=True, applies=seq2seq_problem,
    protocol=lambda ctx: {"novel_ngrams": "share of output n-grams absent from the source, mean over items"},
)  # fmt: skip
def novel_ngrams(ctx: EvalContext) -> dict[str, float]:
    """Shares of the outputs' unigrams, bigrams and trigrams not in their source: how abstractive they are
    (See et al. 2017; Narayan et al. 2018)."""
    from genlab.text.summarize.metrics import mean_novel_ngram_ratio

    sources = [p.source for p in ctx.reference.pairs]
    out = {}
    for n, key in enumerate(NOVEL_KEYS, start=1):
        ratio = mean_novel_ngram_ratio(ctx.samples, sources, n)
        out[key] = float("nan") if ratio is None else ratio
    return out


@register_metric(
    "text/length", task=(SUMMARIZATION, SEQ2SEQ, DIALOGUE), outputs=("length_mean", "length_median", "compression"),
    needs=("samples", "reference"), default=True, on_baselines=True, applies=seq2seq_problem,
    protocol=lambda ctx: {"length": "output length in words (characters for Chinese); compression = output / source"},
)  # fmt: skip
def length(ctx: EvalContext) -> dict[str, float]:
    """Mean and median output length, and the mean compression ratio (output length / source length)."""
    from genlab.text.summarize.metrics import length_stats

    stats = length_stats(list(ctx.samples), [p.source for p in ctx.reference.pairs])
    compression = stats["compression"]
    return {"length_mean": stats["length_mean"], "length_median": stats["length_median"],
            "compression": float("nan") if compression is None else compression}  # fmt: skip


@register_metric(
    "text/bertscore_free", task=(SUMMARIZATION, SEQ2SEQ), outputs=("bertscore_precision", "bertscore_recall",
    "bertscore_f1"), needs=("samples", "reference"), on_baselines=True, applies=seq2seq_problem,
    protocol=lambda ctx: {"bertscore_free": "BERTScore by greedy matching of offline all-MiniLM-L6-v2 token "
                          "embeddings, best reference, no idf or rescaling (genlab.text.metrics.bertscore)"},
)  # fmt: skip
def bertscore_free(ctx: EvalContext) -> dict[str, float]:
    """Embedding BERTScore P/R/F1 of the outputs against the best reference (needs ``genlab[text-embed]``)."""
    from genlab.text.metrics import bertscore

    return bertscore(list(ctx.samples), [p.references for p in ctx.reference.pairs])


@register_metric(
    "text/bleu", task=(SEQ2SEQ, DIALOGUE), outputs=("bleu",), needs=("samples", "reference"), default=True,
    on_baselines=True, applies=seq2seq_problem, protocol=lambda ctx: {"bleu": _bleu_signature(ctx)},
)  # fmt: skip
def bleu(ctx: EvalContext) -> dict[str, float]:
    """Corpus BLEU (0-100) of the outputs against the references, by sacreBLEU (Papineni et al. 2002)."""
    return {"bleu": _corpus_bleu(ctx).score}


@register_metric(
    "text/exact_match", task=SEQ2SEQ, outputs=("exact_match",), needs=("samples", "reference"), default=True,
    on_baselines=True, applies=seq2seq_problem,
    protocol=lambda ctx: {"exact_match": "share of outputs equal to a reference after stripping outer whitespace"},
)  # fmt: skip
def exact_match(ctx: EvalContext) -> dict[str, float]:
    """Share of outputs identical to one of their references (outer whitespace ignored)."""
    pairs = ctx.reference.pairs
    hits = sum(out.strip() in {r.strip() for r in p.references} for out, p in zip(ctx.samples, pairs, strict=True))
    return {"exact_match": hits / len(pairs)}


def _corpus_bleu(ctx: EvalContext):
    result, signature = corpus_bleu(ctx.samples, [p.references for p in ctx.reference.pairs])
    ctx.cache[f"bleu_signature:{ctx.name}"] = signature
    return result


def corpus_bleu(outputs: Sequence[str], references: Sequence[Sequence[str]]):
    """sacreBLEU's corpus BLEU of ``outputs`` against each item's ``references`` (one or more; the ``13a``
    tokenizer, ``zh`` when a first reference holds Chinese): (the ``BLEUScore``, its signature)."""
    from genlab.core.optional import require

    sacrebleu = require("sacrebleu", "text", "BLEU")
    depth = max(len(refs) for refs in references)
    # sacreBLEU takes reference *streams*: stream j holds every item's j-th reference (None where it has fewer)
    streams = [[refs[j] if j < len(refs) else None for refs in references] for j in range(depth)]
    tokenize = "zh" if any(has_cjk(refs[0]) for refs in references) else "13a"
    metric = sacrebleu.metrics.BLEU(tokenize=tokenize)
    result = metric.corpus_score(list(outputs), streams)
    return result, str(metric.get_signature())


def _bleu_signature(ctx: EvalContext) -> str:
    return ctx.cache.get(f"bleu_signature:{ctx.name}", "sacreBLEU corpus BLEU")
