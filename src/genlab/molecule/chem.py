"""Chemistry through RDKit: parsing and canonical SMILES, SMILES files, drug-likeness properties, drawing.

Everything that touches RDKit goes through this module, so the rest of the modality works
with canonical SMILES strings. RDKit's logging is silenced while parsing: invalid SMILES
are expected (generated molecules, user files) and are counted, not printed.

Properties: QED (Bickerton et al. 2012, RDKit ``QED.qed``), Crippen logP (Wildman & Crippen
1999, ``Crippen.MolLogP``), synthetic accessibility (Ertl & Schuffenhauer 2009, the SA_Score
implementation RDKit ships in its ``Contrib`` folder, 1 = easy … 10 = hard) and the average
molecular weight (``Descriptors.MolWt``, g/mol).
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import math
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from genlab.core.errors import BadInputError, DataError
from genlab.core.optional import require

SMILES_SUFFIXES = (".smi", ".smiles", ".txt", ".csv")
PROPERTY_NAMES = ("qed", "logp", "sa", "mol_weight")


def rdkit() -> Any:
    """The ``rdkit.Chem`` module, or a :class:`BadInputError` naming the extra to install."""
    return require("rdkit.Chem", "molecule", "molecule parsing")


@contextmanager
def quiet_rdkit() -> Iterator[None]:
    """Silence RDKit's parse warnings ("SMILES Parse Error …") inside the block."""
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    try:
        yield
    finally:
        RDLogger.EnableLog("rdApp.*")


def parse_smiles(smiles: str) -> Any | None:
    """The RDKit molecule of ``smiles`` (sanitised), or None when it does not parse or is empty."""
    chem = rdkit()
    if not isinstance(smiles, str) or not smiles.strip():
        return None
    with quiet_rdkit():
        mol = chem.MolFromSmiles(smiles.strip())
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return mol


def mol_to_smiles(mol: Any) -> str:
    """Canonical (RDKit) SMILES of a molecule, stereochemistry kept."""
    return rdkit().MolToSmiles(mol)


def canonical(smiles: str) -> str | None:
    """RDKit canonical SMILES of ``smiles``, or None when it is not a valid molecule."""
    mol = parse_smiles(smiles)
    return None if mol is None else mol_to_smiles(mol)


def canonical_many(smiles: Iterable[str]) -> list[str | None]:
    """:func:`canonical` of each string (None for the invalid ones), in order."""
    return [canonical(s) for s in smiles]


# --- SMILES files -----------------------------------------------------------------------------------------
def read_smiles_file(path: str | Path, column: str | None = None) -> tuple[list[str], int]:
    """Read molecules from a SMILES file; returns ``(canonical SMILES, number of lines skipped)``.

    ``.smi``/``.smiles``/``.txt``: one molecule per line, the SMILES first and an optional name
    after a space or tab; blank lines and ``#`` comments are ignored. ``.csv``: the column named
    ``column`` or, by default, the one called ``smiles`` (any case). Lines whose SMILES RDKit
    cannot parse are skipped and counted. A missing file, an unknown suffix, a CSV without a
    SMILES column, or a file with no valid molecule raises :class:`DataError`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no SMILES file at {path}", "give a .smi, .txt or .csv file of molecules")
    suffix = path.suffix.lower()
    if suffix not in SMILES_SUFFIXES:
        raise DataError(
            f"{path.name}: unknown SMILES file type '{suffix or '(none)'}'",
            "use .smi/.txt (one SMILES per line, optional name after it) or .csv with a SMILES column",
        )
    raw = list(_csv_smiles(path, column) if suffix == ".csv" else _line_smiles(path))
    if not raw:
        raise DataError(f"{path} holds no molecules (it is empty)", "put one SMILES per line in it")
    molecules = [c for c in canonical_many(raw) if c is not None]
    skipped = len(raw) - len(molecules)
    if not molecules:
        raise DataError(
            f"none of the {len(raw)} SMILES in {path} is a valid molecule",
            "check the file holds SMILES strings (e.g. CCO), one per line or in a SMILES column",
        )
    return molecules, skipped


def _line_smiles(path: Path) -> Iterator[str]:
    """The first field of every non-blank, non-comment line of a .smi/.txt file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                yield line.split()[0]


def _csv_smiles(path: Path, column: str | None) -> Iterator[str]:
    """The SMILES column of a CSV file (``column``, else the header ``smiles`` in any case)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return
        names = [h.strip().lower() for h in header]
        wanted = (column or "smiles").strip().lower()
        if wanted not in names:
            raise DataError(
                f"{path.name} has no '{column or 'SMILES'}' column (columns: {', '.join(header) or 'none'})",
                "name the column of molecules SMILES (any case)",
            )
        index = names.index(wanted)
        for row in reader:
            if len(row) > index and row[index].strip():
                yield row[index].strip()


def write_smiles_file(smiles: Iterable[str], path: str | Path) -> Path:
    """Write one SMILES per line to ``path`` (atomically) and return it."""
    from genlab.core.io import atomic_write_text

    path = Path(path)
    atomic_write_text(path, "".join(f"{s}\n" for s in smiles))
    return path


# --- properties -------------------------------------------------------------------------------------------
def qed(mol: Any) -> float:
    """Quantitative estimate of drug-likeness in [0, 1] (Bickerton et al. 2012)."""
    from rdkit.Chem import QED

    return float(QED.qed(mol))


def logp(mol: Any) -> float:
    """Crippen octanol–water partition coefficient (Wildman & Crippen 1999)."""
    from rdkit.Chem import Crippen

    return float(Crippen.MolLogP(mol))


def mol_weight(mol: Any) -> float:
    """Average molecular weight in g/mol."""
    from rdkit.Chem import Descriptors

    return float(Descriptors.MolWt(mol))


@functools.cache
def _sascorer() -> Any:
    """RDKit's Contrib ``sascorer`` module (Ertl & Schuffenhauer 2009), loaded from the RDKit install."""
    from rdkit.Chem import RDConfig

    path = os.path.join(RDConfig.RDContribDir, "SA_Score", "sascorer.py")
    if not os.path.isfile(path):
        raise BadInputError(
            "the SA score needs RDKit's Contrib/SA_Score, which this RDKit install lacks",
            "install RDKit from PyPI (pip install rdkit), which ships it",
        )
    spec = importlib.util.spec_from_file_location("genlab_rdkit_sascorer", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def sa_score(mol: Any) -> float:
    """Synthetic accessibility score, 1 (easy to make) … 10 (hard) (Ertl & Schuffenhauer 2009)."""
    return float(_sascorer().calculateScore(mol))


def properties(smiles: str) -> dict[str, Any]:
    """``{"smiles", "valid", "qed", "logp", "sa", "mol_weight"}`` of one SMILES (NaN properties when invalid);
    ``smiles`` is the canonical form when valid, else the input."""
    mol = parse_smiles(smiles)
    if mol is None:
        return {"smiles": smiles, "valid": False, **dict.fromkeys(PROPERTY_NAMES, math.nan)}
    return {
        "smiles": mol_to_smiles(mol),
        "valid": True,
        "qed": qed(mol),
        "logp": logp(mol),
        "sa": sa_score(mol),
        "mol_weight": mol_weight(mol),
    }


# --- drawing ----------------------------------------------------------------------------------------------
def draw_grid(
    smiles: Iterable[str],
    path: str | Path,
    per_row: int = 5,
    size: int = 250,
    max_mols: int = 30,
    legends: list[str] | None = None,
) -> Path:
    """Draw up to ``max_mols`` valid molecules of ``smiles`` as a PNG grid (``per_row`` × ``size`` px cells).

    Each cell is labelled with ``legends[i]`` when given, else its QED. Invalid SMILES are left
    out; with no valid molecule at all a :class:`BadInputError` is raised.
    """
    from rdkit.Chem import Draw

    pairs = [(s, parse_smiles(s)) for s in smiles]
    keep = [(i, m) for i, (_, m) in enumerate(pairs) if m is not None][:max_mols]
    if not keep:
        raise BadInputError("no valid molecule to draw", "sample more molecules or relax the filters")
    mols = [m for _, m in keep]
    labels = [legends[i] for i, _ in keep] if legends else [f"QED {qed(m):.2f}" for m in mols]
    image = Draw.MolsToGridImage(mols, molsPerRow=per_row, subImgSize=(size, size), legends=labels)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(image, "save"):
        image.save(path)
    else:  # IPython PNG object in notebook builds of RDKit
        path.write_bytes(image.data)
    return path
