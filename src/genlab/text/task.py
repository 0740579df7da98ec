"""The ``text-generation`` task: text in, language models out, evaluated with a recorded protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genlab.core.errors import ConfigError
from genlab.core.evaluation import EvalContext, MetricSpec
from genlab.core.io import atomic_write_text
from genlab.core.registry import TASKS
from genlab.core.task import Task
from genlab.text import evaluation
from genlab.text.base import TextLanguageModel
from genlab.text.data import TextDataConfig, TextDataInfo, load_text_data
from genlab.text.evaluation import POEM_FORMS, TextEvalRequest, is_poem_model
from genlab.text.pipelines import TextGenerationPipeline


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
            if is_poem_model(model):
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

    # Evaluation: likelihood beside a Kneser-Ney baseline, sample metrics; see genlab.text.evaluation.
    eval_request_class = TextEvalRequest

    def eval_context(self, model: TextLanguageModel, request: TextEvalRequest) -> EvalContext:
        return evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return evaluation.model_protocol(ctx)

    def eval_baselines(self, ctx: EvalContext, specs: list[MetricSpec]) -> dict[str, EvalContext]:
        return evaluation.baseline_contexts(ctx)


TASKS.register(TextGenerationTask.name)(TextGenerationTask())
