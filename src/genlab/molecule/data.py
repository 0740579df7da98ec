"""Molecule data: the MOSES benchmark sets, SMILES files, and molecules as padded token sequences.

``source`` is a registered dataset or a SMILES file (``.smi``/``.txt``: one per line with an
optional name; ``.csv``: a SMILES column). Datasets:

* ``moses`` — the 10k-molecule samples of the MOSES splits (Polykovskiy et al. 2020, "Molecular
  Sets (MOSES): A Benchmarking Platform for Molecular Generation Models", Front. Pharmacol.):
  ``DATA_DIR/molecules/moses_{train10k,test10k,test_scaffolds10k}.csv`` (9,999 / 10,000 / 10,000
  molecules), downloaded from the molecularsets/moses repository at a fixed commit when missing.
* ``moses-full`` — the full MOSES splits (1,584,663 train / 176,074 test / 176,226 scaffold-test
  molecules): ``DATA_DIR/molecules/{train,test,test_scaffolds}.csv``, downloaded from the
  repository's Git LFS storage when missing; every file is checked against its sha256 (the
  ``oid`` of its LFS pointer).

``DATA_DIR`` is ``--data-dir``, else ``$GENLAB_DATA_DIR``, else ``~/.cache/genlab/data``. Every
molecule is canonicalised by RDKit on reading; lines that do not parse are skipped and counted.
For training, each molecule is one sequence ``[bos] tokens… [eos]`` padded to a fixed length
(the longest training molecule, capped by ``max_length``; longer molecules are skipped and counted).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field
from torch.utils.data import Dataset

from genlab.core.config import Config
from genlab.core.data import DataInfo, DatasetSpec, parse_source, register_dataset
from genlab.core.download import data_root, download, local_copy_hint
from genlab.core.errors import DataError
from genlab.core.registry import DATASETS
from genlab.molecule.chem import read_smiles_file
from genlab.molecule.tokenizers import PAD_ID, MoleculeTokenizer, train_tokenizer

FOLDER = "molecules"
MOSES_LICENSE = "MIT (molecularsets/moses, © 2018 Insilico Medicine); molecules from ZINC Clean Leads"
SPLITS = ("train", "test", "test_scaffolds")

#: The 10k samples of the MOSES splits: added to molecularsets/moses in this commit (reachable from its
#: pull-request refs) as ``data/zinc/{train10k,test,test_scaffolds}.csv``; file → (repository path, sha256).
MOSES_10K_COMMIT = "8a019822a314b224b80468b9b91488a229f01927"
MOSES_10K_URL = "https://raw.githubusercontent.com/molecularsets/moses/{commit}/{path}"
MOSES_10K = {
    "train": ("moses_train10k.csv", "data/zinc/train10k.csv",
              "af86f91f45a24918cd34338c0823030988ae4fee1b0834894f219dffe9bec8a6"),
    "test": ("moses_test10k.csv", "data/zinc/test.csv",
             "89e6a0bcee180392f704dc3ee71e88e3ced9cf7b6fc957dc76b234dfac4a4f3e"),
    "test_scaffolds": ("moses_test_scaffolds10k.csv", "data/zinc/test_scaffolds.csv",
                       "516cec1e5fe0f62c7cb40d7a22857cbeea24ce0108a8fd2ad35237ff904f44e4"),
}  # fmt: skip

#: The full MOSES splits as Git LFS objects of molecularsets/moses: the media URL of each file at the commit
#: that last changed it, and the sha256 recorded in its LFS pointer (``oid sha256:…``, with the byte size).
MOSES_FULL_URL = "https://media.githubusercontent.com/media/molecularsets/moses/{commit}/{path}"
MOSES_FULL = {
    "train": ("train.csv", "data/train.csv", "3926d40b816808d0eabd47c01905d2f5d1390d87",
              "49fe1aae29604ec0f5023ea34edc8789415f954138f2903dabd005a4b888a961", 67_916_778),
    "test": ("test.csv", "data/test.csv", "09e8a3154deff0d11e60f1810a177735c6770a6f",
             "257165e8f1e1be2d5712db51c93d2b1544564b782dc303d7d19c887c21a858e6", 7_370_473),
    "test_scaffolds": ("test_scaffolds.csv", "data/test_scaffolds.csv", "09e8a3154deff0d11e60f1810a177735c6770a6f",
                       "8bc942dd807147e07b506151fe8675f58780ed8e494801b705c4bdadb3df3440", 9_195_363),
}  # fmt: skip


# --- standard datasets ------------------------------------------------------------------------------------
@dataclass
class MoleculeSet:
    """Canonical SMILES read from one file, the file, and how many of its lines were skipped as invalid."""

    smiles: list[str]
    path: Path
    skipped: int = 0


def moses_file(split: str, data_dir: str | Path | None = None, full: bool = False, fetch: bool = True) -> Path:
    """The local CSV of MOSES ``split`` (``DATA_DIR/molecules/…``), downloaded and checked when missing."""
    if split not in SPLITS:
        raise DataError(f"MOSES has no split '{split}'", f"its splits are: {', '.join(SPLITS)}")
    folder = data_root(data_dir)
    folder = folder if folder.name == FOLDER else folder / FOLDER
    if full:
        name, repo_path, commit, sha256, _ = MOSES_FULL[split]
        url = MOSES_FULL_URL.format(commit=commit, path=repo_path)
    else:
        name, repo_path, sha256 = MOSES_10K[split]
        url = MOSES_10K_URL.format(commit=MOSES_10K_COMMIT, path=repo_path)
    path = folder / name
    if path.is_file():
        return path
    if not fetch:
        raise DataError(f"no MOSES {split} file ({name}) in {folder}", local_copy_hint(url, path))
    return download(url, path, sha256, desc=f"MOSES {split}")


def load_moses(
    split: str = "train", data_dir: str | Path | None = None, full: bool = False, fetch: bool = True
) -> MoleculeSet:
    """Canonical SMILES of MOSES ``split`` (the 10k sample, or the full set with ``full=True``)."""
    path = moses_file(split, data_dir, full, fetch)
    smiles, skipped = read_smiles_file(path)
    return MoleculeSet(smiles, path, skipped)


MOSES = register_dataset(
    DatasetSpec(
        "moses", "molecule", lambda split="train", data_dir=None, download=True: load_moses(split, data_dir, False,
                                                                                             download),
        SPLITS, "MOSES benchmark molecules, 10k-molecule samples of train / test / scaffold-test (ZINC Clean Leads)",
        MOSES_LICENSE,
    )
)  # fmt: skip
MOSES_FULL_SPEC = register_dataset(
    DatasetSpec(
        "moses-full", "molecule", lambda split="train", data_dir=None, download=True: load_moses(split, data_dir, True,
                                                                                                  download),
        SPLITS, "MOSES benchmark molecules, full splits (1.58M train / 176k test / 176k scaffold-test)",
        MOSES_LICENSE,
    )
)  # fmt: skip


def load_source(source: str, split: str | None = None, data_dir: str | Path | None = None) -> MoleculeSet:
    """Molecules of a registered molecule dataset (``moses``, ``moses:test``) or of a SMILES file."""
    name, named_split = parse_source(source)
    if name in DATASETS and DATASETS.get(name).modality == "molecule":
        spec = DATASETS.get(name)
        return spec(spec.check_split(split or named_split), data_dir)
    path = Path(source).expanduser()
    if not path.exists():
        molecule_sets = DATASETS.names(modality="molecule")
        raise DataError(
            f"'{source}' is neither a molecule dataset nor a file",
            f"use one of {', '.join(molecule_sets)} or a .smi/.txt/.csv file of SMILES",
        )
    smiles, skipped = read_smiles_file(path)
    return MoleculeSet(smiles, path, skipped)


# --- training data ----------------------------------------------------------------------------------------
class MoleculeDataConfig(Config):
    """Which molecules to train on and how to write them as tokens."""

    source: str = Field("moses", min_length=1, description="dataset (moses, moses-full) or a .smi/.txt/.csv file")
    data_dir: str | None = Field(None, description="folder of standard datasets (default $GENLAB_DATA_DIR)")
    tokenizer: Literal["auto", "smiles", "selfies"] = Field(
        "auto", description="molecule notation; auto: the model's own (SMILES, SELFIES for selfies-gpt)"
    )
    max_length: int = Field(128, ge=4, le=2048, description="longest sequence in tokens, bos/eos included")
    val_fraction: float = Field(0.05, ge=0.0, lt=0.5, description="share of training molecules held out")
    split_seed: int = Field(0, description="seed of the shuffle behind the validation split")
    max_molecules: int | None = Field(None, ge=2, description="use at most this many training molecules")


class MoleculeSequences(Dataset):
    """Molecules as fixed-length id rows ``[bos] tokens… [eos] pad…`` (a long tensor (N, L)).

    Built from canonical SMILES; the rows exist once :meth:`tokenize` has run (the tokenizer is
    chosen by the model being trained).
    """

    def __init__(self, smiles: list[str]):
        self.smiles = list(smiles)
        self.ids: torch.Tensor | None = None

    def encode(self, tokenizer: MoleculeTokenizer) -> tuple[list[list[int]], list[str]]:
        """Ids ``[bos] … [eos]`` of every molecule (unpadded; the molecules that fail are dropped) and the
        reasons of the failures."""
        rows, kept, refused = [], [], []
        for s in self.smiles:
            try:
                rows.append(tokenizer.encode_smiles(s))
                kept.append(s)
            except Exception as e:  # a token outside the vocabulary, a SELFIES encoder refusal
                refused.append(f"{s}: {getattr(e, 'message', e)}")
        self.smiles = kept
        return rows, refused

    def set_rows(self, rows: list[list[int]], length: int) -> list[str]:
        """Keep the rows of at most ``length`` ids, padded to ``length``; returns the reasons of those left out."""
        keep = [i for i, r in enumerate(rows) if len(r) <= length]
        refused = [f"{self.smiles[i]}: {len(r)} tokens, more than max_length={length}"
                   for i, r in enumerate(rows) if len(r) > length]  # fmt: skip
        self.smiles = [self.smiles[i] for i in keep]
        padded = [rows[i] + [PAD_ID] * (length - len(rows[i])) for i in keep]
        self.ids = torch.tensor(padded, dtype=torch.long) if padded else torch.zeros(0, length, dtype=torch.long)
        return refused

    def __len__(self) -> int:
        return len(self.smiles) if self.ids is None else len(self.ids)

    def __getitem__(self, index: int) -> torch.Tensor:
        if self.ids is None:
            raise DataError("the molecules are not tokenized yet", "train through genlab (the task tokenizes them)")
        return self.ids[index]


@dataclass
class MoleculeDataInfo(DataInfo):
    """What was loaded; written to the run (``data.json``) and used to fill the model config."""

    source: str
    n_train: int
    n_val: int
    n_invalid: int
    tokenizer: str = ""
    vocab_size: int = 0
    max_length: int = 0
    reference: str = ""
    data_dir: str | None = None
    data_config: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    model_fields: set[str] = field(default_factory=set, repr=False, metadata={"saved": False})
    train_set: MoleculeSequences | None = field(default=None, repr=False, metadata={"saved": False})
    val_set: MoleculeSequences | None = field(default=None, repr=False, metadata={"saved": False})
    tokenizer_obj: MoleculeTokenizer | None = field(default=None, repr=False, metadata={"saved": False})

    @property
    def preprocessor(self) -> MoleculeTokenizer | None:
        """The tokenizer built on the training molecules (saved in the model config)."""
        return self.tokenizer_obj

    def tokenize(self, kind: str, max_length: int) -> None:
        """Build the ``kind`` tokenizer on the training molecules and encode both splits (once)."""
        if self.tokenizer_obj is not None:
            return
        assert self.train_set is not None
        tokenizer, _ = train_tokenizer(kind, self.train_set.smiles)
        parts = [p for p in (self.train_set, self.val_set) if p is not None]
        encoded = []
        for part in parts:
            rows, refused = part.encode(tokenizer)
            encoded.append(rows)
            self.skipped += refused
        length = min(max_length, max((len(r) for r in encoded[0]), default=2))
        for part, rows in zip(parts, encoded, strict=True):
            self.skipped += part.set_rows(rows, length)
        if len(self.train_set) < 2:
            raise DataError(
                f"only {len(self.train_set)} training molecule(s) fit the {kind} tokenizer and max_length={max_length}",
                "raise --set data.max_length or use more molecules",
            )
        self.tokenizer_obj, self.tokenizer = tokenizer, kind
        self.vocab_size, self.max_length = tokenizer.vocab_size, length
        self.n_train, self.n_val = len(self.train_set), len(self.val_set or [])


def load_molecule_data(cfg: MoleculeDataConfig) -> tuple[MoleculeSequences, MoleculeSequences | None,
                                                          MoleculeDataInfo]:  # fmt: skip
    """Read the training molecules, hold out ``val_fraction`` (seeded), and report what was read.

    Duplicates are kept once (the first). The sequences are tokenized later, by the task, with the
    tokenizer the model asks for (:meth:`MoleculeDataInfo.tokenize`).
    """
    mols = load_source(cfg.source, "train", cfg.data_dir)
    smiles = list(dict.fromkeys(mols.smiles))
    if cfg.max_molecules:
        smiles = smiles[: cfg.max_molecules]
    order = list(range(len(smiles)))
    random.Random(cfg.split_seed).shuffle(order)
    n_val = int(round(cfg.val_fraction * len(smiles))) if len(smiles) >= 10 else 0
    val = [smiles[i] for i in order[:n_val]]
    train = [smiles[i] for i in order[n_val:]]
    train_set = MoleculeSequences(train)
    val_set = MoleculeSequences(val) if val else None
    name, _ = parse_source(cfg.source)
    is_dataset = name in DATASETS
    recorded = cfg.to_dict()
    if not is_dataset:  # a file: recorded absolute, so evaluation finds it from any folder
        recorded["source"] = str(Path(cfg.source).expanduser().resolve())
    info = MoleculeDataInfo(
        source=cfg.source,
        n_train=len(train),
        n_val=len(val),
        n_invalid=mols.skipped,
        reference=f"{name}:test" if is_dataset else "validation split",
        data_dir=cfg.data_dir,
        data_config=recorded,
        skipped=[f"{mols.path}: {mols.skipped} line(s) are not valid SMILES"] if mols.skipped else [],
        train_set=train_set,
        val_set=val_set,
    )
    return train_set, val_set, info


def training_smiles(info: dict[str, Any] | MoleculeDataInfo) -> list[str]:
    """The canonical training molecules of a run's data (for novelty), re-read from its source."""
    data = info.to_dict() if isinstance(info, MoleculeDataInfo) else dict(info)
    mols = load_source(data["source"], "train", data.get("data_dir"))
    return list(dict.fromkeys(mols.smiles))
