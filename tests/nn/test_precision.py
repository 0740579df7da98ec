"""Compute precision: bf16 sampling stays close to float32, returns float32, and bad values are refused."""

import warnings

import pytest
import torch

from genlab.core.errors import BadInputError
from genlab.image.diffusion.models import DDPM, DDPMConfig, FlowConfig, RectifiedFlow
from genlab.nn.precision import check_precision, compute_precision, native_bf16

TINY = {"image_size": 8, "channels": 1, "base_channels": 8, "channel_mult": (1, 2), "attention_levels": (1,)}


def trained_like(model):
    """An untrained UNet's output layer is zero: give it weights so the output depends on the network."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1 and not p.any():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
    return model.eval()


@pytest.mark.parametrize("cls,config", [(DDPM, DDPMConfig), (RectifiedFlow, FlowConfig)])
def test_bf16_sampling_is_float32_and_close_to_fp32(cls, config):
    torch.manual_seed(0)
    model = trained_like(cls(config(**TINY, sample_steps=4)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # emulated bf16 on CPUs without it: slower, same result
        fp32 = model.generate(8, generator=torch.Generator().manual_seed(1))
        bf16 = model.generate(8, generator=torch.Generator().manual_seed(1), precision="bf16")
    assert bf16.dtype == torch.float32 and bf16.shape == fp32.shape
    diff = (bf16 - fp32).abs()
    assert 0 < diff.mean() < 0.02  # it did run in bf16, and a bf16 mantissa keeps the samples close


def test_guided_output_runs_the_unet_in_bf16_only_inside():
    model = trained_like(DDPM(DDPMConfig(**TINY, conditional=True, num_classes=3)))
    x = torch.randn(2, 1, 8, 8)
    seen = []
    model.unet.conv_in.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    out = model.guided_output(x, 10, torch.tensor([0, 1]), 2.0, "bf16")
    assert seen == [torch.bfloat16] and out.dtype == torch.float32
    model.guided_output(x, 10, None, None, "32")
    assert seen[-1] == torch.float32


def test_unknown_precision_is_refused_with_the_choices():
    with pytest.raises(BadInputError, match="unknown precision") as e:
        check_precision("fp16", "cpu")
    assert "32, bf16" in e.value.hint
    assert check_precision(None, "cpu") == "32"


def test_emulated_bf16_warns(monkeypatch):
    import genlab.nn.precision as precision

    monkeypatch.setattr(precision, "native_bf16", lambda device: False)
    with pytest.warns(UserWarning, match="no native bfloat16"):
        assert precision.check_precision("bf16", "cpu") == "bf16"


def test_float32_precision_is_a_no_op():
    with compute_precision("32", "cpu"):
        assert not torch.is_autocast_enabled("cpu")
    with compute_precision("bf16", "cpu"):
        assert torch.is_autocast_enabled("cpu")
    assert isinstance(native_bf16("cpu"), bool) and native_bf16("meta") is False
