import pytest
import torch

from genlab.core.errors import ConfigError
from genlab.nn.unet import SelfAttention, UNet, UNetConfig, check_unet_fits, timestep_embedding

TINY = UNetConfig(base_channels=8, channel_mult=(1, 2, 2), attention_levels=(2,), attention_head_dim=4)


def open_branches(net: UNet) -> UNet:
    """Randomise the zero-initialised layers, as training would, so every input reaches the output."""
    torch.nn.init.normal_(net.conv_out.weight, std=0.1)
    for block in net.modules():
        if hasattr(block, "conv2"):
            torch.nn.init.normal_(block.conv2.weight, std=0.1)
        if isinstance(block, SelfAttention):
            torch.nn.init.normal_(block.proj.weight, std=0.1)
    return net


def build(config: UNetConfig = TINY, channels: int = 1, num_classes: int = 0, image_size: int = 28) -> UNet:
    torch.manual_seed(0)
    return UNet(config, channels, channels, num_classes, image_size)


@pytest.mark.parametrize(("size", "channels"), [(28, 1), (32, 3), (64, 1)])
def test_output_shape_matches_input(size, channels):
    net = build(channels=channels, image_size=size)
    x = torch.randn(2, channels, size, size)
    assert net(x, torch.tensor([3.0, 500.0])).shape == x.shape


def test_untrained_output_is_zero_and_every_parameter_gets_a_gradient():
    net = build(num_classes=3)
    x, t, y = torch.randn(2, 1, 28, 28), torch.tensor([10.0, 900.0]), torch.tensor([0, 2])
    assert torch.equal(net(x, t, y), torch.zeros_like(x))  # the zero-initialised output conv
    open_branches(net)
    net(x, t, y).square().mean().backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing


def test_time_and_labels_change_the_output_and_null_label_is_the_default():
    net = open_branches(build(num_classes=3))
    x = torch.randn(1, 1, 28, 28)
    out = net(x, torch.tensor([100.0]), torch.tensor([1]))
    assert not torch.allclose(out, net(x, torch.tensor([800.0]), torch.tensor([1])))
    assert not torch.allclose(out, net(x, torch.tensor([100.0]), torch.tensor([2])))
    assert net.class_embedding.num_embeddings == 4  # 3 classes + the null label
    assert torch.equal(net(x, torch.tensor([100.0])), net(x, torch.tensor([100.0]), torch.tensor([3])))


def test_sizes_that_cannot_be_halved_enough_are_rejected_with_a_hint():
    with pytest.raises(ConfigError, match="not divisible by 8") as err:
        check_unet_fits(UNetConfig(channel_mult=(1, 2, 2, 2)), 28)
    assert "at most 3 entries" in err.value.hint
    check_unet_fits(UNetConfig(channel_mult=(1, 2, 2)), 28)  # 28 → 14 → 7 works
    with pytest.raises(ConfigError, match="attention level 3"):
        check_unet_fits(UNetConfig(channel_mult=(1, 2), attention_levels=(3,)), 32)


def test_timestep_embedding_is_sinusoidal():
    emb = timestep_embedding(torch.tensor([0.0, 1.0]), 8)
    assert emb.shape == (2, 8)
    assert torch.equal(emb[0], torch.tensor([1.0] * 4 + [0.0] * 4))  # cos 0 = 1, sin 0 = 0
    freqs = torch.exp(-torch.log(torch.tensor(10000.0)) * torch.arange(4) / 4)
    assert torch.allclose(emb[1], torch.cat([torch.cos(freqs), torch.sin(freqs)]))


def test_attention_heads_split_any_channel_count():
    attn = SelfAttention(100, head_dim=32)  # 3 heads would not divide 100
    assert 100 % attn.heads == 0 and attn(torch.randn(1, 100, 2, 2)).shape == (1, 100, 2, 2)


def test_attention_mixes_positions():
    attn = SelfAttention(8, head_dim=4)
    torch.nn.init.normal_(attn.proj.weight, std=0.5)
    x = torch.zeros(1, 8, 4, 4)
    x2 = x.clone()
    x2[..., 0, 0] = 5.0  # change one position: the others change too
    diff = (attn(x2) - attn(x)).abs().sum(1)[0]
    assert diff[3, 3] > 0
