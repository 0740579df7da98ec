"""The Gaussian copula and the independent-marginals baseline: the shared model suite, correlation recovery."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

import genlab.tabular.copula  # noqa: F401  (registers the models)
from genlab.core.registry import MODELS
from genlab.tabular.spans import Span
from tests.tabular.model_mixin import TabularModelTesterMixin, tiny_batch


def encoded(spans, n: int = 400, seed: int = 0) -> SimpleNamespace:
    """A training set of valid encoded rows (what TableDataset holds after encoding)."""
    return SimpleNamespace(encoded=tiny_batch(spans, n, seed))


class TestGaussianCopula(TabularModelTesterMixin):
    model_name = "tabular/copula"
    config = {"shrinkage": 0.01}
    validation_keys = None

    def fit_data(self, model):
        return encoded(model.spans), None


class TestIndependentMarginals(TabularModelTesterMixin):
    model_name = "tabular/marginals"
    config = {"shrinkage": 0.01}
    validation_keys = None

    def fit_data(self, model):
        return encoded(model.spans), None


def two_column_model(name: str):
    spans = [Span("x", "alpha", "value", 0, 1, False), Span("c", "softmax", "category", 1, 3)]
    cls = MODELS.get(name)
    return cls(cls.config_class.build({"data_dim": 4, "spans": [s.to_dict() for s in spans]}))


def correlated_rows(n: int = 4000) -> torch.Tensor:
    """x ~ N(0, 1); category 0 when x < -0.5, 2 when x > 0.5, else 1: strongly dependent columns."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, generator=g)
    k = torch.where(x < -0.5, 0, torch.where(x > 0.5, 2, 1))
    rows = torch.zeros(n, 4)
    rows[:, 0] = x
    rows[torch.arange(n), 1 + k] = 1.0
    return rows


@pytest.mark.parametrize("name", ["tabular/copula", "tabular/marginals"])
def test_marginals_are_kept(name):
    model = two_column_model(name)
    model.fit(SimpleNamespace(encoded=correlated_rows()), None)
    out = model.generate_encoded(4000, torch.Generator().manual_seed(1))
    real = correlated_rows()
    assert torch.allclose(out[:, 1:].mean(0), real[:, 1:].mean(0), atol=0.03)  # category frequencies
    assert abs(float(out[:, 0].std()) - 1.0) < 0.05 and abs(float(out[:, 0].mean())) < 0.05


def test_the_copula_keeps_the_dependence_the_baseline_drops():
    real = correlated_rows()
    for name, dependent in (("tabular/copula", True), ("tabular/marginals", False)):
        model = two_column_model(name)
        model.fit(SimpleNamespace(encoded=real), None)
        out = model.generate_encoded(4000, torch.Generator().manual_seed(1))
        high = out[:, 3] == 1  # category 2
        mean_x_high = float(out[high, 0].mean())
        if dependent:
            assert mean_x_high > 0.9  # E[x | x > 0.5] ≈ 1.14 for the real rows
        else:
            assert abs(mean_x_high) < 0.1
    assert float(model.correlation[0, 1]) == 0.0
