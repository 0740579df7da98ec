"""Evaluation of sequence-to-sequence models on their validation pairs: ``genlab eval RUN``.

The validation split is rebuilt from the data config recorded with the model (the held-out pairs of a
pairs file; SciTLDR-A dev for ``scitldr``, every TLDR a reference). Outputs are generated once (beam
search by default) and scored by the task's metrics: ROUGE-1/2/L (Lin 2004; mean per-item F1 against the
best reference, :mod:`genlab.text.rouge`) and the novel-bigram ratio (See et al. 2017) for summarization,
corpus BLEU (Papineni et al. 2002, through sacreBLEU, Post 2018) and exact match for seq2seq. Baselines
score outputs made without the model: the lead sentence of the source (summarization) and the source
copied unchanged (seq2seq).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from genlab.core.config import Config
from genlab.core.errors import ConfigError
from genlab.core.evaluation import EvalContext, register_metric, weights_field
from genlab.text.language import has_cjk
from genlab.text.seq2seq.data import Pair, validation_pairs

SUMMARIZATION, SEQ2SEQ = "summarization", "seq2seq"


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
    return EvalContext(model, task, request, draw_samples=_generate, load_reference=_load_validation)


def _load_validation(ctx: EvalContext) -> Validation:
    recorded = ctx.model.provenance.data.get("data_config")
    if not recorded:
        raise ConfigError("the model does not record its training data", "evaluate a model trained by genlab")
    pairs, source = validation_pairs(recorded, ctx.request.data_dir)
    if not pairs:
        raise ConfigError("the model's data has no validation pairs", "train with --val-fraction above 0")
    return Validation(pairs[: ctx.request.n], source)


def _generate(ctx: EvalContext) -> list[str]:
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


def _is_seq2seq(model: Any) -> str | None:
    from genlab.text.seq2seq.base import EncoderDecoderModel

    if isinstance(model, EncoderDecoderModel) and model.task in (SEQ2SEQ, SUMMARIZATION):
        return None
    return f"{getattr(model, 'registry_name', type(model).__name__)} is not a sequence-to-sequence model"


@register_metric(
    "text/rouge", task=SUMMARIZATION, outputs=("rouge1", "rouge2", "rougeL"), needs=("samples", "reference"),
    default=True, on_baselines=True, applies=_is_seq2seq,
    protocol=lambda ctx: {"rouge": "mean per-item F1, best of the references, Porter stemming (genlab.text.rouge)"},
)  # fmt: skip
def rouge(ctx: EvalContext) -> dict[str, float]:
    """ROUGE-1/2/L F1 of the outputs against the best of each item's references (Lin 2004)."""
    from genlab.text.rouge import corpus_rouge

    return corpus_rouge(ctx.samples, [p.references for p in ctx.reference.pairs])


@register_metric(
    "text/novel_bigram_ratio", task=SUMMARIZATION, outputs=("novel_bigram_ratio",), needs=("samples", "reference"),
    default=True, on_baselines=True, applies=_is_seq2seq,
    protocol=lambda ctx: {"novel_bigram_ratio": "share of output bigrams absent from the source, mean over items"},
)  # fmt: skip
def novel_bigram_ratio(ctx: EvalContext) -> dict[str, float]:
    """Share of the outputs' bigrams not in their source: how abstractive they are (See et al. 2017)."""
    from genlab.text.summarize.metrics import mean_novel_ngram_ratio

    ratio = mean_novel_ngram_ratio(ctx.samples, [p.source for p in ctx.reference.pairs], 2)
    return {"novel_bigram_ratio": float("nan") if ratio is None else ratio}


@register_metric(
    "text/bleu", task=SEQ2SEQ, outputs=("bleu",), needs=("samples", "reference"), default=True, on_baselines=True,
    applies=_is_seq2seq, protocol=lambda ctx: {"bleu": _bleu_signature(ctx)},
)  # fmt: skip
def bleu(ctx: EvalContext) -> dict[str, float]:
    """Corpus BLEU (0-100) of the outputs against the references, by sacreBLEU (Papineni et al. 2002)."""
    return {"bleu": _corpus_bleu(ctx).score}


@register_metric(
    "text/exact_match", task=SEQ2SEQ, outputs=("exact_match",), needs=("samples", "reference"), default=True,
    on_baselines=True, applies=_is_seq2seq,
    protocol=lambda ctx: {"exact_match": "share of outputs equal to a reference after stripping outer whitespace"},
)  # fmt: skip
def exact_match(ctx: EvalContext) -> dict[str, float]:
    """Share of outputs identical to one of their references (outer whitespace ignored)."""
    pairs = ctx.reference.pairs
    hits = sum(out.strip() in {r.strip() for r in p.references} for out, p in zip(ctx.samples, pairs, strict=True))
    return {"exact_match": hits / len(pairs)}


def _corpus_bleu(ctx: EvalContext):
    from genlab.core.optional import require

    sacrebleu = require("sacrebleu", "text", "BLEU")
    pairs = ctx.reference.pairs
    depth = max(len(p.references) for p in pairs)
    # sacreBLEU takes reference *streams*: stream j holds every item's j-th reference (None where it has fewer)
    streams = [[p.references[j] if j < len(p.references) else None for p in pairs] for j in range(depth)]
    tokenize = "zh" if any(has_cjk(p.target) for p in pairs) else "13a"
    metric = sacrebleu.metrics.BLEU(tokenize=tokenize)
    result = metric.corpus_score(list(ctx.samples), streams)
    ctx.cache[f"bleu_signature:{ctx.name}"] = str(metric.get_signature())
    return result


def _bleu_signature(ctx: EvalContext) -> str:
    return ctx.cache.get(f"bleu_signature:{ctx.name}", "sacreBLEU corpus BLEU")
