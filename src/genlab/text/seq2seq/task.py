"""The ``seq2seq`` and ``summarization`` tasks: text pairs in, encoder–decoder models out, scored on held-out pairs.

``genlab train seq2seq --model transformer-seq2seq --data pairs.tsv`` trains on any pairs (rewriting,
question → answer, number → words, …); ``genlab train summarization --model transformer-seq2seq --data
scitldr --data-dir DIR`` on SciTLDR-A (or a pairs file of documents and summaries). Models:
``transformer-seq2seq``, ``gru-attention`` (GRU encoder–decoder with attention) and ``pointer-generator``
(copies from the source, with coverage), each serving both tasks; the trained model records which one it
serves (``config.task``), which decides its pipeline (``genlab transform`` or ``genlab summarize --model RUN``)
and its metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genlab.core.evaluation import EvalContext, MetricSpec
from genlab.core.io import atomic_write_text
from genlab.core.registry import MODELS, TASKS
from genlab.core.task import Task
from genlab.text.seq2seq import evaluation
from genlab.text.seq2seq.data import TARGET_CODE, Seq2SeqDataConfig, Seq2SeqDataInfo, load_pairs_data
from genlab.text.seq2seq.evaluation import Seq2SeqEvalRequest
from genlab.text.seq2seq.pipelines import AbstractiveSummarizePipeline, TransformPipeline

SAMPLE_PAIRS = 5  # validation pairs written as the run's samples


class Seq2SeqTask(Task):
    name = "seq2seq"
    modality = "text"
    description = "train encoder-decoder models on source/target text pairs (JSONL, CSV, TSV)"
    data_config_class = Seq2SeqDataConfig
    default_model = "transformer-seq2seq"
    pipeline_class = TransformPipeline
    allow_scitldr = False
    cli_options = {
        "--tokenizer": "data.tokenizer",
        "--vocab-size": "data.vocab_size",
        "--format": "data.format",
        "--source-field": "data.source_field",
        "--target-field": "data.target_field",
        "--encoding": "data.encoding",
        "--max-source-length": "data.max_source_length",
        "--max-target-length": "data.max_target_length",
        "--val-fraction": "data.val_fraction",
        "--max-pairs": "data.max_pairs",
        "--augment": "data.augment",
        "--guidance": "data.guidance",
        "--guidance-oracle": "data.guidance_oracle",
        "--scaffold-field": "data.scaffold_field",
        "--d-model": "model.d_model",
        "--n-head": "model.n_head",
        "--encoder-layers": "model.n_encoder_layers",
        "--decoder-layers": "model.n_decoder_layers",
        "--dropout": "model.dropout",
        "--label-smoothing": "model.label_smoothing",
        "--lr": "model.lr",
        "--embedding-size": "model.embedding_size",
        "--hidden-size": "model.hidden_size",
        "--layers": "model.n_layers",
        "--attention": "model.attention",
    }

    # one model class trains for several tasks: it lists them in ``tasks``
    def model_names(self) -> list[str]:
        """The models of this task, the default first (options take their help from the first with the field)."""
        prefix = f"{self.modality}/"
        names = [n[len(prefix) :] for n in MODELS.names(prefix) if self.name in getattr(MODELS.get(n), "tasks", ())]
        return sorted(names, key=lambda n: n != self.default_model)

    def model_class(self, short_name: str):
        from genlab.core.errors import unknown_name

        full = short_name if "/" in short_name else f"{self.modality}/{short_name}"
        if full not in MODELS or self.name not in getattr(MODELS.get(full), "tasks", ()):
            raise unknown_name(f"{self.name} model", short_name, self.model_names())
        return MODELS.get(full)

    def load_data(self, data_cfg: Seq2SeqDataConfig):
        train, val, info = load_pairs_data(data_cfg, allow_scitldr=self.allow_scitldr)
        self._preview = list((val or train).pairs[:SAMPLE_PAIRS])  # what the run's samples show
        return train, val, info

    def fill_model_config(self, values: dict[str, Any], info: Seq2SeqDataInfo) -> dict[str, Any]:
        return {
            **values,
            "task": self.name,
            "vocab_size": info.vocab_size,
            "tokenizer": info.tokenizer_obj.to_dict(),
            "max_source_length": info.max_source_length,
            "max_target_length": info.max_target_length,
            "guidance": info.data_config.get("guidance", "none"),
            "control_code": TARGET_CODE if info.data_config.get("scaffold_field") else "",
        }

    def write_samples(self, model, stem: Path, seed: int) -> Path:
        """Greedy outputs for the first validation pairs (else training pairs), beside their references."""
        was_training = model.training
        try:
            pairs = self._sample_pairs(model)
            outputs = model.generate([p.source for p in pairs], seed=seed) if pairs else []
        finally:
            model.train(was_training)
        blocks = [
            f"source: {p.source[:500]}\nreference: {p.target}\noutput: {out}\n"
            for p, out in zip(pairs, outputs, strict=True)
        ]
        path = stem.with_suffix(".txt")
        atomic_write_text(path, "\n".join(blocks) or "(no pairs to show)\n")
        return path

    def _sample_pairs(self, model) -> list:
        """The validation pairs of a saved model's data, else those of the data this task loaded last."""
        from genlab.text.seq2seq.data import validation_pairs

        recorded = model.provenance.data.get("data_config")
        if recorded:
            return validation_pairs(recorded)[0][:SAMPLE_PAIRS]
        return getattr(self, "_preview", [])

    def describe_data(self, info: Seq2SeqDataInfo) -> str:
        line = (
            f"data {info.source}: {info.n_train_pairs:,} train / {info.n_val_pairs:,} validation pairs "
            f"({info.tokenizer} tokenizer, vocabulary {info.vocab_size}); validation: {info.val_source}"
        )
        if info.truncated_sources or info.truncated_targets:
            line += (
                f"\n[yellow]cut {info.truncated_sources} source(s) to {info.max_source_length} tokens and "
                f"{info.truncated_targets} target(s) to {info.max_target_length}[/]"
            )
        if info.skipped:
            line += f"\n[yellow]skipped {len(info.skipped)} malformed line(s)[/], e.g. {info.skipped[0]}"
        return line

    eval_request_class = Seq2SeqEvalRequest

    def eval_context(self, model, request: Seq2SeqEvalRequest) -> EvalContext:
        return evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return evaluation.model_protocol(ctx)

    def eval_baselines(self, ctx: EvalContext, specs: list[MetricSpec]) -> dict[str, EvalContext]:
        return evaluation.baseline_contexts(ctx)


class SummarizationTask(Seq2SeqTask):
    name = "summarization"
    description = "train abstractive summarizers on document/summary pairs or SciTLDR (scitldr)"
    pipeline_class = AbstractiveSummarizePipeline
    allow_scitldr = True


TASKS.register(Seq2SeqTask.name)(Seq2SeqTask())
TASKS.register(SummarizationTask.name)(SummarizationTask())
