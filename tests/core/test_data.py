import subprocess
import sys
from dataclasses import dataclass, field, fields

import pytest

from genlab.core.data import DataInfo, DatasetSpec, first_line
from genlab.core.errors import DataError
from genlab.core.registry import DATASETS, Registry
from genlab.image.data import ImageDataInfo
from genlab.text.data import TextDataInfo
from genlab.text.tokenizers import CharTokenizer


def loader(split, data_dir, download):
    """Three numbers per split.

    More text that is not the description.
    """
    return {"train": [1, 2, 3], "test": [4, 5, 6]}[split]


def test_a_spec_loads_through_its_loader_and_checks_splits():
    spec = DatasetSpec("toy", "tabular", loader, ("train", "test"), first_line(loader.__doc__), "CC0")
    assert spec.description == "Three numbers per split."
    assert spec("test", None, False) == [4, 5, 6]
    assert spec.check_split(None) == "train" and spec.check_split("test") == "test"
    with pytest.raises(DataError, match="has no split 'val'") as err:
        spec.check_split("val")
    assert err.value.hint == "its splits are: train, test (write e.g. toy:train)"
    with pytest.raises(DataError, match="no named splits"):
        DatasetSpec("corpus", "text", loader).check_split("train")


def test_names_filter_on_attributes_of_the_registered_objects():
    reg = Registry("thing")
    reg.register("a/x")(DatasetSpec("a/x", "image", loader))
    reg.register("a/y")(DatasetSpec("a/y", "text", loader))
    reg.register("b/z")(DatasetSpec("b/z", "image", loader, license="MIT"))
    reg.register("c")(int)  # no ``modality`` attribute: never matches a modality filter
    assert reg.names() == ["a/x", "a/y", "b/z", "c"]
    assert reg.names(modality="image") == ["a/x", "b/z"]
    assert reg.names("a/", modality="image") == ["a/x"]
    assert reg.names(modality="image", license="MIT") == ["b/z"]
    assert reg.names(modality="audio") == []


def test_a_fresh_interpreter_finds_every_modality_s_datasets_through_the_registry():
    # Registration must not depend on which modules a caller happened to import first.
    code = "from genlab.core.registry import DATASETS as D; print(D.names(modality='image'), D.names(modality='text'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'mnist'" in out and "'builtin:tinyshakespeare'" in out


def test_registered_datasets_are_specs_with_their_modality_splits_and_license():
    images = DATASETS.names(modality="image")
    texts = DATASETS.names(modality="text")
    assert {"builtin:digits", "builtin:mnist-5k", "mnist", "fashion-mnist", "cifar10"} <= set(images)
    assert {"builtin:tinyshakespeare", "builtin:tang-poems", "chinese-poetry"} <= set(texts)
    assert not set(images) & set(texts)
    for name in images + texts:
        spec = DATASETS.get(name)
        assert isinstance(spec, DatasetSpec) and spec.name == name
        assert spec.description and spec.license, name
    mnist = DATASETS.get("mnist")
    assert mnist.splits == ("train", "test") and mnist.extras == {"native_size": None}
    assert DATASETS.get("builtin:digits").extras["native_size"] == 32
    assert DATASETS.get("builtin:tinyshakespeare").splits == ()


@dataclass
class ToyInfo(DataInfo):
    source: str
    rows: int
    skipped: list[str] = field(default_factory=list)
    schema: dict = field(default_factory=dict)
    live_object: object = field(default=None, metadata={"saved": False})


def test_data_info_to_dict_keeps_field_order_copies_values_and_leaves_out_unsaved_fields():
    info = ToyInfo("rows.csv", 3, ["bad.csv: not UTF-8"], {"a": [1, 2]}, live_object=object())
    d = info.to_dict()
    assert list(d) == ["source", "rows", "skipped", "schema"]
    assert d == {"source": "rows.csv", "rows": 3, "skipped": ["bad.csv: not UTF-8"], "schema": {"a": [1, 2]}}
    d["schema"]["a"].append(3)
    assert info.schema == {"a": [1, 2]}  # a copy: editing the dict leaves the info alone
    assert info.preprocessor is None


@pytest.mark.parametrize("cls", [ImageDataInfo, TextDataInfo])
def test_every_modality_data_info_is_a_data_info_with_source_and_skipped(cls):
    names = [f.name for f in fields(cls)]
    assert issubclass(cls, DataInfo) and "source" in names and "skipped" in names


def test_text_data_info_saves_the_tokenizer_name_but_carries_the_tokenizer_as_its_preprocessor():
    tok = CharTokenizer.train(["abc"])
    info = TextDataInfo("x.txt", "text", "char", 3, 8, 10, 2, 10, 2, 1, tokenizer_obj=tok)
    assert "tokenizer_obj" not in info.to_dict() and info.to_dict()["tokenizer"] == "char"
    assert info.preprocessor is tok
