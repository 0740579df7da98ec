"""The MOSES metrics on molecule sets whose values can be checked by hand, and the filter rule."""

import math
from pathlib import Path

import pytest

pytest.importorskip("rdkit")

from genlab.core.errors import BadInputError  # noqa: E402
from genlab.molecule import chem, filters, metrics  # noqa: E402

TINY = chem.read_smiles_file(Path(__file__).parent / "data" / "tiny.smi")[0]


def test_validity_counts_unparsable_and_empty_strings_as_invalid():
    generated = ["CCO", "c1ccccc1", "C1CC", "xyz", "", "C(C", "OCC"]  # 3 valid of 7
    assert metrics.validity(generated) == pytest.approx(3 / 7)
    assert metrics.canonical_valid(generated) == ["CCO", "c1ccccc1", "CCO"]
    with pytest.raises(BadInputError):
        metrics.validity([])


def test_uniqueness_at_k_counts_distinct_canonical_molecules_among_the_first_k():
    valid = ["CCO", "CCO", "CCN", "CCC", "CCO", "CCCl"]
    assert metrics.unique_at_k(valid, 4) == pytest.approx(3 / 4)
    assert metrics.unique_at_k(valid, 1000) == pytest.approx(4 / 6)  # fewer than k: all of them
    assert metrics.unique_at_k(["CCO"] * 10, 10) == pytest.approx(0.1)


def test_novelty_of_a_set_against_itself_is_zero():
    assert metrics.novelty(TINY, TINY) == 0.0
    assert metrics.novelty(["CCO", "CCO", "CCN", "c1ccccc1"], ["CCO"]) == pytest.approx(2 / 3)  # distinct: 3


def test_snn_frag_scaf_of_a_set_against_itself_are_one():
    assert metrics.snn(TINY, TINY) == pytest.approx(1.0)
    assert metrics.frag_similarity(TINY, TINY) == pytest.approx(1.0)
    assert metrics.scaf_similarity(TINY, TINY) == pytest.approx(1.0)
    assert metrics.snn(TINY[:10], TINY[10:]) < 1.0


def test_internal_diversity_of_identical_and_of_disjoint_fingerprints():
    assert metrics.internal_diversity(["CCO"] * 5) == pytest.approx(0.0)
    # two molecules with no Morgan bit in common: pairs (a,a), (b,b) have T=1, (a,b), (b,a) T=0 → 1 − 2/4
    fps = metrics.fingerprints(["C", "F"])
    assert (fps[0] * fps[1]).sum() == 0
    assert metrics.internal_diversity(["C", "F"]) == pytest.approx(0.5)
    assert metrics.internal_diversity(["C", "F"], p=2) == pytest.approx(1 - math.sqrt(0.5))
    assert 0.7 < metrics.internal_diversity(TINY) < 0.95  # drug-like molecules: MOSES's sets are near 0.86


def test_tanimoto_by_hand():
    """SNN of one molecule to one reference is their Tanimoto: |a ∧ b| / |a ∨ b| of the bit vectors."""
    a, b = metrics.fingerprints(["CCO", "CCN"])
    expected = (a * b).sum() / ((a + b) > 0).sum()
    assert metrics.snn(["CCO"], ["CCN"]) == pytest.approx(expected)


def test_fragments_and_scaffolds():
    counts = metrics.fragment_counts(["CCOc1ccccc1", "CCOc1ccccc1"])  # an ethyl aryl ether: BRICS cuts both C–O
    assert counts == {"[16*]c1ccccc1": 2, "[3*]O[3*]": 2, "[4*]CC": 2}
    # benzene (one ring) has no counted scaffold; biphenyl-like molecules with two rings share theirs
    assert metrics.scaffold_counts(["c1ccccc1C"]) == {}
    assert metrics.scaffold_counts(["Cc1ccc(-c2ccccc2)cc1", "Oc1ccc(-c2ccccc2)cc1"]) == {"c1ccc(-c2ccccc2)cc1": 2}
    assert metrics.cosine_similarity(metrics.Counter(a=1), metrics.Counter(b=1)) == 0.0
    assert math.isnan(metrics.cosine_similarity(metrics.Counter(), metrics.Counter(a=1)))


def test_filters_rule():
    ok = chem.parse_smiles("CC(=O)Nc1ccc(O)cc1")  # paracetamol
    assert filters.passes_filters(ok)
    assert filters.filter_failures(chem.parse_smiles("C[N+](C)(C)C")) == ["charge"]
    assert "atom:P" in filters.filter_failures(chem.parse_smiles("CP(C)C"))
    assert "ring:8" in filters.filter_failures(chem.parse_smiles("C1CCCCCCC1"))
    assert filters.filter_failures(chem.parse_smiles("OCC1CO1")) == ["mcf:epoxide"]
    assert filters.filter_failures(chem.parse_smiles("C=CC#N")) == ["mcf:michael_acceptor_nitrile"]
    assert any(r.startswith("pains:") for r in filters.filter_failures(chem.parse_smiles("O=C1C=CC(=O)C=C1")))
    assert metrics.filters(["CC(=O)Nc1ccc(O)cc1", "OCC1CO1"]) == 0.5
    assert metrics.filters(TINY) == 1.0  # MOSES molecules passed MOSES's filters


def test_fcd_is_zero_for_identical_sets_and_grows_with_difference():
    pytest.importorskip("fcd_torch")
    model = metrics.fcd_model()
    same = metrics.fcd(TINY, TINY, model)
    assert abs(same) < 1e-3
    assert metrics.fcd(["CCO", "CCN", "CCC", "CCCl", "OCCO"], TINY, model) > 10 * max(same, 1e-3)
    with pytest.raises(BadInputError, match="at least 2"):
        metrics.fcd(["CCO"], TINY, model)


def test_moses_test_sample_passes_the_filters(shared_data):
    from genlab.molecule.data import load_moses

    test = load_moses("test", shared_data).smiles[:500]
    assert metrics.filters(test) > 0.999
