"""The ``character`` task: registration, a tiny CVAE trained through ``genlab.train``, the ``character/draw``
pipeline (shapes, ranges, seeding, ``vary``, ``sheet``, bad input) and the save/load round trip."""

from __future__ import annotations

import pytest
import torch

import genlab
from genlab.core.errors import BadInputError, ConfigError
from genlab.core.registry import MODELS, PIPELINES, TASKS
from genlab.image.characters.models import CharacterCVAE, CharacterLayeredCVAE
from genlab.image.characters.pipelines import CharacterDrawPipeline, draw_request_class
from genlab.image.characters.task import CharacterTaskDataConfig

TINY = {"latent_dim": 4, "hidden_dims": [4, 8]}  # 16 px: two stride-2 stages
DATA = {"image_size": 16, "n_train": 12, "n_val": 2}


@pytest.fixture
def data_dir(layers, monkeypatch):
    """The shared layer folder's data root, also as $GENLAB_DATA_DIR."""
    root = layers.folder.parent
    monkeypatch.setenv("GENLAB_DATA_DIR", str(root))
    return root


@pytest.fixture
def loaded(data_dir):
    """(train, val, info) of a small 16 px character set."""
    task = TASKS.get("character")
    return task.load_data(CharacterTaskDataConfig(data_dir=str(data_dir), **DATA))


@pytest.fixture
def model(loaded) -> CharacterCVAE:
    """An untrained tiny CVAE with the data's schema."""
    torch.manual_seed(0)
    values = TASKS.get("character").fill_model_config(dict(TINY), loaded[2])
    return CharacterCVAE(CharacterCVAE.config_class.build(values)).eval()


@pytest.fixture
def trained(tmp_path, data_dir):
    """A tiny CVAE trained for a few steps through ``genlab.train``."""
    runs = tmp_path / "runs"
    result = genlab.train(
        "character",
        data="builtin:lpc-characters",
        name="tiny",
        max_steps=30,
        runs_dir=runs,
        data_options={**DATA, "data_dir": str(data_dir)},
        model_options={**TINY, "lr": 3e-3},
        batch_size=16,
        sample_every=0,
        log_every=5,
    )
    return result


def test_task_registers_with_its_model_and_pipeline():
    task = TASKS.get("character")
    assert task.model_names() == ["cgan", "cvae", "layered"] and task.default_model == "layered"
    assert MODELS.get("character/cvae") is CharacterCVAE
    assert PIPELINES.get("character/draw") is CharacterDrawPipeline is task.pipeline_class
    assert CharacterDrawPipeline.verb == "draw"


def test_the_default_model_is_the_benchmark_s_best_recipe():
    from benchmarks.characters import RECIPES

    recipe = RECIPES["cvae-layered-targets"]
    defaults = CharacterLayeredCVAE.config_class().to_dict()
    assert issubclass(CharacterLayeredCVAE, CharacterCVAE) and MODELS.get("character/layered") is CharacterLayeredCVAE
    assert {k: defaults[k] for k in recipe["model"] if k != "hidden_dims"} == {
        k: v for k, v in recipe["model"].items() if k != "hidden_dims"
    }  # (the encoder's widths aside: without z in the layers it is not trained)
    assert CharacterLayeredCVAE.default_batch_size == recipe["batch_size"]
    with pytest.raises(ConfigError, match="beta"):  # the fields keep their bounds
        CharacterLayeredCVAE.config_class.build({"beta": -1})
    assert all(CharacterTaskDataConfig().to_dict()[k] == v for k, v in recipe["data"].items())


def test_data_is_rgb_in_range_with_the_attribute_matrix(loaded):
    train, val, info = loaded
    x, y, _ = train.tensors  # (and the layers: data.layer_targets is on by default)
    assert x.shape == (48, 3, 16, 16) and x.min() >= -1 and x.max() <= 1 and y.shape == (48, 11)
    assert len(val) == 8 and info.attributes[-1] == "direction" and info.channels == 3
    assert info.not_applicable == {"hair_color": [["hair_style", "none"]]}
    assert "Authors" in info.attribution and "attribution" in info.to_dict()


def test_layer_targets_are_the_premultiplied_layers_each_image_is_drawn_from(data_dir):
    task = TASKS.get("character")
    options = {**DATA, "image_size": 64}  # (shrunk, the layers composite only roughly: "over" is not linear)
    train, _, info = task.load_data(CharacterTaskDataConfig(data_dir=str(data_dir), layer_targets=True, **options))
    x, _, layers = train.tensors
    assert info.layer_targets and layers.shape == (48, len(info.layers), 4, 64, 64) and layers.dtype == torch.uint8
    out = torch.tensor([200, 200, 210.0])[None, :, None, None] / 255  # the data's background, premultiplied "over"
    for step in (layers.float() / 255).unbind(1):
        out = step[:, :3] + (1 - step[:, 3:]) * out
    assert (out * 2 - 1 - x).abs().max() < 2.5 / 255  # rounded to uint8 twice


def test_a_layer_weight_without_layer_targets_is_a_config_error(data_dir):
    task = TASKS.get("character")
    _, _, info = task.load_data(CharacterTaskDataConfig(data_dir=str(data_dir), layer_targets=False, **DATA))
    with pytest.raises(ConfigError, match="layer_targets=true"):
        task.fill_model_config({**TINY, "layer_weight": 1.0}, info)
    task.check_model_fits_data(
        MODELS.get("character/layered"), info
    )  # its default weight is 1: refused before training
    with pytest.raises(ConfigError, match="layer_weight=1.0 needs"):
        task.fill_model_config(dict(TINY), info)
    task.fill_model_config({**TINY, "layer_weight": 0.0}, info)  # unless the user turns the term off
    task.check_model_fits_data(MODELS.get("character/cvae"), info)
    task.fill_model_config(dict(TINY), info)


def test_condition_is_one_block_per_attribute_and_minus_one_is_zeros(model):
    schema = model.schema
    labels = torch.zeros(2, len(schema.attributes), dtype=torch.long)
    labels[1, schema.attributes.index("hair_color")] = -1
    cond = schema.one_hot(labels)
    assert cond.shape == (2, sum(len(v) for v in schema.values.values()))
    assert cond[0].sum() == len(schema.attributes) and cond[1].sum() == len(schema.attributes) - 1


def test_generate_shapes_range_and_seeding(model):
    fixed = {"sex": "female", "hair_style": "long", "hair_color": "blue", "direction": "south"}
    a = model.generate(5, fixed, generator=torch.Generator().manual_seed(1))
    b = model.generate(5, fixed, generator=torch.Generator().manual_seed(1))
    c = model.generate(5, fixed, generator=torch.Generator().manual_seed(2))
    assert a.shape == (5, 3, 16, 16) and a.dtype == torch.float32 and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    labels = model.attribute_labels(5, fixed, torch.Generator().manual_seed(1))
    assert (
        labels[:, model.schema.attributes.index("hair_color")] == model.schema.values["hair_color"].index("blue")
    ).all()
    bald = model.attribute_labels(3, {"hair_style": "none", "hair_color": "blue"})
    assert (bald[:, model.schema.attributes.index("hair_color")] == -1).all()


def test_draw_vary_sheet_and_bad_input(model):
    pipe = CharacterDrawPipeline(model)
    out = pipe.run(pipe.request(n=3, seed=0, hair_style="long"))
    assert out.images.shape == (3, 3, 16, 16)
    assert torch.equal(out.images, pipe.run(pipe.request(n=3, seed=0, hair_style="long")).images)
    swept = pipe.run(pipe.request(n=1, seed=0, vary="hair_color", hair_style="long"))
    assert swept.images.shape[0] == len(model.schema.values["hair_color"]) == swept.nrow
    assert len({img.numpy().tobytes() for img in swept.images}) == swept.images.shape[0]  # every value differs
    sheet = pipe.run(pipe.request(n=2, seed=0, sheet=True))
    assert sheet.images.shape[0] == 8 and sheet.nrow == 4
    with pytest.raises(BadInputError, match="blue") as err:  # the valid values are named
        pipe(attributes={"hair_color": "purple"}, n=1, seed=0)
    assert "pink" in err.value.hint
    with pytest.raises(BadInputError) as err:
        pipe(attributes={"hare_style": "long"}, n=1, seed=0)
    assert "hair_style" in err.value.hint
    with pytest.raises(BadInputError):
        pipe(n=1, vary="height")


def test_request_fields_are_literals_of_the_values(model):
    cls = draw_request_class(model.schema.values)
    assert cls.build({"hair_color": "pink", "vary": "sex"}).hair_color == "pink"
    with pytest.raises(BadInputError, match="pink"):
        cls.build({"hair_color": "purple"})
    with pytest.raises(BadInputError, match="direction"):
        cls.build({"vary": "height"})


def test_training_lowers_the_loss_and_the_run_round_trips(trained):
    import csv

    assert trained.status == "completed" and trained.steps == 30
    with open(trained.run.metrics_path, newline="") as f:
        rows = list(csv.DictReader(f))
    losses = [float(r["loss"]) for r in rows if r.get("loss")]
    assert len(losses) >= 2 and losses[-1] < losses[0]
    card = (trained.run.model_dir / "README.md").read_text()
    assert "Liberated Pixel Cup" in card or "LPC" in card
    assert "Authors of the layers used" in card
    pipe = genlab.load(trained.run.path)
    assert isinstance(pipe, CharacterDrawPipeline)
    model = CharacterCVAE.from_pretrained(trained.run.model_dir)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(pipe.model.generate(4, {"sex": "male"}, g1), model.generate(4, {"sex": "male"}, g2))
    images = pipe(attributes={"sex": "female", "direction": "south"}, n=2, seed=0, output_type="pt")
    assert images.shape == (2, 3, 16, 16)
    assert len(pipe(n=2, seed=0)) == 2  # PIL images
