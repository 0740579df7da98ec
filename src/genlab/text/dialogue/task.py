"""The ``dialogue`` task: (context → response) pairs in, an encoder–decoder that replies to a conversation out.

``genlab train dialogue --model transformer-seq2seq --data dailydialog --data-dir DIR`` trains on DailyDialog's
train split and validates on its validation split (:mod:`genlab.text.dialogue.dailydialog`); ``--data
pairs.jsonl`` trains on any file of ``context``/``response`` pairs (JSONL fields, or two CSV/TSV columns), a
seeded share held out for validation, the context's turns joined by ``" | "``. ``genlab eval RUN --split test``
scores DailyDialog's test split (:mod:`genlab.text.dialogue.generation`); ``genlab respond RUN "message"`` and
``genlab chat --model RUN`` answer with the trained model (:mod:`genlab.text.dialogue.respond`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.evaluation import EvalContext, MetricSpec
from genlab.core.registry import TASKS
from genlab.text.dialogue import generation
from genlab.text.dialogue.dailydialog import CONTEXT_TURNS, DAILYDIALOG, dailydialog_pairs
from genlab.text.dialogue.generation import DialogueEvalRequest
from genlab.text.dialogue.respond import RespondPipeline
from genlab.text.seq2seq.data import Pair, Seq2SeqDataConfig, encode_pairs, split_file_pairs
from genlab.text.seq2seq.task import SAMPLE_PAIRS, Seq2SeqTask

Split = Literal["train", "validation", "test"]


class DialogueDataConfig(Seq2SeqDataConfig):
    """Which conversations to train on, how many turns of context each response sees, how to tokenize them."""

    source: str = Field(
        ..., min_length=1, description="dailydialog, or a pairs file of context/response (.jsonl, .csv, .tsv)"
    )
    source_field: str = Field("context", min_length=1, description="JSONL field of the context")
    target_field: str = Field("response", min_length=1, description="JSONL field of the response")
    context_turns: int = Field(
        CONTEXT_TURNS, ge=1, le=32, description="turns before each response joined into its context (dailydialog)"
    )
    max_source_length: int = Field(128, ge=1, le=65536, description="context tokens kept (the latest ones)")
    max_target_length: int = Field(64, ge=1, le=65536, description="response tokens kept and generated at most")


def dialogue_splits(cfg: DialogueDataConfig) -> tuple[list[Pair], list[Pair], dict[str, Any]]:
    """(training pairs, validation pairs, record of the split and the skipped lines) of ``cfg.source``."""
    if cfg.source != DAILYDIALOG:
        return split_file_pairs(cfg)
    train = dailydialog_pairs("train", cfg.data_dir, cfg.context_turns)
    val = dailydialog_pairs("validation", cfg.data_dir, cfg.context_turns)
    record = {
        "method": "DailyDialog official train / validation", "format": DAILYDIALOG,
        "val_source": f"dailydialog validation ({len(val.pairs)} pairs)",
        "skipped": [f"{s.path} line {n}: {why}" for s in (train, val) for n, why in s.skipped],
    }  # fmt: skip
    return (train.pairs[: cfg.max_pairs] if cfg.max_pairs else train.pairs), val.pairs, record


def dialogue_split(recorded: dict[str, Any], split: Split, data_dir: str | None = None) -> tuple[list[Pair], str]:
    """The pairs of one split of a model's recorded data config and their description: ``validation`` (the
    split validated on while training), ``test`` (DailyDialog's test split) or ``train``."""
    values = dict(recorded) | ({"data_dir": data_dir} if data_dir else {})
    cfg = DialogueDataConfig.build(values, where="data")
    if split == "test":
        if cfg.source != DAILYDIALOG:
            raise BadInputError(
                f"the model was trained on {cfg.source}, which has no test split",
                "evaluate its held-out pairs with --split validation (only dailydialog has a test split)",
            )
        test = dailydialog_pairs("test", cfg.data_dir, cfg.context_turns)
        return test.pairs, f"dailydialog test ({len(test.pairs)} pairs)"
    train, val, record = dialogue_splits(cfg)
    return (train, f"{cfg.source} training pairs ({len(train)})") if split == "train" else (val, record["val_source"])


class DialogueTask(Seq2SeqTask):
    name = "dialogue"
    description = "train generative dialogue models on DailyDialog (dailydialog) or context/response pairs"
    data_config_class = DialogueDataConfig
    pipeline_class = RespondPipeline
    cli_options = {**Seq2SeqTask.cli_options, "--context-turns": "data.context_turns"}
    eval_request_class = DialogueEvalRequest

    def load_data(self, data_cfg: DialogueDataConfig):
        train, val, record = dialogue_splits(data_cfg)
        # a long context loses its oldest tokens: the message being answered comes last
        train_ds, val_ds, info = encode_pairs(data_cfg, train, val, record, keep_source="end")
        self._preview = list((val or train)[:SAMPLE_PAIRS])  # what the run's samples show
        return train_ds, val_ds, info

    def fill_model_config(self, values: dict[str, Any], info) -> dict[str, Any]:
        return super().fill_model_config(values, info) | {"keep_source": "end"}

    def _sample_pairs(self, model) -> list:
        recorded = model.provenance.data.get("data_config")
        if recorded:
            return dialogue_split(recorded, "validation")[0][:SAMPLE_PAIRS]
        return getattr(self, "_preview", [])

    def eval_context(self, model, request: DialogueEvalRequest) -> EvalContext:
        return generation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return generation.model_protocol(ctx)

    def eval_baselines(self, ctx: EvalContext, specs: list[MetricSpec]) -> dict[str, EvalContext]:
        return generation.baseline_contexts(ctx)


TASKS.register(DialogueTask.name)(DialogueTask())
