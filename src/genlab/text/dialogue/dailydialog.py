"""DailyDialog (Li et al. 2017, "DailyDialog: A Manually Labelled Multi-turn Dialogue Dataset", IJCNLP): 13,118
written English conversations about daily life, in its official train / validation / test splits (11,118 / 1,000 /
1,000 dialogues), as the ConvLab-3 project publishes it ("unified" format; Zhu et al. 2023).

Where it is read from, under ``DIR/dialogue/`` (``DIR``: ``--data-dir``, else ``$GENLAB_DATA_DIR``, else
``~/.cache/genlab/data``):

1. ``{train,validation,test}.jsonl``: one dialogue a line, ``{"dialogue_id", "topic", "turns": [{"speaker",
   "utterance", …}, …]}`` (the text of the ConvLab-3 file, one split per file);
2. else ConvLab-3's ``dailydialog_convlab3_data.zip`` (``data/dialogues.json``: every dialogue with its
   ``data_split``), checked against its sha256 before it is read;
3. else that zip is downloaded from the ConvLab-3 repository at a fixed commit and checked the same way.

A line that is not a dialogue (invalid JSON, no ``turns`` list, a turn without text) is skipped and counted.

Each dialogue gives one (context → response) pair per turn after the first: the response is the turn, the context
the ``context_turns`` turns before it joined by :data:`SEPARATOR` (:func:`join_turns`; the chat bot joins the
conversation the same way). Licence: CC BY-NC-SA 4.0 — non-commercial use, derived data under the same licence;
genlab never ships the data, it reads a copy the user has.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab.core.download import data_root, local_copy_hint, sha256_file
from genlab.core.errors import DataError
from genlab.text.data import jsonl_records, read_text_file
from genlab.text.seq2seq.data import Pair, PairSet

log = logging.getLogger(__name__)

DAILYDIALOG = "dailydialog"
DAILYDIALOG_LICENSE = "CC BY-NC-SA 4.0 (DailyDialog, Li et al. 2017; non-commercial, share-alike)"
DAILYDIALOG_SPLITS = ("train", "validation", "test")
DAILYDIALOG_FOLDER = "dialogue"
CONVLAB_COMMIT = "2a168fc9843e54a468ddec71e001b7559c36aff4"
DAILYDIALOG_URL = (
    f"https://raw.githubusercontent.com/ConvLab/ConvLab-3/{CONVLAB_COMMIT}/data/unified_datasets/dailydialog/data.zip"
)
DAILYDIALOG_ZIP = "dailydialog_convlab3_data.zip"
DAILYDIALOG_SHA256 = "b1f38f3bf5431f9384107011a943f1a3446027721292e3a248a894b7766fa9d3"
ZIP_MEMBER = "data/dialogues.json"

#: Between the turns of a context: a visible mark every tokenizer keeps (a pairs file written by hand uses it too).
SEPARATOR = " | "
#: Turns of context before each response, unless the data config says otherwise.
CONTEXT_TURNS = 3


@dataclass
class Dialogue:
    """One conversation: its ``turns`` (the utterances in order), ``dialogue_id`` and ``topic``."""

    turns: list[str]
    dialogue_id: str = ""
    topic: str = ""


@dataclass
class DialogueSet:
    """The dialogues of one split, the file they came from, and the lines skipped as malformed."""

    dialogues: list[Dialogue]
    path: str
    skipped: list[tuple[int, str]] = field(default_factory=list)


def join_turns(turns: Sequence[str], context_turns: int = CONTEXT_TURNS) -> str:
    """The last ``context_turns`` turns (each with its spaces collapsed) joined by :data:`SEPARATOR`."""
    kept = [" ".join(t.split()) for t in turns[-context_turns:]] if context_turns > 0 else []
    return SEPARATOR.join(t for t in kept if t)


def dialogue_pairs(dialogues: Sequence[Dialogue], context_turns: int = CONTEXT_TURNS) -> list[Pair]:
    """(context → response) pairs: for every turn after the first, the turns before it (at most ``context_turns``)
    joined by :func:`join_turns`, and the turn."""
    pairs = []
    for dialogue in dialogues:
        for i in range(1, len(dialogue.turns)):
            pairs.append(Pair(join_turns(dialogue.turns[:i], context_turns), dialogue.turns[i]))
    return pairs


# --------------------------------------------------------------------------- reading


def _dialogue(obj: Any) -> tuple[Dialogue | None, str]:
    """The dialogue of one parsed record (the JSONL lines and the ConvLab-3 file alike), or None and why not."""
    if not isinstance(obj, dict):
        return None, "not a JSON object"
    turns = obj.get("turns")
    if not isinstance(turns, list) or len(turns) < 2:
        return None, "no 'turns' list of two or more turns"
    texts = []
    for i, turn in enumerate(turns):
        text = turn.get("utterance") if isinstance(turn, dict) else None
        if not isinstance(text, str) or not text.strip():
            return None, f"turn {i + 1} has no 'utterance' text"
        texts.append(" ".join(text.split()))
    topic = obj.get("topic") or (obj.get("domains") or [""])[0]
    return Dialogue(texts, str(obj.get("dialogue_id", "")), str(topic)), ""


def read_dialogues(path: str | Path) -> DialogueSet:
    """Dialogues of a JSON-lines file (one ``{"turns": [{"utterance": …}, …]}`` a line); malformed lines are
    skipped and counted, a warning names the first. Raises :class:`DataError` when no line holds a dialogue."""
    path = Path(path)
    dialogues, skipped = jsonl_records(read_text_file(path), _dialogue)
    if skipped:
        n, reason = skipped[0]
        log.warning("skipped %d malformed line(s) of %s (first: line %d, %s)", len(skipped), path, n, reason)
    if not dialogues:
        raise DataError(f"{path} holds no dialogue", 'each line needs {"turns": [{"utterance": "..."}, ...]}')
    return DialogueSet(dialogues, str(path), skipped)


def check_sha256(path: Path, expected: str) -> None:
    """Raise :class:`DataError` unless the file's sha256 is ``expected``."""
    digest = sha256_file(path)
    if digest != expected.lower():
        raise DataError(
            f"{path} is not the DailyDialog archive genlab expects: sha256 {digest}, expected {expected}",
            f"delete it and let genlab download it again, or copy ConvLab-3's file ({DAILYDIALOG_URL}) there",
        )


def read_convlab_zip(path: str | Path, split: str, sha256: str | None) -> DialogueSet:
    """The dialogues of ``split`` in ConvLab-3's archive (``data/dialogues.json``), after checking that its sha256
    is ``sha256`` (``None``: not checked). Records that are not dialogues are skipped and counted (by their
    position in the list)."""
    path = Path(path)
    if sha256:
        check_sha256(path, sha256)
    try:
        with zipfile.ZipFile(path) as archive:
            records = json.loads(archive.read(ZIP_MEMBER).decode("utf-8"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path} is not ConvLab-3's DailyDialog archive ({e})", f"it needs {ZIP_MEMBER}") from None
    if not isinstance(records, list):
        raise DataError(f"{path}: {ZIP_MEMBER} is not a list of dialogues")
    dialogues, skipped = [], []
    for index, record in enumerate(records, start=1):
        if not isinstance(record, dict) or record.get("data_split") != split:
            continue
        dialogue, reason = _dialogue(record)
        if dialogue is None:
            skipped.append((index, reason))
        else:
            dialogues.append(dialogue)
    if not dialogues:
        raise DataError(f"{path} holds no {split} dialogue")
    return DialogueSet(dialogues, f"{path}:{ZIP_MEMBER} ({split})", skipped)


def dailydialog_source(split: str, data_dir: str | Path | None = None, download: bool = True) -> Path:
    """The file to read ``split`` from: ``DIR/dialogue/{split}.jsonl``, else the ConvLab-3 archive in that folder,
    downloaded there (and checked) when ``download`` and neither exists."""
    from genlab.core.download import download as fetch

    if split not in DAILYDIALOG_SPLITS:
        raise DataError(f"DailyDialog has no split '{split}'", f"its splits are: {', '.join(DAILYDIALOG_SPLITS)}")
    folder = data_root(data_dir) / DAILYDIALOG_FOLDER
    for path in (folder / f"{split}.jsonl", folder / DAILYDIALOG_ZIP):
        if path.is_file():
            return path
    archive = folder / DAILYDIALOG_ZIP
    if not download:
        raise DataError(
            f"no DailyDialog {split}.jsonl or {DAILYDIALOG_ZIP} in {folder}", local_copy_hint(DAILYDIALOG_URL, archive)
        )
    log.warning("DailyDialog is licensed %s: use it for non-commercial work only", DAILYDIALOG_LICENSE)
    return fetch(DAILYDIALOG_URL, archive, DAILYDIALOG_SHA256, desc="DailyDialog (ConvLab-3)")


def load_dailydialog(split: str, data_dir: str | Path | None = None, download: bool = True) -> DialogueSet:
    """The dialogues of DailyDialog's official ``split`` (train, validation or test); see the module docstring
    for where they are read from. ``data_dir`` defaults to ``$GENLAB_DATA_DIR``."""
    path = dailydialog_source(split, data_dir, download)
    return read_convlab_zip(path, split, DAILYDIALOG_SHA256) if path.suffix == ".zip" else read_dialogues(path)


def dailydialog_pairs(split: str, data_dir: str | Path | None, context_turns: int = CONTEXT_TURNS) -> PairSet:
    """The (context → response) pairs of DailyDialog's ``split``, with the skipped lines of its file."""
    dialogues = load_dailydialog(split, data_dir)
    return PairSet(dialogue_pairs(dialogues.dialogues, context_turns), dialogues.path, dialogues.skipped)
