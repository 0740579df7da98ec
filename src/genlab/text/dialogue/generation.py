"""Evaluation of generative dialogue models: ``genlab eval RUN [--split test] [--metrics bleu,distinct,length]``.

The model replies to the first ``n`` contexts of a split of its recorded data (``validation`` by default, the
split it was validated on; ``test``: DailyDialog's official test split) with the chat's decoding (beam search,
no repeated trigram), and the replies are scored against the responses that followed in the data:

* ``bleu``: sacreBLEU corpus BLEU (Papineni et al. 2002; Post 2018), one reference per context — low for any
  open-domain chat model, since many replies fit a context (Liu et al. 2016): compare models, not to 100;
* ``distinct_1``/``distinct_2``: distinct unigrams and bigrams over all replies' (Li et al. 2016,
  :func:`genlab.text.metrics.distinct_n`; words, characters for Chinese): how varied the replies are;
* ``length_mean``: mean reply length in words (characters for Chinese), with the median and the reply/context
  compression (``text/length`` of :mod:`genlab.text.seq2seq.evaluation`).

Baseline: ``nearest_context``, the retrieval replies of :class:`~genlab.text.dialogue.baselines.NearestContext`
over the same training pairs. :func:`response_scores` gives all the figures for replies made anywhere (the
benchmark's rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

from genlab.core.errors import ConfigError
from genlab.core.evaluation import EvalContext
from genlab.text.dialogue.respond import CHAT_DECODING
from genlab.text.metrics import distinct_scores, text_units
from genlab.text.seq2seq.evaluation import (
    Seq2SeqEvalRequest,
    Validation,
    corpus_bleu,
    generate_outputs,
)
from genlab.text.seq2seq.evaluation import model_protocol as seq2seq_protocol


class DialogueEvalRequest(Seq2SeqEvalRequest):
    """Options of ``genlab eval`` for dialogue models."""

    split: Literal["validation", "test"] = Field(
        "validation", description="contexts replied to: the validation split, or DailyDialog's test split"
    )
    n: int = Field(200, ge=1, description="contexts replied to (the first n of the split)")
    beam: int = Field(CHAT_DECODING["num_beams"], ge=1, le=64, description="beam width of the replies (1: greedy)")
    no_repeat_ngram: int = Field(
        CHAT_DECODING["no_repeat_ngram"], ge=0, description="forbid repeating n-grams of this size (0: allowed)"
    )
    max_new_tokens: int | None = Field(
        CHAT_DECODING["max_new_tokens"], ge=1, description="tokens generated at most per reply"
    )
    baseline: bool = Field(True, description="also score the nearest-context retrieval baseline (indexes the train)")


def model_context(task, model, request: DialogueEvalRequest) -> EvalContext:
    """The model's replies to the contexts of the requested split; the responses that followed as references."""
    return EvalContext(model, task, request, draw_samples=generate_outputs, load_reference=_load_split)


def _recorded(model) -> dict[str, Any]:
    recorded = model.provenance.data.get("data_config")
    if not recorded:
        raise ConfigError("the model does not record its training data", "evaluate a model trained by genlab")
    return recorded


def _load_split(ctx: EvalContext) -> Validation:
    from genlab.text.dialogue.task import dialogue_split

    pairs, source = dialogue_split(_recorded(ctx.model), ctx.request.split, ctx.request.data_dir)
    if not pairs:
        raise ConfigError(f"the model's data has no {ctx.request.split} pairs", "train with --val-fraction above 0")
    return Validation(pairs[: ctx.request.n], source)


def model_protocol(ctx: EvalContext) -> dict[str, Any]:
    """Protocol fields of every dialogue evaluation: the seq2seq ones, the split, the context window."""
    from genlab.text.dialogue.dailydialog import CONTEXT_TURNS, SEPARATOR

    recorded = _recorded(ctx.model)
    return seq2seq_protocol(ctx) | {
        "split": ctx.request.split, "max_new_tokens": ctx.request.max_new_tokens,
        "context_turns": recorded.get("context_turns", CONTEXT_TURNS), "turn_separator": SEPARATOR,
    }  # fmt: skip


def baseline_contexts(ctx: EvalContext) -> dict[str, EvalContext]:
    """The nearest-context retrieval replies over the model's training pairs (none when ``baseline`` is off)."""
    from genlab.text.dialogue.baselines import NearestContext
    from genlab.text.dialogue.task import dialogue_split

    if not ctx.request.baseline:
        return {}
    train, about = dialogue_split(_recorded(ctx.model), "train", ctx.request.data_dir)
    nearest = NearestContext(train)
    replies = [nearest(p.source) for p in ctx.reference.pairs]
    protocol = {"baseline": f"response of the nearest training context by BM25 (k1 1.5, b 0.75) among {about}"}
    return {"nearest_context": ctx.derive("nearest_context", samples=replies, protocol=protocol)}


def mean_length(texts: Sequence[str]) -> float:
    """Mean length of texts in :func:`~genlab.text.metrics.text_units` (words; characters for Chinese)."""
    return sum(len(text_units(t)) for t in texts) / len(texts) if texts else 0.0


def response_scores(replies: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """``bleu`` (0-100), ``distinct_1``, ``distinct_2``, ``length_mean`` and the BLEU signature of replies
    against one reference each: the figures of ``genlab eval`` for replies made by anything."""
    if len(replies) != len(references) or not replies:
        raise ValueError(f"{len(replies)} replies for {len(references)} references")
    bleu, signature = corpus_bleu(replies, [[r] for r in references])
    return {"bleu": bleu.score, **distinct_scores(replies), "length_mean": mean_length(replies),
            "bleu_signature": signature}  # fmt: skip
