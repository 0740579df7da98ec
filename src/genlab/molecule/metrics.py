"""The MOSES metrics of generated molecules (Polykovskiy et al. 2020, "Molecular Sets (MOSES)", §4).

Plain functions of lists of SMILES; each is also a registered metric of the ``molecules`` task
(:mod:`genlab.molecule.evaluation`). As in MOSES, ``generated`` is every string the model wrote
(invalid ones included) for :func:`validity` and :func:`unique_at_k`, and the other metrics score
the valid molecules in canonical form, duplicates kept.

* validity — share of strings RDKit parses into a molecule;
* unique@k — share of distinct canonical SMILES among the first k valid molecules (all of them, and a
  note in the protocol, when fewer than k are valid);
* novelty — share of the distinct valid molecules that are not in the training set;
* IntDiv_p — ``1 − (mean over all ordered pairs, self-pairs included, of T(a, b)^p)^(1/p)`` with T the
  Tanimoto similarity of Morgan fingerprints (radius 2, 1,024 bits; Rogers & Hahn 2010), p = 1 by default;
* SNN — mean over generated molecules of the Tanimoto similarity to the nearest reference molecule;
* Frag — cosine similarity of the BRICS fragment counts (Degen et al. 2008; RDKit ``FragmentOnBRICSBonds``)
  of the generated and reference sets;
* Scaf — cosine similarity of the Bemis–Murcko scaffold counts (Bemis & Murcko 1996), scaffolds with at
  least two rings counted, as MOSES does;
* FCD — Fréchet ChemNet Distance (Preuer et al. 2018) through ``fcd_torch``, which ships ChemNet's weights;
* filters — share passing the MOSES filter rule (:mod:`genlab.molecule.filters`).

Tanimoto of two empty fingerprints counts as 1 (MOSES's convention).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from genlab.core.errors import BadInputError
from genlab.core.optional import require
from genlab.molecule.chem import mol_to_smiles, parse_smiles

FP_RADIUS, FP_BITS = 2, 1024
CHUNK = 2048  # fingerprint rows per similarity block: (CHUNK × m) float32 at a time


# --- validity and uniqueness ------------------------------------------------------------------------------
def canonical_valid(generated: Iterable[str]) -> list[str]:
    """Canonical SMILES of the valid strings of ``generated``, in order, duplicates kept."""
    out = []
    for s in generated:
        mol = parse_smiles(s) if s else None
        if mol is not None:
            out.append(mol_to_smiles(mol))
    return out


def validity(generated: Sequence[str]) -> float:
    """Share of ``generated`` strings that RDKit parses into a molecule (empty strings are invalid)."""
    if not generated:
        raise BadInputError("no generated molecules to score", "sample at least one molecule")
    return len(canonical_valid(generated)) / len(generated)


def unique_at_k(valid_smiles: Sequence[str], k: int) -> float:
    """Share of distinct canonical SMILES among the first ``k`` valid molecules (all of them when fewer)."""
    head = list(valid_smiles[:k])
    return len(set(head)) / len(head) if head else float("nan")


def novelty(valid_smiles: Iterable[str], train_smiles: Iterable[str]) -> float:
    """Share of the distinct valid molecules absent from ``train_smiles`` (both canonical)."""
    distinct = set(valid_smiles)
    if not distinct:
        return float("nan")
    return len(distinct - set(train_smiles)) / len(distinct)


# --- fingerprint similarity -------------------------------------------------------------------------------
def fingerprints(smiles: Sequence[str]) -> np.ndarray:
    """Morgan fingerprints (radius 2, 1,024 bits) of valid SMILES as a (n, 1024) float32 0/1 array."""
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=FP_RADIUS, fpSize=FP_BITS)
    rows = np.zeros((len(smiles), FP_BITS), dtype=np.float32)
    for i, s in enumerate(smiles):
        mol = parse_smiles(s)
        if mol is not None:
            rows[i] = gen.GetFingerprintAsNumPy(mol)
    return rows


def _tanimoto_blocks(a: np.ndarray, b: np.ndarray):
    """Yield ``(row slice, Tanimoto block (rows of a × all of b))``, 0/0 counted as 1."""
    nb = b.sum(1)
    for start in range(0, len(a), CHUNK):
        block = a[start : start + CHUNK]
        inter = block @ b.T
        union = block.sum(1)[:, None] + nb[None, :] - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            sim = np.where(union > 0, inter / np.maximum(union, 1e-12), 1.0)
        yield slice(start, start + len(block)), sim


def internal_diversity(valid_smiles: Sequence[str], p: int = 1, fps: np.ndarray | None = None) -> float:
    """IntDiv_p: ``1 − (mean of T(a, b)^p over all ordered pairs)^(1/p)``; 0 for one repeated molecule."""
    fps = fingerprints(valid_smiles) if fps is None else fps
    if len(fps) == 0:
        return float("nan")
    total = 0.0
    for _, sim in _tanimoto_blocks(fps, fps):
        total += float((sim**p).sum())
    return 1.0 - (total / len(fps) ** 2) ** (1.0 / p)


def snn(valid_smiles: Sequence[str], reference: Sequence[str], gen_fps: np.ndarray | None = None,
        ref_fps: np.ndarray | None = None) -> float:  # fmt: skip
    """Mean over generated molecules of the Tanimoto similarity to their nearest reference molecule."""
    gen_fps = fingerprints(valid_smiles) if gen_fps is None else gen_fps
    ref_fps = fingerprints(reference) if ref_fps is None else ref_fps
    if len(gen_fps) == 0 or len(ref_fps) == 0:
        return float("nan")
    nearest = np.zeros(len(gen_fps))
    for rows, sim in _tanimoto_blocks(gen_fps, ref_fps):
        nearest[rows] = sim.max(1)
    return float(nearest.mean())


# --- fragments and scaffolds --------------------------------------------------------------------------------
def fragment_counts(smiles: Iterable[str]) -> Counter:
    """BRICS fragments (canonical SMILES with dummy atoms) of the molecules, counted with multiplicity."""
    from rdkit.Chem import BRICS

    counts: Counter = Counter()
    for s in smiles:
        mol = parse_smiles(s)
        if mol is not None:
            counts.update(mol_to_smiles(BRICS.BreakBRICSBonds(mol)).split("."))
    return counts


def scaffold_counts(smiles: Iterable[str], min_rings: int = 2) -> Counter:
    """Bemis–Murcko scaffolds (canonical SMILES) with at least ``min_rings`` rings, counted."""
    from rdkit.Chem.Scaffolds import MurckoScaffold

    counts: Counter = Counter()
    for s in smiles:
        mol = parse_smiles(s)
        if mol is None:
            continue
        scaffold = MurckoScaffold.GetScaffoldForMol(mol)
        text = mol_to_smiles(scaffold)
        if text and scaffold.GetRingInfo().NumRings() >= min_rings:
            counts[text] += 1
    return counts


def cosine_similarity(a: Counter, b: Counter) -> float:
    """Cosine of two count vectors indexed by their keys (NaN when either is empty)."""
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    if na == 0 or nb == 0:
        return float("nan")
    return sum(v * b[k] for k, v in a.items() if k in b) / (na * nb)


def frag_similarity(valid_smiles: Sequence[str], reference: Sequence[str]) -> float:
    """Frag: cosine similarity of the BRICS fragment counts of the two sets."""
    return cosine_similarity(fragment_counts(valid_smiles), fragment_counts(reference))


def scaf_similarity(valid_smiles: Sequence[str], reference: Sequence[str]) -> float:
    """Scaf: cosine similarity of the Bemis–Murcko scaffold counts of the two sets."""
    return cosine_similarity(scaffold_counts(valid_smiles), scaffold_counts(reference))


# --- FCD and filters --------------------------------------------------------------------------------------
def fcd_model(device: str = "cpu") -> Any:
    """fcd_torch's ``FCD`` (ChemNet weights shipped inside the package), loaded once per call site."""
    fcd_torch = require("fcd_torch", "molecule", "the Fréchet ChemNet Distance")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fcd_torch.FCD(device=device, n_jobs=1)


def fcd_statistics(smiles: Sequence[str], model: Any = None) -> dict[str, np.ndarray]:
    """Mean and covariance of ChemNet's penultimate activations over ``smiles`` (at least 2 molecules)."""
    if len(smiles) < 2:
        raise BadInputError(f"FCD needs at least 2 valid molecules, got {len(smiles)}", "sample more molecules")
    import warnings

    model = model or fcd_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.precalc(list(smiles))


def fcd(valid_smiles: Sequence[str], reference: Sequence[str], model: Any = None,
        ref_stats: dict[str, np.ndarray] | None = None) -> float:  # fmt: skip
    """Fréchet ChemNet Distance between the generated and reference molecules (lower is better)."""
    model = model or fcd_model()
    ref_stats = ref_stats or fcd_statistics(reference, model)
    return float(model.metric(ref_stats, fcd_statistics(valid_smiles, model)))


def filters(valid_smiles: Sequence[str]) -> float:
    """Share of the valid molecules passing the MOSES filter rule (atoms, charge, rings, MCF, PAINS)."""
    from genlab.molecule.filters import filter_pass_rate

    return filter_pass_rate(m for m in (parse_smiles(s) for s in valid_smiles) if m is not None)
