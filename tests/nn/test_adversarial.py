import math

import pytest
import torch
from torch import nn

from genlab.nn.adversarial import ADVERSARIAL_LOSSES, batch_statistics, frozen, gradient_penalty


@pytest.mark.parametrize(
    ("loss", "real", "fake", "d_expected", "g_expected"),
    [
        ("non-saturating", [0.0, 0.0], [0.0, 0.0], 2 * math.log(2), math.log(2)),
        ("non-saturating", [30.0], [-30.0], 0.0, 30.0),
        ("hinge", [2.0, 0.5], [-2.0, 0.0], 0.25 + 0.5, 1.0),  # g = -mean(fake) = 1
        ("least-squares", [1.0, 3.0], [0.0, 2.0], 1.0 + 1.0, 0.5 * (1 + 1) / 2),
        ("wasserstein", [1.0, 3.0], [0.0, 2.0], 1.0 - 2.0, -1.0),
    ],
)
def test_adversarial_losses_on_known_scores(loss, real, fake, d_expected, g_expected):
    pair = ADVERSARIAL_LOSSES[loss]
    real_t, fake_t = torch.tensor(real), torch.tensor(fake)
    assert pair.discriminator(real_t, fake_t).item() == pytest.approx(d_expected, abs=1e-6)
    assert pair.generator(fake_t).item() == pytest.approx(g_expected, abs=1e-6)


# Per-sample shapes: images (C, H, W), sequences (T, D), tabular rows (D,).
SAMPLE_SHAPES = [(2, 4, 4), (5, 3), (7,)]


@pytest.mark.parametrize("shape", SAMPLE_SHAPES, ids=["image", "sequence", "tabular"])
@pytest.mark.parametrize(("scale", "expected"), [(1.0, 0.0), (3.0, 4.0), (0.5, 0.25)])
def test_gradient_penalty_of_a_linear_critic(shape, scale, expected):
    # D(x) = <w, x> has gradient w everywhere: the penalty is (‖w‖ - 1)², exactly 0 when D is 1-Lipschitz.
    g = torch.Generator().manual_seed(0)
    w = torch.randn(1, *shape, generator=g)
    w = (scale * w / w.norm()).requires_grad_(True)
    real, fake = torch.randn(6, *shape, generator=g), torch.randn(6, *shape, generator=g)
    gp = gradient_penalty(lambda x: (x * w).flatten(1).sum(1), real, fake)
    assert gp.item() == pytest.approx(expected, abs=1e-6)
    # It stays differentiable in the critic's weights: d(‖w‖ - 1)²/dw = 2(‖w‖ - 1) w / ‖w‖.
    (grad,) = torch.autograd.grad(gp, w)
    assert torch.allclose(grad, 2 * (scale - 1) * w.detach() / scale, atol=1e-5)


@pytest.mark.parametrize("shape", SAMPLE_SHAPES, ids=["image", "sequence", "tabular"])
def test_gradient_penalty_mixes_each_sample_with_its_own_weight(shape):
    # D(x) = ½‖x‖² has gradient x̂ = εx + (1-ε)x̃. With x̃ = 0 and ‖x_b‖ = 1 the norm is ε_b, so the
    # penalty is mean((ε_b - 1)²) over the batch, with one ε drawn per sample (replayed from the seed).
    batch = 8
    real = torch.randn(batch, *shape)
    real = real / real.flatten(1).norm(dim=1).view(batch, *([1] * len(shape)))
    torch.manual_seed(3)
    gp = gradient_penalty(lambda x: 0.5 * x.pow(2).flatten(1).sum(1), real, torch.zeros_like(real))
    torch.manual_seed(3)
    eps = torch.rand(batch)
    assert gp.item() == pytest.approx((eps - 1).pow(2).mean().item(), abs=1e-6)


def test_frozen_stops_weight_gradients_but_not_input_gradients_and_restores_flags():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    net[1].bias.requires_grad_(False)  # a flag that must survive as it was
    x = torch.randn(2, 3, requires_grad=True)
    with frozen(net):
        assert not any(p.requires_grad for p in net.parameters())
        net(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())
    assert [p.requires_grad for p in net.parameters()] == [True, True, True, False]


def test_frozen_restores_flags_after_an_error():
    net = nn.Linear(3, 1)
    with pytest.raises(RuntimeError), frozen(net):
        raise RuntimeError("boom")
    assert all(p.requires_grad for p in net.parameters())


def test_batch_statistics_normalises_with_the_batch_and_keeps_running_statistics():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(16, 3) * 5 + 2
    with torch.no_grad(), batch_statistics(net):
        out = net(x)
    # Batch statistics: each feature has mean 0 and (biased) variance 1 over the batch.
    assert torch.allclose(out.mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(out.var(0, unbiased=False), torch.ones(4), atol=1e-3)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    norm = net[1]
    assert not norm.training and norm.track_running_stats
    with torch.no_grad():  # back in eval mode it uses the (untouched) running statistics again
        assert not torch.allclose(net(x).mean(0), torch.zeros(4), atol=1e-2)
