"""Tables genlab knows by name, and loading a table for training.

* ``adult`` — UCI Adult (Census Income; Becker & Kohavi 1996, doi:10.24432/C5XW20, CC BY 4.0): 32,561 training
  and 16,281 test rows, 6 numerical and 9 categorical columns, ``income`` the usual target. Read from
  ``data_root(data_dir)/adult/`` (``--data-dir`` may also name the ``adult`` folder itself); missing files are
  downloaded from UCI and checked against their sha256.
* ``builtin:breast-cancer`` — the Wisconsin diagnostic breast-cancer table shipped with scikit-learn (569 rows,
  30 numerical features, ``diagnosis`` malignant/benign).
* ``builtin:diabetes`` — scikit-learn's diabetes table in original units (442 rows: age, sex, bmi, bp, six
  blood serum measurements and ``progression``, the disease progression one year later; Efron et al. 2004).

Anything else is a path: CSV, TSV or Parquet (:func:`genlab.tabular.table.read_table`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genlab.core.data import DatasetSpec, register_dataset
from genlab.core.download import data_root, download
from genlab.core.errors import DataError

ADULT_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/"
ADULT_FILES = {  # file → sha256 of the UCI originals
    "adult.data": "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
    "adult.test": "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
}
ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation", "relationship",
    "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country", "income",
]  # fmt: skip
ADULT_TARGET = "income"


def _adult_folder(data_dir: str | None) -> Path:
    root = data_root(data_dir)
    return root if (root / "adult.data").is_file() or root.name == "adult" else root / "adult"


def load_adult(split: str = "train", data_dir: str | None = None, download_missing: bool = True) -> pd.DataFrame:
    """UCI Adult (Census Income): 32,561 train / 16,281 test rows, target ``income`` (<=50K / >50K)."""
    split = ADULT.check_split(split)
    folder = _adult_folder(data_dir)
    name = "adult.data" if split == "train" else "adult.test"
    path = folder / name
    if not path.is_file():
        if not download_missing:
            raise DataError(f"adult: {path} is missing", "put the UCI file there or pass --data-dir")
        download(ADULT_URL + name, path, ADULT_FILES[name], desc=f"adult {split}")
    table = pd.read_csv(
        path, header=None, names=ADULT_COLUMNS, skipinitialspace=True, na_values=["?"], keep_default_na=False,
        skiprows=1 if split == "test" else 0, dtype={c: str for c in ADULT_COLUMNS},
    )  # fmt: skip
    table = table.dropna(how="all")
    table[ADULT_TARGET] = table[ADULT_TARGET].str.rstrip(".")  # the test file's labels end with a period
    for column in ("age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"):
        table[column] = pd.to_numeric(table[column]).astype("int64")
    return table.reset_index(drop=True)


def load_breast_cancer_table() -> pd.DataFrame:
    """Wisconsin diagnostic breast cancer (scikit-learn): 569 rows, 30 features, ``diagnosis``."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    table = bunch.frame.drop(columns="target")
    table["diagnosis"] = [str(bunch.target_names[t]) for t in bunch.target]
    return table


def load_diabetes_table() -> pd.DataFrame:
    """Diabetes (scikit-learn, original units): 442 patients, 10 baseline variables, ``progression``."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True, scaled=False)
    table = bunch.frame.rename(columns={"target": "progression"})
    table["sex"] = table["sex"].map({1.0: "1", 2.0: "2"})  # coded 1/2 in the source: a category, not a number
    table["age"] = table["age"].astype("int64")
    return table


ADULT = register_dataset(
    DatasetSpec(
        "adult", "tabular", load_adult, ("train", "test"), load_adult.__doc__.split("\n", 1)[0], "CC BY 4.0 (UCI)",
        {"target": ADULT_TARGET},
    )
)  # fmt: skip
BREAST_CANCER = register_dataset(
    DatasetSpec(
        "builtin:breast-cancer", "tabular", lambda split=None, data_dir=None: load_breast_cancer_table(), (),
        load_breast_cancer_table.__doc__, "ships with scikit-learn (BSD-3-Clause); data: UCI, CC BY 4.0",
        {"target": "diagnosis"},
    )
)  # fmt: skip
DIABETES = register_dataset(
    DatasetSpec(
        "builtin:diabetes", "tabular", lambda split=None, data_dir=None: load_diabetes_table(), (),
        load_diabetes_table.__doc__, "ships with scikit-learn (BSD-3-Clause)", {"target": "progression"},
    )
)  # fmt: skip
