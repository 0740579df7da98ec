"""Text pairs for sequence-to-sequence models: JSONL, CSV and TSV files, and SciTLDR for summarization.

A pairs file holds one (source, target) pair a line: JSONL objects ``{"source": …, "target": …}`` (field
names configurable), or two-column CSV/TSV rows with an optional ``source,target`` header. A line that is
not a pair (invalid JSON, a missing or empty field, a wrong number of columns) is skipped and counted,
with a warning naming the first. The pairs are split by a seeded shuffle (``val_fraction`` held out);
``scitldr`` (summarization) trains on SciTLDR-A train (the abstract's sentences joined; the first TLDR as
the target) and validates on its dev split with every TLDR as a reference. The tokenizer, shared by
sources and targets, is trained on the training pairs only.
"""

from __future__ import annotations

import csv
import io
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field, model_validator
from torch.utils.data import Dataset

from genlab.core.config import Config
from genlab.core.data import DataInfo
from genlab.core.errors import DataError
from genlab.text.data import encode_lenient, jsonl_records, read_text_file
from genlab.text.tokenizers import TextTokenizer, train_tokenizer

log = logging.getLogger(__name__)
PAIR_FORMATS = ("jsonl", "csv", "tsv")
SCITLDR = "scitldr"


class Seq2SeqDataConfig(Config):
    """Which pairs to train on, how to read, split and tokenize them."""

    source: str = Field(..., min_length=1, description="a pairs file (.jsonl, .csv, .tsv) or scitldr")
    format: Literal["auto", "jsonl", "csv", "tsv"] = Field("auto", description="file format (auto: from the suffix)")
    source_field: str = Field("source", min_length=1, description="JSONL field of the source text")
    target_field: str = Field("target", min_length=1, description="JSONL field of the target text")
    encoding: str = Field("utf-8", description="encoding of the file")
    tokenizer: Literal["char", "bpe"] = Field("bpe", description="shared source/target tokenizer")
    vocab_size: int = Field(4000, ge=257, le=200_000, description="BPE vocabulary size (256 bytes + merges)")
    max_source_length: int = Field(512, ge=1, le=65536, description="source tokens kept (longer sources are cut)")
    max_target_length: int = Field(128, ge=1, le=65536, description="target tokens kept (longer targets are cut)")
    val_fraction: float = Field(0.1, ge=0.0, lt=0.5, description="share of the pairs held out for validation")
    split_seed: int = Field(0, description="seed of the shuffle behind the split")
    max_pairs: int | None = Field(None, ge=1, description="use at most this many training pairs")
    augment: Literal["none", "principal-sentence"] = Field(
        "none",
        description="extra training pairs: principal-sentence adds (source → its principal sentence) for every "
        "training source, PEGASUS-style pseudo-summaries (summarization)",
    )
    guidance: Literal["none", "textrank"] = Field(
        "none",
        description="a guidance sentence read before the source (guided summarization, GSum: Dou et al. 2021): "
        "textrank leads every source with its TextRank sentence, in training and when the model summarises",
    )
    guidance_oracle: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="share of the training pairs guided instead by their oracle sentence (the source sentence "
        "with the highest ROUGE-1 against the target); inference always reads TextRank's",
    )
    scaffold_field: str | None = Field(
        None,
        description="a second target of the same source (a JSONL field; title for scitldr) trained beside the "
        "main one as a scaffold task, each source marked by a control code for its task (CATTS: Cachola et al. "
        "2020); the model then always writes the main task's",
    )
    data_dir: str | None = Field(None, description="folder of standard datasets (default $GENLAB_DATA_DIR)")

    @model_validator(mode="after")
    def _oracle_guides_a_guided_model(self) -> Seq2SeqDataConfig:
        if self.guidance_oracle and self.guidance == "none":
            raise ValueError(
                f"guidance_oracle={self.guidance_oracle} guides the training pairs of a guided model; "
                "set guidance=textrank as well, or guidance_oracle=0"
            )
        return self


@dataclass
class Pair:
    """One example: a source, the target trained on, and every reference for evaluation (the target first)."""

    source: str
    target: str
    references: list[str] = field(default_factory=list)
    scaffold: str = ""  # the scaffold task's target (data.scaffold_field), when read

    def __post_init__(self) -> None:
        if not self.references:
            self.references = [self.target]


@dataclass
class PairSet:
    """Pairs read from one file, with the lines skipped as malformed: ``[(line number, reason), …]``."""

    pairs: list[Pair]
    path: str
    skipped: list[tuple[int, str]] = field(default_factory=list)


def pair_format(path: Path, fmt: str = "auto") -> str:
    """``jsonl``, ``csv`` or ``tsv``: ``fmt``, else from the suffix (``.jsonl``, ``.csv``, ``.tsv``/``.txt``)."""
    if fmt != "auto":
        return fmt
    suffix = path.suffix.lower()
    by_suffix = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "tsv"}
    if suffix not in by_suffix:
        raise DataError(
            f"cannot tell the format of {path} from its suffix", "name it .jsonl, .csv or .tsv, or pass --format"
        )
    return by_suffix[suffix]


def read_pairs(
    path: str | Path,
    fmt: str = "auto",
    source_field: str = "source",
    target_field: str = "target",
    encoding: str = "utf-8",
    scaffold_field: str | None = None,
) -> PairSet:
    """Read a pairs file; malformed lines are skipped and counted (a warning names the first). ``scaffold_field``
    (JSONL only): a field read as each pair's scaffold target, where present.

    Raises :class:`DataError` when no line holds a pair.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"no such pairs file: '{path}'", "pass a .jsonl, .csv or .tsv file of source/target pairs")
    fmt = pair_format(path, fmt)
    if scaffold_field and fmt != "jsonl":
        raise DataError(
            f"a scaffold field ('{scaffold_field}') is read from JSONL files, not {fmt}",
            "give the pairs as JSON lines, or leave --scaffold-field out",
        )
    text = read_text_file(path, encoding)
    if fmt == "jsonl":
        pairs, skipped = _jsonl_pairs(text, source_field, target_field, scaffold_field)
    else:
        pairs, skipped = _table_pairs(text, "," if fmt == "csv" else "\t", (source_field, target_field))
    if skipped:
        number, reason = skipped[0]
        log.warning("skipped %d malformed line(s) of %s (first: line %d, %s)", len(skipped), path, number, reason)
    if not pairs:
        first = f"; line {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
        hint = (
            f"each line needs a JSON object with non-empty '{source_field}' and '{target_field}' strings"
            if fmt == "jsonl"
            else "each row needs two non-empty columns: source, target"
        )
        raise DataError(f"{path} holds no source/target pair{first}", hint)
    return PairSet(pairs, str(path), skipped)


def _jsonl_pairs(
    text: str, source_field: str, target_field: str, scaffold_field: str | None = None
) -> tuple[list[Pair], list[tuple[int, str]]]:
    def pair(obj: dict[str, Any]) -> tuple[Pair | None, str]:
        values = [_text(obj.get(source_field)), _text(obj.get(target_field))]
        missing = [n for n, v in zip((source_field, target_field), values, strict=True) if not v]
        if missing:
            return None, f"missing or empty '{missing[0]}'"
        scaffold = _text(obj.get(scaffold_field)) if scaffold_field else ""
        return Pair(values[0], values[1], scaffold=scaffold), ""

    return jsonl_records(text, pair)


def _text(value: Any) -> str:
    """A field's text, stripped: strings as they are, numbers written out (``12`` → "12"); '' for anything else."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else ""


def _table_pairs(text: str, delimiter: str, header: tuple[str, str]) -> tuple[list[Pair], list[tuple[int, str]]]:
    """Two-column rows; a first row equal to the field names (any case) is a header. TSV fields are unquoted."""
    quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quoting=quoting)
    pairs, skipped = [], []
    first = True
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            skipped.append((reader.line_num, f"unreadable row ({e})"))
            continue
        number = reader.line_num
        if not row or not any(cell.strip() for cell in row):
            continue
        if first and [c.strip().lower() for c in row] == [h.lower() for h in header]:
            first = False
            continue
        first = False
        if len(row) != 2:
            skipped.append((number, f"{len(row)} column(s), expected 2 (source, target)"))
        elif not row[0].strip() or not row[1].strip():
            skipped.append((number, f"empty {'source' if not row[0].strip() else 'target'}"))
        else:
            pairs.append(Pair(row[0].strip(), row[1].strip()))
    return pairs, skipped


def scitldr_pairs(split: str, data_dir: str | None) -> PairSet:
    """SciTLDR-A ``split``: source = the abstract's sentences joined, target = the first TLDR, references = all,
    scaffold = the paper's title."""
    from genlab.text.datasets import load_scitldr

    items = load_scitldr(split, data_dir)
    pairs = [Pair(item.document, item.targets[0], list(item.targets), item.title) for item in items]
    return PairSet(pairs, str(items.path), list(items.skipped))


# --------------------------------------------------------------------------- datasets


GUIDE_SEPARATOR = " ||| "
#: Control codes of a model trained with a scaffold task: the first words of every source it reads.
TARGET_CODE, SCAFFOLD_CODE = "<|target|>", "<|scaffold|>"


def coded_source(source: str, code: str) -> str:
    """``source`` led by a task's control code."""
    return f"{code} {source}"


def guided_source(source: str, guide: str) -> str:
    """``source`` led by its guidance sentence, as a guided model reads it."""
    return f"{guide}{GUIDE_SEPARATOR}{source}"


def textrank_guide(source: str) -> str:
    """The guidance sentence of ``source`` at inference: its TextRank sentence."""
    from genlab.text.summarize.extractive import summarize

    return summarize(source, "textrank", sentences=1)


def guide_sources(pairs: list[Pair], oracle_share: float = 0.0, seed: int = 0) -> list[str]:
    """The guided sources of ``pairs``: each led by its TextRank sentence or, for a seeded ``oracle_share`` of
    them, by the sentence with the highest ROUGE-1 against the pair's target (the oracle)."""
    from genlab.text.summarize.extractive import summarize

    rng = random.Random(seed)
    out = []
    for pair in pairs:
        if rng.random() < oracle_share:
            guide = summarize(pair.source, "oracle", sentences=1, references=[pair.target])
        else:
            guide = textrank_guide(pair.source)
        out.append(guided_source(pair.source, guide))
    return out


def cut_source(ids: list[int], limit: int, keep: Literal["start", "end"] = "start") -> list[int]:
    """At most ``limit`` ids of a source: its first ones, or its last ones (``keep="end"``: the latest turns of a
    conversation matter most)."""
    return ids[-limit:] if keep == "end" and len(ids) > limit else ids[:limit]


class PairDataset(Dataset):
    """Encoded pairs served as ``(source ids (max_source_length,), target ids (max_target_length + 2,))``:
    the source cut (its start kept, or its end with ``keep_source="end"``) and padded, the target framed as
    ``bos … eos`` and padded (fixed sizes, so the default collate stacks them; the model trims the columns a
    batch leaves empty)."""

    def __init__(
        self,
        pairs: list[Pair],
        tokenizer: TextTokenizer,
        max_source: int,
        max_target: int,
        keep_source: Literal["start", "end"] = "start",
        sources: list[str] | None = None,
    ):
        """``sources``: the texts encoded in place of the pairs' sources (guided ones); ``pairs`` stay as read."""
        vocab = tokenizer.vocab_size
        self.pad, self.bos, self.eos = vocab, vocab + 1, vocab + 2
        self.pairs, self.max_source, self.max_target = pairs, max_source, max_target
        self.sources: list[list[int]] = []
        self.targets: list[list[int]] = []
        self.cut_sources = self.cut_targets = 0
        for pair, text in zip(pairs, sources or [p.source for p in pairs], strict=True):
            src, tgt = encode_lenient(tokenizer, text), encode_lenient(tokenizer, pair.target)
            self.cut_sources += len(src) > max_source
            self.cut_targets += len(tgt) > max_target
            self.sources.append(cut_source(src, max_source, keep_source) or [self.pad])
            self.targets.append(tgt[:max_target])

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        src = torch.full((self.max_source,), self.pad, dtype=torch.long)
        ids = self.sources[index]
        src[: len(ids)] = torch.tensor(ids, dtype=torch.long)
        tgt = torch.full((self.max_target + 2,), self.pad, dtype=torch.long)
        framed = [self.bos, *self.targets[index], self.eos]
        tgt[: len(framed)] = torch.tensor(framed, dtype=torch.long)
        return src, tgt


@dataclass
class Seq2SeqDataInfo(DataInfo):
    """What was loaded; written to the run (``data.json``) and used to fill the model config."""

    source: str
    format: str
    tokenizer: str
    vocab_size: int
    max_source_length: int
    max_target_length: int
    n_train_pairs: int
    n_val_pairs: int
    val_source: str
    truncated_sources: int
    truncated_targets: int
    data_config: dict[str, Any] = field(default_factory=dict)
    split: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    tokenizer_obj: TextTokenizer | None = field(default=None, repr=False, metadata={"saved": False})

    @property
    def preprocessor(self) -> TextTokenizer | None:
        """The tokenizer trained on the training pairs (saved in the model config)."""
        return self.tokenizer_obj


def split_pairs(cfg: Seq2SeqDataConfig, allow_scitldr: bool = True) -> tuple[list[Pair], list[Pair], dict[str, Any]]:
    """(training pairs, validation pairs, record of the split and the skipped lines) of ``cfg.source``."""
    if cfg.source == SCITLDR:
        if not allow_scitldr:
            raise DataError("scitldr is a summarization dataset", "train it with `genlab train summarization`")
        if cfg.scaffold_field not in (None, "title"):
            raise DataError(f"scitldr has no '{cfg.scaffold_field}' to scaffold with", "use --scaffold-field title")
        train, val = scitldr_pairs("train", cfg.data_dir), scitldr_pairs("dev", cfg.data_dir)
        record = {"method": "SciTLDR-A train / dev", "format": "scitldr", "val_source": "scitldr dev (all TLDRs)"}
        skipped = [f"{s.path} line {n}: {why}" for s in (train, val) for n, why in s.skipped]
        pairs_train = train.pairs[: cfg.max_pairs] if cfg.max_pairs else train.pairs
        return pairs_train, val.pairs, record | {"skipped": skipped}
    return split_file_pairs(cfg)


def split_file_pairs(cfg: Seq2SeqDataConfig) -> tuple[list[Pair], list[Pair], dict[str, Any]]:
    """The pairs file ``cfg.source`` split by a seeded shuffle: (training pairs, held-out pairs, record)."""
    path = Path(cfg.source).expanduser()
    read = read_pairs(path, cfg.format, cfg.source_field, cfg.target_field, cfg.encoding, cfg.scaffold_field)
    pairs = list(read.pairs)
    random.Random(cfg.split_seed).shuffle(pairs)
    n_val = int(len(pairs) * cfg.val_fraction)
    if cfg.val_fraction and len(pairs) > 1:
        n_val = max(1, n_val)
    train, val = pairs[n_val:], pairs[:n_val]
    if cfg.max_pairs:
        train = train[: cfg.max_pairs]
    record = {
        "method": "pairs, seeded shuffle", "seed": cfg.split_seed, "format": pair_format(path, cfg.format),
        "val_source": f"{cfg.source} held-out pairs ({n_val})",
    }  # fmt: skip
    return train, val, record | {"skipped": [f"{read.path} line {n}: {why}" for n, why in read.skipped]}


def load_pairs_data(
    cfg: Seq2SeqDataConfig, allow_scitldr: bool = True
) -> tuple[PairDataset, PairDataset | None, Seq2SeqDataInfo]:
    """Read and split the pairs, train the shared tokenizer on the training pairs, encode both splits."""
    train, val, record = split_pairs(cfg, allow_scitldr)
    return encode_pairs(cfg, train, val, record)


def encode_pairs(
    cfg: Seq2SeqDataConfig,
    train: list[Pair],
    val: list[Pair],
    record: dict[str, Any],
    keep_source: Literal["start", "end"] = "start",
) -> tuple[PairDataset, PairDataset | None, Seq2SeqDataInfo]:
    """Train the shared tokenizer on the ``train`` pairs and encode both splits; ``record`` describes the split
    (``format``, ``val_source``, ``skipped``: the malformed lines); ``keep_source``: which end of a long source
    is kept."""
    record = dict(record)
    skipped = record.pop("skipped")
    if not train:
        raise DataError(f"'{cfg.source}' leaves no training pair", "give more pairs or a smaller --val-fraction")
    if cfg.augment == "principal-sentence":
        extra = principal_sentence_pairs(train)
        train = train + extra
        record["augment"] = f"{len(extra)} principal-sentence pairs added to the training pairs"
    scaffolded = [i for i, p in enumerate(train) if p.scaffold] if cfg.scaffold_field else []
    if cfg.scaffold_field and not scaffolded:
        raise DataError(f"no training pair has a '{cfg.scaffold_field}'", "name a field the pairs hold")
    guided = cfg.guidance != "none"
    train_src = guide_sources(train, cfg.guidance_oracle, cfg.split_seed) if guided else [p.source for p in train]
    val_src = guide_sources(val) if guided else [p.source for p in val]
    if guided:
        record["guidance"] = f"{cfg.guidance}; oracle sentence for {cfg.guidance_oracle:.0%} of the training pairs"
    codes = [TARGET_CODE, SCAFFOLD_CODE] if scaffolded else []
    if scaffolded:  # every source marked by its task's code; a scaffold pair reads its main pair's (guided) source
        train_src = [coded_source(s, TARGET_CODE) for s in train_src] + [
            coded_source(train_src[i], SCAFFOLD_CODE) for i in scaffolded
        ]
        val_src = [coded_source(s, TARGET_CODE) for s in val_src]
        train = train + [Pair(train[i].source, train[i].scaffold) for i in scaffolded]
        record["scaffold"] = f"{len(scaffolded)} '{cfg.scaffold_field}' pairs added as a scaffold task"
    # the tokenizer learns the texts as written (a guide repeats a sentence of its source), plus separator and codes
    texts = [t for p in train for t in (p.source, p.target)] + ([GUIDE_SEPARATOR] if guided else []) + codes
    tokenizer = train_tokenizer(cfg.tokenizer, texts, cfg.vocab_size)
    lengths = (cfg.max_source_length, cfg.max_target_length, keep_source)
    train_ds = PairDataset(train, tokenizer, *lengths, sources=train_src)
    val_ds = PairDataset(val, tokenizer, *lengths, sources=val_src) if val else None
    info = Seq2SeqDataInfo(
        source=cfg.source,
        format=record["format"],
        tokenizer=tokenizer.kind,
        vocab_size=tokenizer.vocab_size,
        max_source_length=cfg.max_source_length,
        max_target_length=cfg.max_target_length,
        n_train_pairs=len(train),
        n_val_pairs=len(val),
        val_source=record["val_source"],
        truncated_sources=train_ds.cut_sources,
        truncated_targets=train_ds.cut_targets,
        data_config=cfg.to_dict(),
        split=record,
        skipped=skipped,
        tokenizer_obj=tokenizer,
    )
    return train_ds, val_ds, info


def principal_sentence_pairs(pairs: list[Pair]) -> list[Pair]:
    """(source → the source's principal sentence) for every pair whose source has more than one sentence:
    pseudo-summaries that teach an abstractive model what a document's central content looks like
    (:func:`genlab.text.summarize.extractive.principal_sentence`, after PEGASUS, Zhang et al. 2020)."""
    from genlab.text.summarize.extractive import principal_sentence

    out = []
    for pair in pairs:
        sentence = principal_sentence(pair.source)
        if sentence.strip() != pair.source.strip():
            out.append(Pair(pair.source, sentence))
    return out


def validation_pairs(recorded: dict[str, Any], data_dir: str | None = None) -> tuple[list[Pair], str]:
    """The validation pairs of a model's recorded data config (rebuilt by the same split) and their description."""
    values = dict(recorded)
    if data_dir:
        values["data_dir"] = data_dir
    cfg = Seq2SeqDataConfig.build(values, where="data")
    _, val, record = split_pairs(cfg)
    return val, record["val_source"]
