"""The ``music`` task: MIDI / MusicXML / ABC in, composers out (transformer, LSTM, phrase VAE, Markov baseline).

``genlab train music --model transformer|lstm|music-vae|markov --data builtin:bach-chorales`` reads the pieces
(:mod:`genlab.music.data`: the fixed split by piece, transposition augmentation of the training pieces, optional
``--max-bars`` windows), builds the tokenizer (REMI for several voices, the melody tokenizer for one line) and
trains on one token row per piece:

* the language models read ``<bos> Key Tempo Style TimeSig body… <eos>`` rows; a row longer than ``max_tokens``
  (default :data:`DEFAULT_MAX_TOKENS`, 256) is cut at bar lines into windows that each repeat the conditioning prefix,
  so every training row starts at a bar with its key, tempo, style and metre;
* the phrase VAE reads phrases of its ``phrase_bars`` bars (``<bos>`` conditioning, the phrase, ``<eos>``).

Rows are padded to the longest (``<pad>``, left out of the loss); that length fills ``block_size`` (language
models) or ``max_length`` (the VAE). Samples written during training: a few 4-bar pieces as MIDI, WAV and a
piano roll (:class:`genlab.music.pipelines.MusicOutput`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from genlab.core.errors import ConfigError, DataError
from genlab.core.evaluation import EvalContext, MetricSpec
from genlab.core.model import GenerativeModel
from genlab.core.registry import TASKS
from genlab.core.task import Task
from genlab.music import evaluation
from genlab.music.data import MusicData, MusicDataConfig, load_music_data
from genlab.music.evaluation import MusicEvalRequest
from genlab.music.models import TASK
from genlab.music.pipelines import MusicComposePipeline, compose

DEFAULT_MAX_TOKENS = 256  # tokens per training row when the data config sets no max_tokens (CPU-sized)
SAMPLE_PIECES, SAMPLE_BARS, SAMPLE_TOKENS = 2, 4, 512  # what write_samples composes (tokens: at most, per piece)


class MusicSequences(Dataset):
    """Token rows (N, L) padded with ``<pad>``; ``tokens`` is their concatenation without padding (what the
    closed-form Markov model counts).

    A batch is cut to its longest row, and ``lengths`` (tokens per row) lets the trainer batch rows of similar
    length together (:mod:`genlab.engine.batching`): pieces differ a lot in length, and a batch padded to the
    longest row of the whole set was half padding on the folk corpus."""

    def __init__(self, rows: list[list[int]] | None = None, pad_id: int = 0):
        self.pad_id = pad_id
        self.set_rows(rows or [])

    def set_rows(self, rows: list[list[int]]) -> None:
        width = max((len(r) for r in rows), default=2)
        self.rows = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            self.rows[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        self.row_lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
        self.tokens = torch.tensor([t for r in rows for t in r], dtype=torch.long)

    @property
    def length(self) -> int:
        return self.rows.shape[1]

    @property
    def lengths(self) -> list[int]:
        return self.row_lengths.tolist()

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.rows[i]

    def __getitems__(self, indices: list[int]) -> list[torch.Tensor]:
        """The rows of a batch, cut to the longest of them (at least 2 tokens: an input and a target)."""
        index = torch.as_tensor(indices, dtype=torch.long)
        width = max(int(self.row_lengths[index].max()), 2) if len(index) else 2
        return list(self.rows[index, :width])


def split_at_bars(ids: list[int], tokenizer: Any, limit: int, prefix_length: int = 5) -> list[list[int]]:
    """``ids`` (``<bos>`` + conditioning + body + ``<eos>``) as rows of at most ``limit`` tokens: the body is cut
    before bar tokens, and every row repeats the first ``prefix_length`` ids (a bar longer than a row is cut)."""
    if len(ids) <= limit:
        return [ids]
    prefix, body = ids[:prefix_length], ids[prefix_length:]
    room = limit - prefix_length
    if room < 2:
        raise ConfigError(f"max_tokens={limit} leaves no room after the {prefix_length} conditioning tokens",
                          "raise --max-tokens")  # fmt: skip
    starts = [i for i, t in enumerate(body) if t == tokenizer.bar_id] or [0]
    rows, start = [], 0
    while start < len(body):
        stop = max((s for s in starts if start < s <= start + room), default=start + room)
        if start + room >= len(body):
            stop = len(body)
        rows.append(prefix + body[start:stop])
        start = stop
    return rows


@dataclass
class MusicTrainingData:
    """The loaded splits, the tokenizer built for them and the rows made for the model (``data.json``)."""

    train: MusicData
    val: MusicData | None
    tokenizer: Any
    train_rows: MusicSequences
    val_rows: MusicSequences | None
    model_cls: type | None = None
    row_counts: dict[str, int] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return self.train.info.source

    def to_dict(self) -> dict[str, Any]:
        train = self.train.info.to_dict()
        return {
            **train,
            "val_pieces": self.val.info.pieces if self.val else 0,
            "tokenizer": self.tokenizer.kind,
            "vocab_size": self.tokenizer.vocab_size,
            **self.row_counts,
        }


class MusicTask(Task):
    name = TASK
    modality = "music"
    description = "train composers (transformer, LSTM, MusicVAE, Markov) on MIDI / MusicXML / ABC or music21's corpus"
    data_config_class = MusicDataConfig
    default_model = "transformer"
    pipeline_class = MusicComposePipeline
    cli_options = {
        "--tokenizer": "data.tokenizer",
        "--steps-per-beat": "data.steps_per_beat",
        "--max-bars": "data.max_bars",
        "--max-tokens": "data.max_tokens",
        "--max-files": "data.max_files",
        "--n-layer": "model.n_layer",
        "--n-head": "model.n_head",
        "--n-embd": "model.n_embd",
        "--hidden-size": "model.hidden_size",
        "--dropout": "model.dropout",
        "--lr": "model.lr",
        "--latent-dim": "model.latent_dim",
        "--phrase-bars": "model.phrase_bars",
        "--max-order": "model.max_order",
    }

    def load_data(self, data_cfg: MusicDataConfig):
        train = load_music_data(data_cfg.source, data_cfg, "train")
        if not train.pieces:
            raise DataError(f"{data_cfg.source} left no piece for training", "give more pieces")
        val = load_music_data(data_cfg.source, data_cfg, "val")
        val = val if val.pieces else None
        tokenizer = train.tokenizer()
        train_rows = MusicSequences(pad_id=tokenizer.pad_id)
        val_rows = MusicSequences(pad_id=tokenizer.pad_id) if val else None
        info = MusicTrainingData(train, val, tokenizer, train_rows, val_rows)
        return train_rows, val_rows, info

    def check_model_fits_data(self, model_cls: type[GenerativeModel], info: MusicTrainingData) -> None:
        info.model_cls = model_cls

    def fill_model_config(self, values: dict[str, Any], info: MusicTrainingData) -> dict[str, Any]:
        """Tokenise the splits for the model (rows, or phrases for the VAE) and fill the sizes it needs."""
        tok, model_cls = info.tokenizer, info.model_cls
        limit = info.train.config.max_tokens or DEFAULT_MAX_TOKENS
        fields = model_cls.config_class.model_fields if model_cls else {}
        if getattr(model_cls, "phrase_model", False):
            bars = int(values.get("phrase_bars", fields["phrase_bars"].default))
            make = lambda data: phrase_rows(data, tok, bars, limit)  # noqa: E731
            size_key = "max_length"
        else:
            make = lambda data: piece_rows(data, tok, limit)  # noqa: E731
            size_key = "block_size"
        rows = make(info.train)
        if not rows:
            raise DataError(f"no training row could be made from {info.source}", "check the pieces hold notes")
        info.train_rows.set_rows(rows)
        if info.val_rows is not None:
            info.val_rows.set_rows(make(info.val) or [[tok.bos_id, tok.eos_id]])
        length = max(info.train_rows.length, info.val_rows.length if info.val_rows is not None else 0)
        info.row_counts = {"train_rows": len(info.train_rows), "val_rows": len(info.val_rows or []),
                           "row_tokens": length}  # fmt: skip
        filled = {**values, "vocab_size": tok.vocab_size, "tokenizer": tok.to_dict()}
        if "key_counts" in fields:  # the untransposed pieces' keys, for the config's key_prior
            filled["key_counts"] = key_counts(info.train.pieces, tok)
        if size_key in fields:
            if size_key in values and values[size_key] < length:
                raise ConfigError(
                    f"model.{size_key}={values[size_key]} is shorter than the data's rows ({length} tokens)",
                    "set --max-tokens on the data instead, or drop the override",
                )
            filled[size_key] = max(length, int(values.get(size_key, 0)))
        return filled

    def encode_piece(self, tokenizer: Any, piece: Any) -> list[int]:
        """A held-out piece as the training rows write it (its key, tempo and metre; no style)."""
        return list(tokenizer.encode(piece))

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        """A few 4-bar pieces: ``.mid`` with a ``.wav`` and a piano-roll ``.png`` beside each."""
        was_training = model.training
        try:
            pieces = compose(model, n=SAMPLE_PIECES, bars=SAMPLE_BARS, seed=seed, max_tokens=SAMPLE_TOKENS)
        finally:
            model.train(was_training)
        from genlab.music.pipelines import MusicOutput

        return MusicOutput(pieces).save(stem.with_suffix(".mid"))

    def describe_data(self, info: MusicTrainingData) -> str:
        t = info.train.info
        val = info.val.info.pieces if info.val else 0
        tok = info.tokenizer
        line = (f"data {t.source}: {t.pieces:,} train / {val:,} validation pieces ({t.notes:,} notes; "
                f"{tok.kind} tokenizer, vocabulary {tok.vocab_size})")  # fmt: skip
        if t.n_skipped:
            line += f"\n[yellow]skipped {t.n_skipped:,} unreadable file(s)[/], e.g. {t.skipped[0]}"
        return line

    # Evaluation: likelihood and music metrics beside the Markov baseline; see genlab.music.evaluation.
    eval_request_class = MusicEvalRequest

    def eval_context(self, model: GenerativeModel, request: MusicEvalRequest) -> EvalContext:
        return evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return evaluation.model_protocol(ctx)

    def eval_baselines(self, ctx: EvalContext, specs: list[MetricSpec]) -> dict[str, EvalContext]:
        return evaluation.baseline_contexts(ctx, specs)


def piece_rows(data: MusicData, tokenizer: Any, limit: int) -> list[list[int]]:
    """Rows of every window of ``data`` (augmented on the train split), cut at bars to ``limit`` tokens."""
    rows = []
    for piece, style in data.windows(None, tokenizer.pitch_range):
        ids = tokenizer.encode(piece, style=style if style in tokenizer.styles else None)
        rows += split_at_bars(ids, tokenizer, limit)
    return rows


def key_counts(pieces: list[Any], tokenizer: Any) -> dict[str, int]:
    """Pieces per ``Key`` token (``Key_none`` for a piece without a key), as the tokenizer writes their keys."""
    counts: dict[str, int] = {}
    for piece in pieces:
        token = tokenizer.token_text(tokenizer.condition_ids(key=piece.key)[0])
        counts[token] = counts.get(token, 0) + 1
    return dict(sorted(counts.items()))


def phrase_rows(data: MusicData, tokenizer: Any, bars: int, limit: int) -> list[list[int]]:
    """Rows of every ``bars``-bar phrase holding notes (encoded as :meth:`MusicVAE.phrase_ids` does), those longer
    than ``limit`` tokens left out."""
    rows = []
    for piece, _ in data.windows(None, tokenizer.pitch_range):
        for first in range(0, max(piece.n_bars, 1), bars):
            phrase = piece.slice_bars(first, bars)
            if phrase.notes:
                ids = tokenizer.encode(phrase)
                if len(ids) <= limit:
                    rows.append(ids)
    return rows


TASKS.register(MusicTask.name)(MusicTask())
