"""The ``text-generation`` task: text in, language models out, evaluated with a recorded protocol."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from genlab.core.errors import ConfigError, unknown_name
from genlab.core.io import atomic_write_text
from genlab.core.registry import TASKS
from genlab.core.task import Task
from genlab.text.base import TextLanguageModel
from genlab.text.data import TextDataConfig, TextDataInfo, encode_lenient, load_raw, load_text_data, split_corpus
from genlab.text.pipelines import TextGenerationPipeline

METRICS = ("val-loss", "perplexity", "bpc", "distinct", "self-bleu", "memorization", "form-compliance", "fbd")
DEFAULT_METRICS = ("perplexity", "bpc", "distinct", "self-bleu", "memorization")
SAMPLE_TOKENS = 200  # tokens per generated sample for the sample-based metrics
POEM_FORMS = ("wuyan-jueju", "qiyan-jueju")


class TextGenerationTask(Task):
    name = "text-generation"
    modality = "text"
    description = "train language models (n-gram, char-RNN, GPT) on text files, JSONL or built-in corpora"
    data_config_class = TextDataConfig
    default_model = "gpt"
    pipeline_class = TextGenerationPipeline
    cli_options = {
        "--tokenizer": "data.tokenizer",
        "--vocab-size": "data.vocab_size",
        "--block-size": "data.block_size",
        "--field": "data.field",
        "--encoding": "data.encoding",
        "--val-fraction": "data.val_fraction",
        "--max-chars": "data.max_chars",
        "--n-layer": "model.n_layer",
        "--n-head": "model.n_head",
        "--n-embd": "model.n_embd",
        "--dropout": "model.dropout",
        "--lr": "model.lr",
        "--order": "model.order",
    }

    def load_data(self, data_cfg: TextDataConfig):
        return load_text_data(data_cfg)

    def fill_model_config(self, values: dict[str, Any], info: TextDataInfo) -> dict[str, Any]:
        if "block_size" in values and values["block_size"] != info.block_size:
            raise ConfigError(
                f"model.block_size={values['block_size']} does not match the data (block_size={info.block_size})",
                f"set it on the data instead (--block-size {values['block_size']}) or drop the override",
            )
        return {
            **values,
            "vocab_size": info.vocab_size,
            "block_size": info.block_size,
            "tokenizer": info.tokenizer_obj.to_dict(),
        }

    def write_samples(self, model: TextLanguageModel, stem: Path, seed: int) -> Path:
        """Poems for a poem corpus, else 500 tokens continuing a line break; written as ``.txt``."""
        pipe = TextGenerationPipeline(model)
        was_training = model.training
        try:
            if _is_poem_model(model):
                text = "\n".join(f"{f}: {p}" for f in POEM_FORMS for p in pipe.poem(f, n=2, seed=seed, rhyme=True))
            else:
                text = pipe(max_new_tokens=500, temperature=0.8, seed=seed)[0]
        finally:
            model.train(was_training)
        path = stem.with_suffix(".txt")
        atomic_write_text(path, text + "\n")
        return path

    def describe_data(self, info: TextDataInfo) -> str:
        line = (
            f"data {info.source}: {info.n_train_tokens:,} train / {info.n_val_tokens:,} val tokens "
            f"({info.tokenizer} tokenizer, vocabulary {info.vocab_size}, {info.n_documents:,} {info.kind} document(s))"
        )
        if info.skipped:
            line += f"\n[yellow]skipped {len(info.skipped)} unreadable file(s)[/], e.g. {info.skipped[0]}"
        return line

    def evaluate(self, model: TextLanguageModel, metrics: list[str] | None, options: dict[str, Any]) -> dict[str, Any]:
        """Likelihood on the validation split, sample-based diversity/copying metrics, an n-gram baseline."""
        names = list(metrics or DEFAULT_METRICS)
        if _is_poem_model(model) and metrics is None:
            names.append("form-compliance")
        for m in names:
            if m not in METRICS:
                raise unknown_name("text metric", m, METRICS)
        train_text, val_text, source = _reference_texts(model, options)
        n, seed = int(options.get("n", 20)), int(options.get("seed", 0))
        out: dict[str, float] = {}
        protocol: dict[str, Any] = {"seed": seed, "val_source": source}
        baselines: dict[str, dict[str, float]] = {}
        if {"val-loss", "perplexity", "bpc"} & set(names):
            out_l, protocol_l, baselines = _likelihood(model, train_text, val_text)
            out |= {k: v for k, v in out_l.items() if _wanted(k, names)}
            protocol |= protocol_l
        sample_metrics = {"distinct", "self-bleu", "memorization", "form-compliance", "fbd"} & set(names)
        if sample_metrics:
            s_out, s_protocol = _sample_metrics(model, sample_metrics, train_text, val_text, n, seed)
            out |= s_out
            protocol |= s_protocol
        return {"metrics": out, "baselines": baselines, "protocol": protocol}


def _is_poem_model(model: TextLanguageModel) -> bool:
    """True for models of a poem corpus: recorded data kind, else a character vocabulary mostly of hanzi."""
    from genlab.text.poems import is_hanzi

    kind = model.provenance.data.get("kind")
    if kind is not None:
        return kind == "poems"
    vocab = model.config.tokenizer.get("vocab", [])
    return "，" in vocab and "。" in vocab and sum(map(is_hanzi, vocab)) > len(vocab) / 2


def _wanted(key: str, names: list[str]) -> bool:
    return {"val_loss": "val-loss", "perplexity": "perplexity", "bpc": "bpc"}.get(key, key) in names


def _reference_texts(model: TextLanguageModel, options: dict[str, Any]) -> tuple[str, str, str]:
    """(training text, validation text, description) rebuilt from the data config recorded with the model."""
    recorded = model.provenance.data.get("data_config")
    if not recorded:
        raise ConfigError("the model does not record its training data", "evaluate a model trained by genlab")
    values = dict(recorded)
    if options.get("data_dir"):
        values["data_dir"] = options["data_dir"]
    cfg = TextDataConfig.build(values, where="data")
    train_text, val_text, split = split_corpus(load_raw(cfg), cfg)
    source = f"{cfg.source} validation split ({split['method']})"
    if options.get("ref"):
        ref_cfg = TextDataConfig.build({**values, "source": options["ref"], "val_fraction": 0.0}, where="ref")
        val_text, _, _ = split_corpus(load_raw(ref_cfg), ref_cfg)
        source = f"{options['ref']} (whole text)"
    return train_text, val_text, source


def _likelihood(model: TextLanguageModel, train_text: str, val_text: str):
    from genlab.text.metrics import bits_per_char, perplexity
    from genlab.text.ngram import KneserNeyLM, NGramConfig

    tok = model.tokenizer
    val_ids = torch.tensor(encode_lenient(tok, val_text), dtype=torch.long)
    n_chars = len(tok.decode(val_ids.tolist()))
    nll, count = model.sequence_nll(val_ids)
    out = {"val_loss": nll / count, "perplexity": perplexity(nll, count), "bpc": bits_per_char(nll, n_chars)}
    protocol = {
        "val_tokens": count,
        "val_chars": n_chars,
        "likelihood": "every token after the first of consecutive non-overlapping windows of "
        f"{(model.max_context or model.config.block_size) + 1} tokens",
    }
    baselines: dict[str, dict[str, float]] = {}
    if not isinstance(model, KneserNeyLM):
        order = 5 if tok.kind == "char" else 3
        base = KneserNeyLM(NGramConfig(vocab_size=tok.vocab_size, tokenizer=model.config.tokenizer, order=order))
        train_ids = torch.tensor(encode_lenient(tok, train_text), dtype=torch.long)
        base.fit(_Stream(train_ids), None)
        b_nll, b_count = base.sequence_nll(val_ids)
        baselines[f"ngram{order}"] = {
            "val_loss": b_nll / b_count,
            "perplexity": perplexity(b_nll, b_count),
            "bpc": bits_per_char(b_nll, n_chars),
        }
        protocol["baseline"] = f"interpolated modified Kneser-Ney {order}-gram on the same tokens and split"
    return out, protocol, baselines


class _Stream:
    """A token stream with the ``tokens`` attribute :meth:`KneserNeyLM.fit` reads."""

    def __init__(self, tokens: torch.Tensor):
        self.tokens = tokens


def _units(text: str) -> list[str]:
    """Words for alphabetic text, characters for Chinese (each character is roughly a word)."""
    return [ch for ch in text if not ch.isspace()] if re.search(r"[\u4e00-\u9fff]", text) else text.split()


def _sample_metrics(model, names: set[str], train_text: str, val_text: str, n: int, seed: int):
    from genlab.text.metrics import distinct_n, embedding_frechet_distance, memorization_rate, self_bleu
    from genlab.text.poems import form_compliance, get_form

    pipe = TextGenerationPipeline(model)
    protocol: dict[str, Any] = {"n_samples": n, "temperature": 1.0 if not _is_poem_model(model) else 0.8}
    out: dict[str, float] = {}
    if _is_poem_model(model):
        form = POEM_FORMS[0]
        samples = pipe.poem(form, n=n, seed=seed, rhyme=True)
        protocol["samples"] = f"{form} poems with rhyme, temperature 0.8, repetition penalty 1.1"
        if "form-compliance" in names:
            out["form_compliance"] = form_compliance(samples, get_form(form), rhyme=True)
    else:
        samples = pipe(max_new_tokens=SAMPLE_TOKENS, temperature=1.0, seed=seed, n=n)
        protocol["samples"] = f"{SAMPLE_TOKENS} tokens after a line break, temperature 1.0, no filtering"
    units = [_units(s) for s in samples]
    if "distinct" in names:
        out["distinct_1"], out["distinct_2"] = distinct_n(units, 1), distinct_n(units, 2)
        protocol["distinct_units"] = "characters" if re.search(r"[\u4e00-\u9fff]", "".join(samples)) else "words"
    if "self-bleu" in names:
        out["self_bleu"] = self_bleu(samples)
    if "memorization" in names:
        out["memorization_8"] = memorization_rate(samples, train_text, 8)
        protocol["memorization"] = "share of generated character 8-grams found verbatim in the training split"
    if "fbd" in names:
        references = reference_passages(val_text, n, round(sum(map(len, samples)) / max(len(samples), 1)))
        out["fbd"], fbd_protocol = embedding_frechet_distance(samples, references)
        protocol |= fbd_protocol | {"fbd_references": "evenly spaced passages of the validation text, sample length"}
    return out, protocol


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


TASKS.register(TextGenerationTask.name)(TextGenerationTask())
