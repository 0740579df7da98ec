"""Input attributions: integrated gradients are complete (they sum to the score's change from the baseline),
saliency is the absolute gradient, occlusion the score drop of a covered window."""

import pytest
import torch

pytest.importorskip("captum", reason="the explain extra (captum) is not installed")

from genlab.core.attribution import attribute  # noqa: E402
from genlab.core.errors import BadInputError  # noqa: E402


def score(x: torch.Tensor) -> torch.Tensor:
    """A smooth non-linear score of (B, 1, 4, 4) images."""
    w = torch.linspace(-1, 1, 16).view(1, 1, 4, 4)
    return torch.tanh((x * w).sum((1, 2, 3))) + (x[:, :, :2, :2] ** 2).sum((1, 2, 3))


def test_integrated_gradients_are_complete():
    x = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    a = attribute(score, x, "integrated-gradients", baseline=-1.0, steps=64)
    change = score(x) - score(torch.full_like(x, -1.0))
    assert torch.allclose(a.values.sum((1, 2, 3)), change, atol=1e-4)
    assert a.delta.abs().max() < 1e-4 and a.values.shape == x.shape


def test_saliency_is_the_absolute_gradient():
    x = torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    (grad,) = torch.autograd.grad(score(x).sum(), x)
    a = attribute(score, x, "saliency")
    assert torch.allclose(a.values, grad.abs(), atol=1e-6) and a.delta is None


def test_occlusion_scores_the_drop_of_a_covered_window():
    def bright_corner(x):
        return x[:, 0, :2, :2].sum((1, 2))

    x = torch.ones(1, 1, 4, 4)
    a = attribute(bright_corner, x, "occlusion", baseline=0.0, window=2)
    assert a.values[0, 0, :2, :2].min() > a.values[0, 0, 2:, 2:].max()  # the corner matters most
    assert a.values[0, 0, 3, 3] == 0  # windows over (3, 3) never touch the corner


def test_unknown_method_and_occlusion_of_vectors_are_refused():
    with pytest.raises(BadInputError, match="unknown attribution"):
        attribute(score, torch.zeros(1, 1, 4, 4), "lime")
    with pytest.raises(BadInputError, match="occlusion"):
        attribute(lambda v: v.sum(1), torch.zeros(2, 5), "occlusion")
