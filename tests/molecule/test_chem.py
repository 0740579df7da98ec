"""RDKit helpers, SMILES files, molecule tokenizers and the molecule data loader."""

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("rdkit")
pytest.importorskip("selfies")

from genlab.core.errors import BadInputError, ConfigError, DataError  # noqa: E402
from genlab.molecule import chem, data  # noqa: E402
from genlab.molecule.tokenizers import (  # noqa: E402
    BOS_ID,
    EOS_ID,
    SelfiesTokenizer,
    SmilesTokenizer,
    tokenizer_from_dict,
    train_tokenizer,
)

TINY = Path(__file__).parent / "data" / "tiny.smi"


def tiny_smiles() -> list[str]:
    return chem.read_smiles_file(TINY)[0]


def test_canonical_and_invalid():
    assert chem.canonical("C1=CC=CC=C1O") == "Oc1ccccc1"
    assert chem.canonical("OC1=CC=CC=C1") == "Oc1ccccc1"
    for bad in ("C1CC", "xyz", "", "C(C", "c1ccccc"):
        assert chem.canonical(bad) is None
        assert chem.parse_smiles(bad) is None


def test_properties_of_ethanol_and_benzene():
    p = chem.properties("OCC")
    assert p["smiles"] == "CCO" and p["valid"]
    assert p["mol_weight"] == pytest.approx(46.069, abs=1e-3)
    assert p["logp"] == pytest.approx(-0.0014, abs=1e-4)  # Crippen contributions of ethanol
    assert 0 < p["qed"] < 1
    assert 1 <= p["sa"] <= 10
    # a drug-like molecule is easier to make and more drug-like than a caged polycycle
    aspirin, cubane = chem.properties("CC(=O)Oc1ccccc1C(=O)O"), chem.properties("C12C3C4C1C5C2C3C45")
    assert aspirin["sa"] < cubane["sa"]
    bad = chem.properties("C1CC")
    assert not bad["valid"] and math.isnan(bad["qed"])


def test_read_smiles_files(tmp_path):
    smi = tmp_path / "mols.smi"
    smi.write_text("CCO ethanol\n\n# a comment\nC1CC broken\nc1ccccc1\tbenzene\nnot_a_smiles\n")
    assert chem.read_smiles_file(smi) == (["CCO", "c1ccccc1"], 2)
    csv = tmp_path / "mols.csv"
    csv.write_text("id,Smiles\n1,OCC\n2,C(C\n3,C1=CC=CC=C1\n")
    assert chem.read_smiles_file(csv) == (["CCO", "c1ccccc1"], 1)
    (tmp_path / "empty.smi").write_text("\n\n")
    with pytest.raises(DataError, match="empty"):
        chem.read_smiles_file(tmp_path / "empty.smi")
    (tmp_path / "nosmiles.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="no 'SMILES' column"):
        chem.read_smiles_file(tmp_path / "nosmiles.csv")
    (tmp_path / "junk.txt").write_text("foo\nbar\n")
    with pytest.raises(DataError, match="none of the 2"):
        chem.read_smiles_file(tmp_path / "junk.txt")
    with pytest.raises(DataError, match="no SMILES file"):
        chem.read_smiles_file(tmp_path / "missing.smi")


def test_draw_grid(tmp_path):
    path = chem.draw_grid(["CCO", "bad(", "c1ccccc1"], tmp_path / "grid.png", per_row=2, size=100)
    from PIL import Image

    assert Image.open(path).size == (200, 100)  # two valid molecules in one row of 100 px cells
    with pytest.raises(BadInputError):
        chem.draw_grid(["bad("], tmp_path / "none.png")


def test_smiles_tokenizer_atoms_and_round_trip():
    tok, failed = train_tokenizer("smiles", tiny_smiles())
    assert failed == 0
    assert SmilesTokenizer([*tok.vocab]).split("CC(Cl)c1cc[nH]c1Br") == [
        "C", "C", "(", "Cl", ")", "c", "1", "c", "c", "[nH]", "c", "1", "Br",
    ]  # fmt: skip
    for s in tiny_smiles():
        ids = tok.encode_smiles(s)
        assert ids[0] == BOS_ID and ids[-1] == EOS_ID
        assert tok.decode_smiles(ids + [0, 0]) == s
    rebuilt = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
    assert isinstance(rebuilt, SmilesTokenizer) and rebuilt.vocab == tok.vocab
    with pytest.raises(BadInputError, match="never saw"):
        tok.encode("C[Se]C")


def test_selfies_round_trip():
    tok, failed = train_tokenizer("selfies", tiny_smiles())
    assert failed == 0 and isinstance(tok, SelfiesTokenizer)
    for s in tiny_smiles():
        assert chem.canonical(tok.decode_smiles(tok.encode_smiles(s))) == s
    # any symbol string decodes to a molecule (the point of SELFIES)
    assert chem.canonical(tok.decode_smiles([BOS_ID, *tok.encode("[C][=C][Ring1][O]"), EOS_ID])) is not None
    assert isinstance(tokenizer_from_dict(tok.to_dict()), SelfiesTokenizer)
    with pytest.raises(ConfigError):
        tokenizer_from_dict({"type": "char", "vocab": ["a"]})
    with pytest.raises(ConfigError):
        train_tokenizer("bpe", ["CCO"])


def test_molecule_data_from_file_is_padded_one_molecule_per_row():
    cfg = data.MoleculeDataConfig(source=str(TINY), val_fraction=0.25)
    train, val, info = data.load_molecule_data(cfg)
    assert info.n_train + info.n_val == 48 and info.n_val == 12
    info.tokenize("smiles", 128)
    row = train[0]
    assert row[0] == BOS_ID and (row == EOS_ID).sum() == 1
    assert train.ids.shape == (info.n_train, info.max_length) and (train.ids[:, -1] == 0).any()
    assert set(train.smiles).isdisjoint(val.smiles)
    assert info.to_dict()["tokenizer"] == "smiles"


def test_molecule_data_errors(tmp_path):
    with pytest.raises(DataError, match="neither a molecule dataset nor a file"):
        data.load_molecule_data(data.MoleculeDataConfig(source=str(tmp_path / "nope.smi")))
    with pytest.raises(DataError, match="downloads are disabled|no MOSES"):
        data.load_source("moses", data_dir=tmp_path)  # never downloads in tests


def test_moses_sample(shared_data):
    mols = data.load_moses("test_scaffolds", shared_data)
    assert len(mols.smiles) == 10_000 and mols.skipped == 0
    assert data.MOSES.splits == ("train", "test", "test_scaffolds")
