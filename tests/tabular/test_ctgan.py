"""CTGAN: the shared tabular model suite, plus conditioning, training-by-sampling, packing and saved counts."""

from __future__ import annotations

import pytest
import torch

import genlab.tabular.ctgan  # noqa: F401  (registers tabular/ctgan)
from genlab.core.errors import BadInputError, ConfigError
from genlab.core.model import GenerativeModel
from genlab.tabular.ctgan import CTGAN, CTGANConfig
from genlab.tabular.spans import Span
from tests.tabular.model_mixin import TabularModelTesterMixin, tiny_batch, tiny_spans

TINY = {"embedding_dim": 8, "generator_dim": [16], "discriminator_dim": [16], "pac": 4}


class TestCTGAN(TabularModelTesterMixin):
    model_name = "tabular/ctgan"
    config = TINY
    validation_keys = {"wasserstein", "adversarial", "conditional"}


def tiny_model(**overrides) -> CTGAN:
    """CTGAN on the mixin's layout: category spans c (4 categories) and b (2)."""
    spans = tiny_spans()
    values = {"data_dim": max(s.stop for s in spans), "spans": [s.to_dict() for s in spans], **TINY}
    torch.manual_seed(0)
    return CTGAN(CTGANConfig.build({**values, **overrides}))


def span_of(model: CTGAN, column: str) -> Span:
    return next(s for s in model.category_spans if s.column == column)


def test_conditional_vector_covers_category_spans_only():
    model = tiny_model()
    assert [s.column for s in model.category_spans] == ["c", "b"] and model.cond_dim == 6
    c, b = span_of(model, "c"), span_of(model, "b")
    assert model.cond_columns.tolist() == [*range(c.start, c.stop), *range(b.start, b.stop)] == [4, 5, 6, 7, 13, 14]


def test_conditioned_generation_sets_the_category_in_every_row():
    model = tiny_model().eval()
    c = span_of(model, "c")
    for index in range(c.width):
        out = model.generate_encoded(40, torch.Generator().manual_seed(index), conditions=[("c", index), ("b", 1)])
        assert torch.all(out[:, c.start + index] == 1) and torch.all(out[:, c.start : c.stop].sum(1) == 1)
    assert model.generate_encoded(0, conditions=[("c", 1)]).shape == (0, model.config.data_dim)
    with pytest.raises(BadInputError, match="categorical columns only"):
        model.generate_encoded(4, conditions=[("x", 0)])
    with pytest.raises(BadInputError, match="category index 4"):
        model.generate_encoded(4, conditions=[("c", 4)])


def test_training_conditions_match_their_real_rows():
    """Every conditional vector is one-hot within one category column, and its matched real row has it."""
    model = tiny_model()
    rows = tiny_batch(model.spans, n=64)
    torch.manual_seed(0)
    cond, position, pick = model.sample_training_conditions(rows)
    assert torch.all(cond.sum(1) == 1) and torch.equal(cond.argmax(1), position)
    assert torch.all(rows[pick][torch.arange(64), model.cond_columns[position]] == 1)
    assert set(model.cond_span[position].tolist()) == {0, 1}  # both columns are drawn


def test_log_frequencies_drive_the_sampled_categories():
    """Counts 1000:0:0:1 give ∝ log(1 + count) ≈ 10:0:0:1 for c; a category absent from the batch falls back."""
    model = tiny_model()
    c = span_of(model, "c")
    model.set_category_frequencies({"c": [1000, 0, 0, 1]})
    rows = tiny_batch(model.spans, n=400)
    rows[:, c.start : c.stop] = 0
    rows[:, c.start] = 1  # every row has category 0 of c: category 3 is never in the batch
    torch.manual_seed(0)
    cond, position, _ = model.sample_training_conditions(rows)
    in_c = model.cond_span[position] == 0
    offset = model.cond_offsets[0]
    share = (position[in_c] == offset).float().mean().item()
    assert share == 1.0  # condition 3 had no real row: replaced by the row's own category 0
    rows[:200, c.start], rows[:200, c.start + 3] = 0, 1  # now half the rows have category 3
    torch.manual_seed(0)
    _, position, _ = model.sample_training_conditions(rows)
    in_c = model.cond_span[position] == 0
    share = (position[in_c] == offset).float().mean().item()
    assert 0.8 < share < 0.98  # log(1001) / (log(1001) + log(2)) ≈ 0.91, not 1000/1001


def test_unconditioned_generation_follows_training_frequencies():
    model = tiny_model().eval()
    model.set_category_frequencies({"c": [0, 0, 0, 5], "b": [1, 0]})
    positions = model.sampling_positions(2000, torch.Generator().manual_seed(0))
    assert set(positions.tolist()) == {model.cond_offsets[0] + 3, model.cond_offsets[1]}
    assert abs((model.cond_span[positions] == 0).float().mean().item() - 0.5) < 0.05  # columns uniformly


def test_pac_remainder_rows_are_dropped_and_small_batches_padded():
    model = tiny_model(pac=10).train()
    rows = tiny_batch(model.spans, n=23)
    assert torch.equal(model.packable_rows(rows), rows[:20])
    small = model.packable_rows(rows[:3])
    assert small.shape[0] == 10 and torch.equal(small[3:6], rows[:3])
    for batch in (rows, rows[:3], rows[:1]):
        for group in ("critic", "generator"):
            losses = model.training_losses(batch, group)
            assert torch.isfinite(losses["loss"]), (batch.shape, group)
    assert model.packable_rows(rows[:1]).shape[0] == 10
    one = tiny_model(pac=1)
    assert one.packable_rows(rows[:1]).shape[0] == 2  # BatchNorm needs two rows
    assert one.packable_rows(rows[:5]).shape[0] == 5


def test_critic_and_generator_losses():
    model = tiny_model().train()
    rows = tiny_batch(model.spans)
    critic = model.training_losses(rows, "critic")
    assert set(critic) == {"loss", "wasserstein", "gradient_penalty"}
    expected = -critic["wasserstein"] + model.config.gp_weight * critic["gradient_penalty"]
    assert torch.allclose(critic["loss"], expected)
    generator = model.training_losses(rows, "generator")
    assert set(generator) == {"loss", "adversarial", "conditional"}
    assert torch.allclose(generator["loss"], generator["adversarial"] + generator["conditional"])
    assert generator["conditional"] > 0
    with pytest.raises(BadInputError, match="unknown optimizer group"):
        model.training_losses(rows, "discriminator")


def test_category_frequencies_are_saved(tmp_path):
    model = tiny_model()
    model.set_category_frequencies({"c": [5, 0, 2, 1], "b": [3, 4]})
    model.save_pretrained(tmp_path)
    loaded = GenerativeModel.from_pretrained(tmp_path)
    assert loaded.category_counts.tolist() == [5, 0, 2, 1, 3, 4]
    with pytest.raises(BadInputError, match="not a categorical column"):
        model.set_category_frequencies({"x": [1]})
    with pytest.raises(BadInputError, match="4 categories"):
        model.set_category_frequencies({"c": [1, 2]})


def test_table_without_categories():
    spans = tiny_spans("quantile")
    spans = [s for s in spans if s.role != "category"]
    spans = [Span(s.column, s.kind, s.role, i, s.width, s.bounded) for i, s in zip([0, 1, 3], spans, strict=True)]
    torch.manual_seed(0)
    model = CTGAN(CTGANConfig.build({"data_dim": 4, "spans": [s.to_dict() for s in spans], **TINY}))
    assert model.cond_dim == 0
    rows = tiny_batch(model.spans, n=8)
    assert model.training_losses(rows, "generator")["conditional"] == 0
    assert torch.isfinite(model.training_losses(rows, "critic")["loss"])
    assert model.eval().generate_encoded(5, torch.Generator().manual_seed(0)).shape == (5, 4)


def test_spans_must_match_data_dim():
    with pytest.raises(ConfigError, match="data_dim"):
        CTGAN(CTGANConfig.build({}))
    with pytest.raises(ConfigError, match="betas"):
        CTGANConfig.build({"betas": [1.0, 0.9]})
