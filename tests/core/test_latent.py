"""The latent / conditional base on a toy, non-image model (rows of 3 numbers)."""

from typing import ClassVar

import pytest
import torch
from torch import nn

from genlab.core.errors import BadInputError
from genlab.core.latent import ConditionalConfig, LatentGenerativeModel


class RowConfig(ConditionalConfig):
    latent_dim: int = 4


class RowModel(LatentGenerativeModel):
    """z (B, 4) -> rows (B, 3); the label only shifts the output."""

    config_class: ClassVar[type[RowConfig]] = RowConfig
    registry_name: ClassVar[str] = "toy/rows"

    def __init__(self, config: RowConfig):
        super().__init__(config)
        self.net = nn.Linear(config.latent_dim, 3)


class ConditionalRowModel(RowModel):
    conditional: ClassVar[bool] = True


def build(cls=RowModel, **values):
    return cls(RowConfig.build({"num_classes": 3, **values}))


def test_num_classes_defaults_to_unconditional_data_and_is_validated():
    assert RowConfig().num_classes == 0
    with pytest.raises(Exception, match="num_classes"):
        RowConfig.build({"num_classes": -1})


def test_sample_latent_has_the_latent_shape_and_follows_the_generator():
    model = build()
    assert model.latent_shape == (4,) and model.device == torch.device("cpu")
    a = model.sample_latent(5, torch.Generator().manual_seed(0))
    b = model.sample_latent(5, torch.Generator().manual_seed(0))
    assert a.shape == (5, 4) and torch.equal(a, b)


def test_unconditional_models_refuse_labels_with_a_generic_hint():
    model = build()
    assert model.check_labels(None, 4) is None
    with pytest.raises(BadInputError, match="toy/rows is unconditional") as err:
        model.check_labels(torch.tensor([1]), 4)
    assert err.value.hint == "train a conditional model to pick labels"


def test_conditional_models_cycle_repeat_and_range_check_labels():
    model = build(ConditionalRowModel)
    assert model.check_labels(None, 7).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert model.check_labels(2, 3).tolist() == [2, 2, 2]
    assert model.check_labels([0, 2, 1], 3).dtype == torch.long
    with pytest.raises(BadInputError, match="got 2 labels for 3 samples"):
        model.check_labels([0, 1], 3)
    with pytest.raises(BadInputError, match="label 3 is out of range") as err:
        model.check_labels([0, 3, 1], 3)
    assert err.value.hint == "this model has labels 0..2"
    with pytest.raises(BadInputError, match="label -1"):
        model.check_labels(-1, 2)
