"""Substructure filters: the rule MOSES used to build its data set, applied to generated molecules.

Polykovskiy et al. 2020 (MOSES, section "Dataset") kept ZINC molecules that have only the atoms C, N,
S, O, F, Cl, Br and H, no charged atom, no ring of 8 or more atoms, and no match of the medicinal
chemistry filters (MCF) or of the PAINS filters. The filter metric is the share of generated
molecules that pass the same rule. Here:

* PAINS: the 480 PAINS patterns of Baell & Holloway 2010 (J. Med. Chem. 53, 2719) as shipped in RDKit's
  ``FilterCatalog`` (families A, B and C).
* MCF: structural alerts written here from the alert classes of the medicinal-chemistry filters MOSES
  cites (reactive, unstable or promiscuous groups: Michael acceptors, alkyl halides, three-membered
  heterocycles, peroxides, disulfides, azo and diazo groups, aldehydes, thiols, acyl and sulfonyl
  halides, anhydrides, isocyanates and isothiocyanates, heteroatom–heteroatom single bonds,
  long aliphatic chains). They are not a copy of MOSES's own ``mcf.csv``, so the pass rate is comparable
  to MOSES's column only approximately. Each alert was checked to match no molecule of the 30k MOSES
  sample molecules (which passed MOSES's filters); alerts for C≡C triple bonds and conjugated trienes
  were dropped for matching some. RDKit's PAINS set flags 7 of those 30k molecules (``thiaz_ene_A``),
  so the three MOSES samples pass this rule at 0.9998.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

ALLOWED_ATOMS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})
MAX_RING_SIZE = 7  # rings of 8 or more atoms are refused

#: name → SMARTS of the medicinal-chemistry alerts (see the module docstring)
MCF_ALERTS: dict[str, str] = {
    "michael_acceptor_nitrile": "[#6]=&!@[#6]-[#6]#[#7]",
    "michael_acceptor_sulfone": "[#6]=&!@[#6]-[#16](=[#8])=[#8]",
    "michael_acceptor_amide": "[#6]=&!@[#6&!H0]-&!@[#6](=[#8])-[#7]",
    "primary_alkyl_halide": "[CH2;X4]([#6])[Cl,Br,I]",
    "epoxide": "C1OC1",
    "aziridine": "C1NC1",
    "thiirane": "C1SC1",
    "disulfide": "[#16]-[#16]",
    "peroxide": "[#8]-[#8]",
    "azo": "[#6]-[#7;!R]=[#7;!R]-[#6]",
    "diazo": "[#6]=[#7+]=[#7-]",
    "azide": "[#7]=[#7+]=[#7-]",
    "aldehyde": "[CX3H1](=O)[#6]",
    "thiol": "[#16;X2;H1]",
    "acyl_halide": "[CX3](=O)[F,Cl,Br,I]",
    "sulfonyl_halide": "[SX4](=O)(=O)[F,Cl,Br,I]",
    "anhydride": "[CX3](=O)[OX2][CX3](=O)",
    "isocyanate": "[NX2]=C=O",
    "isothiocyanate": "[NX2]=C=S",
    "n_halogen": "[#7]-[Cl,Br,I]",
    "o_halogen": "[#8]-[F,Cl,Br,I]",
    "s_halogen": "[#16]-[Cl,Br,I]",
    "hydrazine_acyclic": "[NX3;!R;!$(N-C=O)]-[NX3;!R;!$(N-C=O)]",
    "long_aliphatic_chain": "[CH2;!R][CH2;!R][CH2;!R][CH2;!R][CH2;!R][CH2;!R][CH2;!R]",
    "carbodiimide": "[#7]=[#6]=[#7]",
    "ketene": "[#6]=[#6]=[#8]",
    "thiocarbonyl_acyclic": "[#6;!R](=[SX1])",
}


@functools.cache
def _mcf_patterns() -> tuple[tuple[str, Any], ...]:
    from rdkit import Chem

    patterns = []
    for name, smarts in MCF_ALERTS.items():
        pattern = Chem.MolFromSmarts(smarts)
        if pattern is None:  # a typo in the table above is a programming error
            raise ValueError(f"MCF alert {name} has an invalid SMARTS: {smarts}")
        patterns.append((name, pattern))
    return tuple(patterns)


@functools.cache
def _pains_catalog() -> Any:
    from rdkit.Chem import FilterCatalog

    params = FilterCatalog.FilterCatalogParams()
    params.AddCatalog(FilterCatalog.FilterCatalogParams.FilterCatalogs.PAINS)
    return FilterCatalog.FilterCatalog(params)


def filter_failures(mol: Any) -> list[str]:
    """Why ``mol`` (an RDKit molecule) fails the MOSES filter rule: ``atom:X``, ``charge``, ``ring:N``,
    ``mcf:<alert>``, ``pains:<name>``; empty when it passes."""
    from rdkit import Chem

    reasons = []
    symbols = {a.GetSymbol() for a in mol.GetAtoms()}
    reasons += [f"atom:{s}" for s in sorted(symbols - ALLOWED_ATOMS)]
    if any(a.GetFormalCharge() != 0 for a in mol.GetAtoms()):
        reasons.append("charge")
    big = [len(r) for r in mol.GetRingInfo().AtomRings() if len(r) > MAX_RING_SIZE]
    if big:
        reasons.append(f"ring:{max(big)}")
    with_h = Chem.AddHs(mol)
    reasons += [f"mcf:{name}" for name, p in _mcf_patterns() if with_h.HasSubstructMatch(p)]
    entry = _pains_catalog().GetFirstMatch(mol)
    if entry is not None:
        reasons.append(f"pains:{entry.GetDescription()}")
    return reasons


def passes_filters(mol: Any) -> bool:
    """True when ``mol`` passes the MOSES rule: allowed atoms, no charge, rings < 8 atoms, no MCF/PAINS match."""
    return not filter_failures(mol)


def filter_pass_rate(mols: Iterable[Any]) -> float:
    """Share of the molecules (RDKit ``Mol`` objects, valid ones) that pass :func:`passes_filters`."""
    mols = list(mols)
    if not mols:
        return float("nan")
    return sum(passes_filters(m) for m in mols) / len(mols)
