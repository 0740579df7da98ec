"""Named tables: Adult read from a folder or downloaded (checked by sha256), the scikit-learn built-ins."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from genlab.core.errors import DataError
from genlab.tabular import data

ROWS = [
    "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, "
    "United-States, <=50K",
    "50, ?, 83311, Bachelors, 13, Married-civ-spouse, ?, Husband, White, Male, 0, 0, 13, United-States, >50K",
]
SHARED_ADULT = Path(__file__).resolve().parents[3] / "shared" / "data" / "tabular" / "adult"


def write_adult(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adult.data").write_text("\n".join(ROWS) + "\n\n")
    (folder / "adult.test").write_text("|1x3 Cross validator\n" + "\n".join(r + "." for r in ROWS) + "\n")


def test_adult_is_read_from_a_local_folder_with_missing_values_and_test_labels(tmp_path):
    write_adult(tmp_path / "adult")
    train = data.load_adult("train", str(tmp_path))
    assert list(train.columns) == data.ADULT_COLUMNS and len(train) == 2
    assert train["workclass"].isna().sum() == 1 and train["age"].tolist() == [39, 50]
    test = data.load_adult("test", str(tmp_path / "adult"))  # the adult folder itself also works
    assert test["income"].tolist() == ["<=50K", ">50K"]  # the test file's trailing periods are dropped


def test_adult_downloads_missing_files_and_checks_their_sha256(tmp_path, monkeypatch):
    source = tmp_path / "uci"
    write_adult(source)
    digest = hashlib.sha256((source / "adult.data").read_bytes()).hexdigest()
    monkeypatch.setattr(data, "ADULT_URL", source.as_uri() + "/")
    monkeypatch.setitem(data.ADULT_FILES, "adult.data", digest)
    table = data.load_adult("train", str(tmp_path / "cache"))
    assert len(table) == 2 and (tmp_path / "cache" / "adult" / "adult.data").is_file()
    monkeypatch.setitem(data.ADULT_FILES, "adult.test", "0" * 64)
    with pytest.raises(DataError, match="checksum mismatch"):
        data.load_adult("test", str(tmp_path / "cache"))


@pytest.mark.skipif(not SHARED_ADULT.is_dir(), reason="needs ../shared/data/tabular/adult")
def test_the_real_adult_files():
    train = data.load_adult("train", str(SHARED_ADULT))
    test = data.load_adult("test", str(SHARED_ADULT))
    assert train.shape == (32561, 15) and test.shape == (16281, 15)
    assert set(test["income"]) == {"<=50K", ">50K"}


def test_scikit_learn_built_ins():
    cancer, diabetes = data.load_breast_cancer_table(), data.load_diabetes_table()
    assert cancer.shape == (569, 31) and set(cancer["diagnosis"]) == {"malignant", "benign"}
    assert diabetes.shape == (442, 11) and set(diabetes["sex"]) == {"1", "2"}
