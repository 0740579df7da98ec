"""TVAE: the shared tabular model suite, plus learning a simple distribution and its errors."""

from __future__ import annotations

import pytest
import torch

import genlab.tabular.tvae  # noqa: F401  (registers tabular/tvae)
from genlab.core.errors import BadInputError, ConfigError
from genlab.tabular.spans import Span
from genlab.tabular.tvae import SIGMA_MAX, SIGMA_MIN, TVAE, TVAEConfig
from tests.tabular.model_mixin import TabularModelTesterMixin, tiny_batch, tiny_spans


class TestTVAE(TabularModelTesterMixin):
    model_name = "tabular/tvae"
    config = {"embedding_dim": 8, "hidden": [16]}
    validation_keys = {"loss", "reconstruction", "kl"}


def two_column_model(**overrides) -> TVAE:
    """A TVAE on [x: bounded alpha, c: two categories]."""
    spans = [Span("x", "alpha", "value", 0, 1), Span("c", "softmax", "category", 1, 2)]
    values = {"data_dim": 3, "spans": [s.to_dict() for s in spans], "embedding_dim": 4, "hidden": [32]}
    torch.manual_seed(0)
    return TVAE(TVAEConfig.build({**values, **overrides}))


def test_learns_category_frequencies_and_a_value():
    """200 Adam steps on rows where c is 70/30 and x ≈ 0.5: the samples show both."""
    g = torch.Generator().manual_seed(0)
    n = 100
    rows = torch.zeros(n, 3)
    rows[:, 0] = 0.5 + 0.05 * torch.randn(n, generator=g)
    rows[:70, 1] = 1.0
    rows[70:, 2] = 1.0
    model = two_column_model().train()
    spec = model.optimizer_groups()[0]
    opt = torch.optim.Adam(spec.params, lr=1e-2, weight_decay=spec.weight_decay)
    first = None
    for _ in range(200):
        opt.zero_grad()
        loss = model.training_losses(rows, "tvae")["loss"]
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
    assert loss.item() < first
    out = model.eval().generate_encoded(2000, torch.Generator().manual_seed(1))
    assert abs(out[:, 1].mean().item() - 0.7) < 0.15, out[:, 1].mean()
    assert abs(out[:, 0].mean().item() - 0.5) < 0.15, out[:, 0].mean()


def test_unbounded_alphas_are_not_squashed():
    spans = tiny_spans("quantile")
    width = max(s.stop for s in spans)
    torch.manual_seed(0)
    model = TVAE(TVAEConfig.build({"data_dim": width, "spans": [s.to_dict() for s in spans], "hidden": [8]}))
    with torch.no_grad():
        model.decoder[-1].bias.fill_(3.0)  # every raw output 3 + small terms
    out = model.eval().generate_encoded(8, torch.Generator().manual_seed(0))
    alpha = [s.start for s in spans if s.kind == "alpha"]
    assert (out[:, alpha] > 1.5).all()  # tanh would keep them below 1


def test_sigma_is_clamped_and_gets_gradients():
    model = two_column_model()
    with torch.no_grad():
        model.alpha_scale.sigma.weight.fill_(5.0)
    sigma = model.alpha_scale(4, torch.zeros(1))
    assert sigma.shape == (4, 1) and torch.all(sigma == SIGMA_MAX)
    with torch.no_grad():
        model.alpha_scale.sigma.weight.fill_(0.1)
    rows = tiny_batch(model.spans, n=8)
    model.training_losses(rows, "tvae")["loss"].backward()
    assert model.alpha_scale.sigma.weight.grad.abs().sum() > 0
    assert SIGMA_MIN < 0.1 < SIGMA_MAX


def test_only_linear_and_relu_layers():
    """No BatchNorm and no in-place activation: DP-SGD needs per-sample gradients of every layer."""
    model = two_column_model()
    kinds = {type(m) for m in model.modules() if not list(m.children())}
    assert kinds <= {torch.nn.Linear, torch.nn.ReLU}, kinds
    assert not any(m.inplace for m in model.modules() if isinstance(m, torch.nn.ReLU))


def test_bad_batches_and_groups_raise():
    model = two_column_model()
    with pytest.raises(BadInputError, match=r"\(B, 3\)"):
        model.training_losses(torch.zeros(4, 5), "tvae")
    with pytest.raises(BadInputError, match="unknown optimizer group"):
        model.training_losses(torch.zeros(4, 3), "generator")
    with pytest.raises(BadInputError):
        model.generate_encoded(-1)
    assert model.generate_encoded(0).shape == (0, 3)
    assert model.training_losses([tiny_batch(model.spans, n=4)], "tvae")["loss"].isfinite()  # (rows,) batches


def test_spans_must_match_data_dim():
    spans = [Span("x", "alpha", "value", 0, 1)]
    with pytest.raises(ConfigError, match="data_dim"):
        TVAE(TVAEConfig.build({"data_dim": 2, "spans": [s.to_dict() for s in spans]}))
    with pytest.raises(ConfigError, match="data_dim"):
        TVAE(TVAEConfig.build({}))


@pytest.mark.filterwarnings("ignore:Full backward hook:UserWarning")  # the input rows need no gradient
def test_per_sample_gradients_for_dp_sgd():
    """Opacus computes a per-row gradient of every parameter; their mean is the batch gradient."""
    opacus = pytest.importorskip("opacus")
    model = two_column_model()
    opacus.GradSampleModule(model, loss_reduction="mean")
    rows = tiny_batch(model.spans, n=6)
    model.training_losses(rows, "tvae")["loss"].backward()
    for name, p in model.named_parameters():
        assert p.grad_sample.shape == (6, *p.shape), name
        assert torch.allclose(p.grad_sample.mean(0), p.grad, atol=1e-5), name
