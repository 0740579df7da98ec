import json

from genlab.__about__ import __version__
from genlab.core.checkpoint import sha256_file
from genlab.core.model import GenerativeModel
from genlab.core.provenance import Provenance
from tests.core.test_checkpoint import tiny_model


def test_a_model_never_saved_has_an_empty_provenance():
    p = tiny_model().provenance
    assert p == Provenance() and p.data == {} and p.raw == {}
    assert p.steps is None and p.genlab_version is None and p.weights_sha256 is None


def test_a_loaded_model_carries_the_record_of_its_config_json(tmp_path):
    data = {"source": "builtin:digits", "image_size": 8, "skipped": [], "split": {"method": "random"}}
    tiny_model().save_pretrained(tmp_path, extra={"data": data, "steps": 123})
    p = GenerativeModel.from_pretrained(tmp_path).provenance
    assert p.data == data and p.steps == 123
    assert p.genlab_version == __version__
    assert p.weights_sha256 == sha256_file(tmp_path / "model.safetensors")
    assert p.raw == json.loads((tmp_path / "config.json").read_text())


def test_keys_a_config_json_lacks_stay_empty():
    p = Provenance.from_meta({"model": "image/vae", "config": {}})
    assert p.data == {} and p.steps is None and p.weights_sha256 is None and p.raw["model"] == "image/vae"
