import json

import pytest
import torch

from genlab.core.errors import CheckpointError
from genlab.core.model import GenerativeModel
from genlab.core.registry import MODELS


def tiny_model():
    cls = MODELS.get("image/vae")
    cfg = cls.config_class.build({"image_size": 8, "channels": 1, "latent_dim": 2, "hidden_dims": [8]})
    torch.manual_seed(0)
    return cls(cfg)


def test_save_writes_contract_files(tmp_path):
    tiny_model().save_pretrained(tmp_path, card="# card\n")
    assert {p.name for p in tmp_path.iterdir()} == {"config.json", "model.safetensors", "README.md"}
    meta = json.loads((tmp_path / "config.json").read_text())
    assert meta["model"] == "image/vae" and meta["class_name"] and meta["genlab_version"]
    assert len(meta["weights_sha256"]) == 64


def test_roundtrip_identical_weights(tmp_path):
    m = tiny_model()
    m.save_pretrained(tmp_path)
    loaded = GenerativeModel.from_pretrained(tmp_path)
    for (k, a), (_, b) in zip(m.state_dict().items(), loaded.state_dict().items(), strict=False):
        assert torch.equal(a, b), k


def test_tampered_weights_refused(tmp_path):
    tiny_model().save_pretrained(tmp_path)
    data = bytearray((tmp_path / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF  # flip bits in the last weight
    (tmp_path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        GenerativeModel.from_pretrained(tmp_path)


def test_truncated_weights_refused_without_checksum(tmp_path):
    tiny_model().save_pretrained(tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    meta.pop("weights_sha256")
    (tmp_path / "config.json").write_text(json.dumps(meta))
    (tmp_path / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CheckpointError, match="cannot read"):
        GenerativeModel.from_pretrained(tmp_path)


def test_not_a_genlab_model(tmp_path):
    with pytest.raises(CheckpointError, match="config.json is missing"):
        GenerativeModel.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text('{"hello": 1}')
    with pytest.raises(CheckpointError, match="not a genlab model"):
        GenerativeModel.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{oops")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        GenerativeModel.from_pretrained(tmp_path)


def test_pickle_file_is_never_loaded(tmp_path):
    """A torch pickle renamed to model.safetensors is rejected, not unpickled."""
    tiny_model().save_pretrained(tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    meta.pop("weights_sha256")
    (tmp_path / "config.json").write_text(json.dumps(meta))
    torch.save({"x": torch.zeros(1)}, tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError):
        GenerativeModel.from_pretrained(tmp_path)
