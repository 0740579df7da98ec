import pytest

from genlab.core.errors import UnknownNameError
from genlab.core.registry import MODELS, Registry


def test_register_and_get():
    reg = Registry("thing")
    reg.register("a/x")(int)
    assert reg.get("a/x") is int
    assert reg.names("a/") == ["a/x"]


def test_unknown_name_lists_valid_and_closest():
    reg = Registry("thing")
    reg.register("image/dcgan")(int)
    reg.register("image/cgan")(float)
    with pytest.raises(UnknownNameError) as e:
        reg.get("image/dcgna")
    assert "did you mean 'image/dcgan'" in e.value.hint
    assert "image/cgan" in e.value.hint
    assert e.value.exit_code == 2


def test_double_registration_is_an_error():
    reg = Registry("thing")
    reg.register("x")(int)
    with pytest.raises(ValueError):
        reg.register("x")(float)


def test_builtin_models_registered():
    names = MODELS.names("image/")
    for expected in ["image/vae", "image/conv-vae", "image/cvae", "image/dcgan", "image/cgan", "image/wgan-gp"]:
        assert expected in names
