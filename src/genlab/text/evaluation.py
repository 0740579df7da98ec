"""Evaluation of language models with a recorded protocol: ``genlab eval``.

Likelihood metrics on the validation split rebuilt from the model's recorded data config
(``val_loss``, ``perplexity``, ``bpc``; one pass of the model over the tokens serves all three),
scored beside an interpolated Kneser–Ney n-gram baseline on the same tokens. Sample metrics
on ``n`` seeded samples drawn once (``distinct``, ``self_bleu``, ``memorization``,
``form_compliance`` for poem models, ``fbd``). The metrics are registered here and run by the
generic loop of :mod:`genlab.core.evaluation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field

from genlab.core.config import Config
from genlab.core.errors import ConfigError
from genlab.core.evaluation import EvalContext, register_metric
from genlab.text.base import TextLanguageModel
from genlab.text.data import TextDataConfig, encode_lenient, load_raw, split_corpus
from genlab.text.language import has_cjk

TASK = "text-generation"
SAMPLE_TOKENS = 200  # tokens per generated sample for the sample-based metrics
POEM_FORMS = ("wuyan-jueju", "qiyan-jueju")


class TextEvalRequest(Config):
    """Options of ``genlab eval`` for language models."""

    n: int = Field(20, ge=1, description="number of generated samples for the sample-based metrics")
    seed: int = Field(0, description="seed of the samples")
    ref: str | None = Field(
        None, description="reference text scored instead of the validation split (a file or built-in corpus)"
    )
    data_dir: str | None = Field(None, description="folder of standard datasets")


def is_poem_model(model: TextLanguageModel) -> bool:
    """True for models of a poem corpus: recorded data kind, else a character vocabulary mostly of hanzi."""
    from genlab.text.poems import is_hanzi

    kind = model.provenance.data.get("kind")
    if kind is not None:
        return kind == "poems"
    vocab = model.config.tokenizer.get("vocab", [])
    return "，" in vocab and "。" in vocab and sum(map(is_hanzi, vocab)) > len(vocab) / 2


# --------------------------------------------------------------------------- context


@dataclass
class TextReference:
    """The texts a protocol compares with: the training split and the scored (validation) text."""

    train: str
    val: str
    source: str  # description of the scored text for the protocol


def model_context(task, model: TextLanguageModel, request: TextEvalRequest) -> EvalContext:
    """The context of a model: reference texts from its recorded data, samples drawn by its pipeline."""
    return EvalContext(model, task, request, draw_samples=_draw_samples, load_reference=_load_reference)


def _load_reference(ctx: EvalContext) -> TextReference:
    return TextReference(*reference_texts(ctx.model, ctx.request))


def reference_texts(model: TextLanguageModel, request: TextEvalRequest) -> tuple[str, str, str]:
    """(training text, validation text, description) rebuilt from the data config recorded with the model."""
    recorded = model.provenance.data.get("data_config")
    if not recorded:
        raise ConfigError("the model does not record its training data", "evaluate a model trained by genlab")
    values = dict(recorded)
    if request.data_dir:
        values["data_dir"] = request.data_dir
    cfg = TextDataConfig.build(values, where="data")
    train_text, val_text, split = split_corpus(load_raw(cfg), cfg)
    source = f"{cfg.source} validation split ({split['method']})"
    if request.ref:
        ref_cfg = TextDataConfig.build({**values, "source": request.ref, "val_fraction": 0.0}, where="ref")
        val_text, _, _ = split_corpus(load_raw(ref_cfg), ref_cfg)
        source = f"{request.ref} (whole text)"
    return train_text, val_text, source


def model_protocol(ctx: EvalContext) -> dict[str, Any]:
    """Protocol fields of every text evaluation."""
    return {"seed": ctx.request.seed, "val_source": ctx.reference.source}


def baseline_contexts(ctx: EvalContext) -> dict[str, EvalContext]:
    """An interpolated Kneser–Ney n-gram fitted to the training split (none for an n-gram model itself)."""
    from genlab.text.ngram import KneserNeyLM, NGramConfig

    model = ctx.model
    if isinstance(model, KneserNeyLM):
        return {}
    tok = model.tokenizer
    order = 5 if tok.kind == "char" else 3
    base = KneserNeyLM(NGramConfig(vocab_size=tok.vocab_size, tokenizer=model.config.tokenizer, order=order))
    base.fit(_Stream(torch.tensor(encode_lenient(tok, ctx.reference.train), dtype=torch.long)), None)
    about = {"baseline": f"interpolated modified Kneser-Ney {order}-gram on the same tokens and split"}
    return {f"ngram{order}": ctx.derive(f"ngram{order}", model=base, keep=("val_tokens",), protocol=about)}


class _Stream:
    """A token stream with the ``tokens`` attribute :meth:`KneserNeyLM.fit` reads."""

    def __init__(self, tokens: torch.Tensor):
        self.tokens = tokens


# --------------------------------------------------------------------------- likelihood


def _val_tokens(ctx: EvalContext) -> tuple[torch.Tensor, int]:
    """(validation token ids, characters they decode to), shared with the baseline (same tokenizer)."""

    def encode() -> tuple[torch.Tensor, int]:
        tok = ctx.model.tokenizer
        ids = torch.tensor(encode_lenient(tok, ctx.reference.val), dtype=torch.long)
        return ids, len(tok.decode(ids.tolist()))

    return ctx.cached("val_tokens", encode)


def _nll(ctx: EvalContext) -> tuple[float, int]:
    """(total NLL in nats, scored tokens) of the context's model over the validation tokens, computed once."""
    return ctx.cached("nll", lambda: ctx.model.sequence_nll(_val_tokens(ctx)[0]))


def likelihood(ctx: EvalContext) -> dict[str, float]:
    """val_loss (nats/token), perplexity and bpc of the context's model from one pass over the validation tokens."""
    from genlab.text.metrics import bits_per_char, perplexity

    (nll, count), n_chars = _nll(ctx), _val_tokens(ctx)[1]
    return {"val_loss": nll / count, "perplexity": perplexity(nll, count), "bpc": bits_per_char(nll, n_chars)}


def likelihood_protocol(ctx: EvalContext) -> dict[str, Any]:
    window = (ctx.model.max_context or ctx.model.config.block_size) + 1
    return {
        "val_tokens": _nll(ctx)[1],
        "val_chars": _val_tokens(ctx)[1],
        "likelihood": f"every token after the first of consecutive non-overlapping windows of {window} tokens",
    }


def _likelihood_metric(key: str, default: bool):
    def fn(ctx: EvalContext) -> dict[str, float]:
        return {key: likelihood(ctx)[key]}

    fn.__doc__ = {
        "val_loss": "Mean negative log-likelihood of the validation tokens (nats per token).",
        "perplexity": "exp(val_loss): the effective number of choices per token.",
        "bpc": "Bits per character of the validation text (comparable across tokenizers).",
    }[key]
    fn.__name__ = key
    register_metric(
        f"text/{key}",
        task=TASK,
        outputs=(key,),
        needs=("model", "reference"),
        default=default,
        on_baselines=True,
        protocol=likelihood_protocol,
    )(fn)


_likelihood_metric("val_loss", default=False)
_likelihood_metric("perplexity", default=True)
_likelihood_metric("bpc", default=True)


# --------------------------------------------------------------------------- samples


def _draw_samples(ctx: EvalContext) -> list[str]:
    from genlab.text.pipelines import TextGenerationPipeline

    pipe, n, seed = TextGenerationPipeline(ctx.model), ctx.request.n, ctx.request.seed
    if is_poem_model(ctx.model):
        return pipe.poem(POEM_FORMS[0], n=n, seed=seed, rhyme=True)
    return pipe(max_new_tokens=SAMPLE_TOKENS, temperature=1.0, seed=seed, n=n)


def samples_protocol(ctx: EvalContext) -> dict[str, Any]:
    """How the samples of every sample-based metric were drawn."""
    if is_poem_model(ctx.model):
        how = f"{POEM_FORMS[0]} poems with rhyme, temperature 0.8, repetition penalty 1.1"
        return {"n_samples": ctx.request.n, "temperature": 0.8, "samples": how}
    how = f"{SAMPLE_TOKENS} tokens after a line break, temperature 1.0, no filtering"
    return {"n_samples": ctx.request.n, "temperature": 1.0, "samples": how}


def _sample_metric(
    key: str, outputs: tuple[str, ...], needs: tuple[str, ...] = (), protocol=None, task=TASK, **options: Any
):
    """Register a metric of the samples; its protocol adds how a language model's samples were drawn (other
    tasks record how their outputs were made in their own protocol)."""

    def fragment(ctx: EvalContext) -> dict[str, Any]:
        drawn = samples_protocol(ctx) if ctx.task.name == TASK else {}
        return drawn | (protocol(ctx) if protocol else {})

    needs = ("model", "samples", *needs)
    return register_metric(f"text/{key}", task=task, outputs=outputs, needs=needs, protocol=fragment, **options)


@_sample_metric(
    "distinct",
    ("distinct_1", "distinct_2"),
    default=True,
    task=(TASK, "dialogue"),  # the diversity of a language model's samples and of a dialogue model's replies
    protocol=lambda ctx: {"distinct_units": "characters" if has_cjk("".join(ctx.samples)) else "words"},
)
def distinct(ctx: EvalContext) -> dict[str, float]:
    """Share of distinct unigrams and bigrams over all samples (words, or characters for Chinese)."""
    from genlab.text.metrics import distinct_scores

    return distinct_scores(ctx.samples)


@_sample_metric("self_bleu", ("self_bleu",), default=True)
def self_bleu(ctx: EvalContext) -> dict[str, float]:
    """Mean BLEU of each sample against the others (high: the samples repeat each other)."""
    from genlab.text.metrics import self_bleu as score

    return {"self_bleu": score(ctx.samples)}


@_sample_metric(
    "memorization",
    ("memorization_8",),
    default=True,
    needs=("reference",),
    protocol=lambda ctx: {"memorization": "share of generated character 8-grams found verbatim in the training split"},
)
def memorization(ctx: EvalContext) -> dict[str, float]:
    """Share of generated character 8-grams found verbatim in the training split."""
    from genlab.text.metrics import memorization_rate

    return {"memorization_8": memorization_rate(ctx.samples, ctx.reference.train, 8)}


def _not_poems(model: TextLanguageModel) -> str | None:
    if is_poem_model(model):
        return None
    return f"form_compliance scores classical Chinese poems; {model.registry_name} was not trained on a poem corpus"


@_sample_metric("form_compliance", ("form_compliance",), default=True, applies=_not_poems)
def form_compliance(ctx: EvalContext) -> dict[str, float]:
    """Share of generated poems that keep the form (line count and length, punctuation, rhyme)."""
    from genlab.text.poems import form_compliance as score
    from genlab.text.poems import get_form

    return {"form_compliance": score(ctx.samples, get_form(POEM_FORMS[0]), rhyme=True)}


def _fbd(ctx: EvalContext) -> tuple[float, dict[str, Any]]:
    from genlab.text.metrics import embedding_frechet_distance

    def compute() -> tuple[float, dict[str, Any]]:
        samples = ctx.samples
        length = round(sum(map(len, samples)) / max(len(samples), 1))  # passages as long as the samples
        references = reference_passages(ctx.reference.val, len(samples), length)
        return embedding_frechet_distance(samples, references)

    return ctx.cached("fbd", compute)


@_sample_metric(
    "fbd",
    ("fbd",),
    needs=("reference",),
    protocol=lambda ctx: (
        _fbd(ctx)[1] | {"fbd_references": "evenly spaced passages of the validation text, sample length"}
    ),
)
def fbd(ctx: EvalContext) -> dict[str, float]:
    """Fréchet distance between sentence embeddings of samples and of validation passages (English)."""
    return {"fbd": _fbd(ctx)[0]}


def reference_passages(text: str, n: int, length: int) -> list[str]:
    """``n`` passages of ``length`` characters at evenly spaced offsets of ``text`` (each starts after a line break
    when one is near), the real side of sample-based distances."""
    length = max(1, min(length, len(text)))
    span = max(len(text) - length, 0)
    out = []
    for i in range(n):
        start = span * i // max(n - 1, 1)
        at_line_start = start == 0 or text[start - 1] == "\n"
        newline = -1 if at_line_start else text.find("\n", start, start + length // 2)
        start = newline + 1 if newline != -1 and newline + 1 <= span else start
        out.append(text[start : start + length])
    return out
