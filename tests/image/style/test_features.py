"""The feature networks: seeded random filters, VGG-19 loaded from a torchvision-style file (made here with
random tensors: the real 548 MB file is never needed), checksums, lookup and the losses' Gram matrices."""

import pytest
import torch

from genlab.core.errors import DataError
from genlab.image.style import features
from genlab.image.style.features import (
    VGG19_FILE,
    VGG19_URL,
    RandomFeatures,
    VGG19Features,
    feature_network,
    file_sha256,
    find_vgg19,
    load_vgg19_state,
    resolve_features,
    vgg19_layout,
)
from genlab.image.style.loss import PerceptualLoss, gram
from tests.image.style.helpers import photo, stripes


def vgg_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors under torchvision's VGG-19 names and shapes (up to conv5_1), plus a classifier entry."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for _, index, c_in, c_out in vgg19_layout():
        state[f"features.{index}.weight"] = torch.randn(c_out, c_in, 3, 3, generator=g) * (2 / (9 * c_in)) ** 0.5
        state[f"features.{index}.bias"] = torch.zeros(c_out)
    state["classifier.6.bias"] = torch.zeros(1000)  # what the real file has besides: ignored
    return state


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """A VGG-19 weights file with the right names (random tensors), saved with torch.save as torchvision's is."""
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.save(vgg_state(), path)
    return path


# --------------------------------------------------------------------------- random filters


def test_random_features_are_deterministic_from_their_seed():
    a, b, c = RandomFeatures(0), RandomFeatures(0), RandomFeatures(1)
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters(), strict=True):
        assert torch.equal(pa, pb), name
        assert name.endswith("bias") or not torch.equal(pa, pc), name  # biases are zero
    x = photo(32, 40).unsqueeze(0)
    out_a, out_b = a(x), b(x)
    assert set(out_a) == {"scale1", "scale2", "scale3", "scale4", "scale5"}
    assert all(torch.equal(out_a[k], out_b[k]) for k in out_a)
    shapes = {k: tuple(v.shape[-2:]) for k, v in out_a.items()}
    assert shapes == {
        "scale1": (32, 40),
        "scale2": (16, 20),
        "scale3": (8, 10),
        "scale4": (4, 5),
        "scale5": (2, 3),
    }  # pooling rounds up
    assert not any(p.requires_grad for p in a.parameters())  # frozen


def test_random_features_do_not_touch_the_global_random_state():
    torch.manual_seed(3)
    expected = torch.rand(1)
    torch.manual_seed(3)
    RandomFeatures(0)
    assert torch.equal(torch.rand(1), expected)


def test_gram_matrices_are_symmetric_positive_semidefinite():
    net = RandomFeatures(0)
    acts = net(torch.stack([photo(32, 32), stripes(32, 32)]))
    for name, a in acts.items():
        g = gram(a).double()
        assert g.shape == (2, a.shape[1], a.shape[1])
        assert torch.allclose(g, g.transpose(1, 2), atol=1e-6), name
        eig = torch.linalg.eigvalsh(g)
        assert eig.min() >= -1e-6 * eig.max(), (name, float(eig.min()))


def test_gram_matrices_do_not_depend_on_the_image_size():
    """Divided by the positions: a periodic texture has the same statistics at any extent."""
    f = stripes(8, 8, period=4).unsqueeze(0)
    big = f.repeat(1, 1, 4, 4)  # the same texture, 16 times the area
    assert torch.allclose(gram(f), gram(big), atol=1e-6)


def test_style_loss_vanishes_for_the_style_itself():
    style = stripes(32, 32)
    loss = PerceptualLoss(RandomFeatures(0), style, 1.0, 1.0, 0.0)
    x = style.unsqueeze(0)
    terms = loss(x, loss.content_targets(x))
    assert terms["style"] < 1e-10 and terms["content"] < 1e-10
    other = photo(32, 32).unsqueeze(0)
    assert loss(other, loss.content_targets(other))["style"] > 1e-3


# --------------------------------------------------------------------------- VGG-19 weights


def test_vgg19_layout_matches_torchvisions_indices():
    layout = {name: index for name, index, _, _ in vgg19_layout()}
    assert layout["conv1_1"] == 0 and layout["conv2_1"] == 5 and layout["conv3_1"] == 10
    assert layout["conv4_1"] == 19 and layout["conv4_2"] == 21 and layout["conv5_1"] == 28
    assert len(layout) == 13


def test_vgg19_file_with_torchvision_names_loads_with_weights_only(vgg_file):
    digest = file_sha256(vgg_file)
    net = VGG19Features.from_file(vgg_file, expected_sha256=digest)
    state = vgg_state()
    assert torch.equal(net.steps[0][-2].weight, state["features.0.weight"])
    assert torch.equal(net.steps[-1][-2].bias, state["features.28.bias"])  # conv5_1
    out = net(photo(32, 32).unsqueeze(0))
    assert set(out) == {"conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1", "conv4_2"}
    assert out["conv1_1"].shape == (1, 64, 32, 32) and out["conv4_2"].shape == (1, 512, 4, 4)
    assert out["conv5_1"].shape == (1, 512, 2, 2)


def test_vgg19_checksum_mismatch_is_a_clear_error(vgg_file):
    with pytest.raises(DataError, match="checksum mismatch") as err:
        load_vgg19_state(vgg_file)  # the default: torchvision's prefix dcbb9e9d, which this file has not
    assert "dcbb9e9d" in err.value.message and file_sha256(vgg_file) in err.value.message
    assert VGG19_URL in err.value.hint
    with pytest.raises(DataError, match="checksum mismatch"):
        load_vgg19_state(vgg_file, expected_sha256="0" * 64)


def test_vgg19_file_with_wrong_names_or_shapes_is_refused(tmp_path):
    renamed = {k.replace("features.", "layers."): v for k, v in vgg_state().items()}
    path = tmp_path / "renamed.pth"
    torch.save(renamed, path)
    with pytest.raises(DataError, match="not torchvision's VGG-19 state dict") as err:
        load_vgg19_state(path, expected_sha256=file_sha256(path))
    assert "features.0.weight is missing" in err.value.message
    shrunk = vgg_state()
    shrunk["features.21.weight"] = torch.zeros(256, 512, 3, 3)
    path = tmp_path / "shrunk.pth"
    torch.save(shrunk, path)
    with pytest.raises(DataError, match=r"features.21.weight has shape \(256, 512, 3, 3\)"):
        load_vgg19_state(path, expected_sha256=file_sha256(path))


class Payload:
    """Unpickling this with weights_only=False would create a file: weights_only must refuse it first."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_vgg19_file_holding_a_pickled_object_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": Payload(marker)}, path)
    with pytest.raises(DataError, match="cannot load") as err:
        load_vgg19_state(path, expected_sha256=file_sha256(path))
    assert "weights_only" in err.value.hint and not marker.exists()
    path.write_bytes(b"not a torch file")
    with pytest.raises(DataError, match="cannot load"):
        load_vgg19_state(path, expected_sha256=file_sha256(path))


def test_vgg19_is_found_by_flag_or_in_the_data_dir(tmp_path, monkeypatch, vgg_file):
    monkeypatch.setenv("GENLAB_DATA_DIR", str(tmp_path / "data"))
    assert find_vgg19() is None
    with pytest.raises(DataError, match="not found") as err:
        find_vgg19(tmp_path / "nowhere.pth")
    assert VGG19_URL in err.value.hint
    assert find_vgg19(vgg_file) == vgg_file.resolve()
    placed = tmp_path / "data" / "vgg19" / VGG19_FILE
    placed.parent.mkdir(parents=True)
    placed.write_bytes(vgg_file.read_bytes())
    assert find_vgg19() == placed.resolve()
    assert find_vgg19(None, tmp_path / "other") is None  # --data-dir wins over the environment


def test_auto_features_use_vgg19_when_present_and_say_which(tmp_path, monkeypatch, capsys, vgg_file):
    monkeypatch.setenv("GENLAB_DATA_DIR", str(tmp_path))
    assert resolve_features("auto") == {"features": "random", "vgg_weights": None, "vgg_sha256": None}
    assert "offline stand-in" in capsys.readouterr().out
    with pytest.raises(DataError, match="VGG-19 weights not found") as err:
        resolve_features("vgg19")
    assert VGG19_URL in err.value.hint
    with pytest.raises(DataError, match="checksum mismatch"):  # this file is not torchvision's
        resolve_features("auto", str(vgg_file))
    digest = file_sha256(vgg_file)
    monkeypatch.setattr(features, "VGG19_SHA256_PREFIX", digest[:8])  # as if it were the real file
    resolved = resolve_features("auto", str(vgg_file))
    assert resolved == {"features": "vgg19", "vgg_weights": str(vgg_file.resolve()), "vgg_sha256": digest}
    assert "VGG-19" in capsys.readouterr().out
    assert resolve_features("random", str(vgg_file))["features"] == "random"
    net = feature_network("vgg19", str(vgg_file), vgg_sha256=digest)
    assert isinstance(net, VGG19Features) and feature_network("vgg19", str(vgg_file), vgg_sha256=digest) is net


def test_a_recorded_vgg_digest_is_checked_in_full(tmp_path, vgg_file):
    with pytest.raises(DataError, match="checksum mismatch"):
        feature_network("vgg19", str(vgg_file), vgg_sha256="f" * 64)
