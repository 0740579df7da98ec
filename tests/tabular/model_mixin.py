"""The shared model suite for tabular generators, on a fixed tiny span layout (no table needed).

The layout: a numerical column ``x`` encoded by mode-specific normalisation (a bounded alpha and three
modes), a categorical column ``c`` with four categories, a numerical column ``y`` with missing values (a
present/missing block before its alpha and two modes), a boolean ``b``. Quantile-encoded models
(``numerical_encoding = "quantile"``) get unbounded alphas and no mode blocks.
"""

from __future__ import annotations

from typing import Any

import torch

from genlab.tabular.spans import Span
from tests.model_mixin import ModelTesterMixin


def tiny_spans(encoding: str = "mode") -> list[Span]:
    """The test layout (module docstring) as spans."""
    spans: list[Span] = []

    def add(column: str, kind: str, role: str, width: int, bounded: bool = True) -> None:
        start = spans[-1].stop if spans else 0
        spans.append(Span(column, kind, role, start, width, bounded))

    quantile = encoding == "quantile"
    add("x", "alpha", "value", 1, bounded=not quantile)
    if not quantile:
        add("x", "softmax", "mode", 3)
    add("c", "softmax", "category", 4)
    add("y", "softmax", "missing", 2)
    add("y", "alpha", "value", 1, bounded=not quantile)
    if not quantile:
        add("y", "softmax", "mode", 2)
    add("b", "softmax", "category", 2)
    return spans


def tiny_batch(spans: list[Span], n: int = 32, seed: int = 0) -> torch.Tensor:
    """``n`` valid encoded rows: one-hot softmax blocks, alphas in [-1, 1] (bounded) or N(0, 1)."""
    g = torch.Generator().manual_seed(seed)
    width = max(s.stop for s in spans)
    x = torch.zeros(n, width)
    for s in spans:
        if s.kind == "alpha":
            v = torch.randn(n, generator=g)
            x[:, s.start] = (v / 3).clamp(-1, 1) if s.bounded else v
        else:
            idx = torch.randint(0, s.width, (n,), generator=g)
            x[torch.arange(n), s.start + idx] = 1.0
    return x


class TabularModelTesterMixin(ModelTesterMixin):
    """Tabular hooks: batches of encoded rows, seeded encoded samples checked span by span."""

    n_samples = 16

    def build(self, **overrides: Any):
        from genlab.core.registry import MODELS

        cls = MODELS.get(self.model_name)
        spans = tiny_spans(cls.numerical_encoding)
        values = {"data_dim": max(s.stop for s in spans), "spans": [s.to_dict() for s in spans]}
        return super().build(**{**values, **overrides})

    def batch(self, model) -> torch.Tensor:
        return tiny_batch(model.spans)

    def sample(self, model, seed: int) -> torch.Tensor:
        return model.generate_encoded(self.n_samples, torch.Generator().manual_seed(seed))

    def check_output(self, model, out: torch.Tensor) -> None:
        assert out.shape == (self.n_samples, model.config.data_dim) and out.dtype == torch.float32
        assert torch.isfinite(out).all()
        for s in model.spans:
            block = out[:, s.start : s.stop]
            if s.kind == "softmax":  # one category per row: a one-hot block
                assert torch.all((block == 0) | (block == 1)) and torch.all(block.sum(1) == 1), s
            elif s.bounded:
                assert block.abs().max() <= 1.0 + 1e-6, s
