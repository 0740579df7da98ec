"""The compositor: the preview is remade exactly, "over" is the straight-alpha formula, attribute sets are checked."""

import numpy as np
import pytest
from PIL import Image

from genlab.core.errors import BadInputError, DataError
from genlab.image.characters.compose import (
    CharacterLayers,
    alpha_over,
    compose_frame,
    composite,
    on_background,
    render_preview,
)
from tests.image.characters.conftest import KNIGHT


def _random_layers(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> list[np.ndarray]:
    """uint8 RGBA layers whose alpha is mostly 0 or 255, sometimes in between (like the LPC art)."""
    layers = []
    for _ in range(n):
        layer = rng.integers(0, 256, (*shape, 4), dtype=np.uint8)
        kind = rng.random(shape)
        layer[..., 3] = np.where(kind < 0.4, 0, np.where(kind < 0.8, 255, layer[..., 3]))
        layers.append(layer)
    return layers


def test_composite_is_the_float_over_formula_rounded_once():
    rng = np.random.default_rng(0)
    layers = _random_layers(rng, 5, (3, 16, 16))
    exact = np.zeros((3, 16, 16, 4))
    for layer in layers:
        exact = alpha_over(exact, layer / 255.0)
    assert np.array_equal(composite(layers, (3, 16, 16, 4)), np.round(exact * 255).astype(np.uint8))
    # opaque pixels replace what is below, transparent ones change nothing (not even the colour)
    below, above = layers[0].copy(), layers[1].copy()
    below[..., 3], above[..., 3] = 255, 0
    above[0, 0, 0, 3] = 255
    out = composite([below, above], below.shape)
    assert np.array_equal(out[0, 0, 0], above[0, 0, 0]) and np.array_equal(out[1:], below[1:])


def test_one_over_step_agrees_with_pillow():
    rng = np.random.default_rng(1)
    dst, src = _random_layers(rng, 2, (32, 32))
    ours = composite([dst, src], dst.shape).astype(int)
    pillow = np.asarray(Image.alpha_composite(Image.fromarray(dst), Image.fromarray(src))).astype(int)
    visible = pillow[..., 3] > 0
    assert np.abs(ours - pillow)[visible].max() <= 1  # Pillow rounds in fixed point
    assert np.array_equal(ours[..., 3], pillow[..., 3])


def test_preview_png_is_reproduced_pixel_for_pixel(layers):
    expected = np.asarray(Image.open(layers.folder / "preview.png").convert("RGB"))
    assert np.array_equal(render_preview(layers), expected)


def test_sheet_frames_and_standing_frames_agree(layers):
    sheet = layers.compose_sheet(KNIGHT)
    assert sheet.shape == (256, 576, 4) and sheet.dtype == np.uint8
    standing = layers.compose_column(KNIGHT)
    assert standing.shape == (4, 64, 64, 4)
    for row, direction in enumerate(layers.directions):
        frame = layers.compose_frame(KNIGHT, direction, 3)
        assert np.array_equal(frame, sheet[row * 64 : (row + 1) * 64, 192:256])
        assert np.array_equal(standing[row], sheet[row * 64 : (row + 1) * 64, :64])
    assert np.array_equal(compose_frame(KNIGHT, "west", 3, data_dir=str(layers.folder.parent)), sheet[64:128, 192:256])
    assert (sheet[..., 3] == 0).mean() > 0.5  # a transparent background


def test_layers_are_drawn_in_z_order_and_none_draws_nothing(layers):
    files = layers.layer_files(layers.character(KNIGHT))
    assert [f.split("/")[1] for f in files] == layers.z_order  # body, legs, torso, …, hat: every layer once
    bald = layers.character({**KNIGHT, "hair_style": "none", "hat": "none", "weapon": "none"})
    assert bald["hair_color"] is None  # a bald head has no hair colour
    assert [f.split("/")[1] for f in layers.layer_files(bald)] == ["body", "legs", "torso", "leg_armor", "feet"]
    # the hat is drawn over the hair: where the hat is opaque, the character shows the hat
    hat_only = layers.column(files[-1], 0)
    opaque = hat_only[..., 3] == 255
    assert opaque.any() and np.array_equal(layers.compose_column(KNIGHT)[opaque], hat_only[opaque])


def test_optional_attributes_default_to_none(layers):
    character = layers.character(sex="male", skin="light", torso="shirt_white", legs="pants_teal", hair_style="none")
    assert character["hat"] == character["feet"] == character["weapon"] == character["leg_armor"] == "none"
    assert layers.character({**KNIGHT, "hat": None})["hat"] == "none"


@pytest.mark.parametrize(
    "change, message, hint",
    [
        ({"hat": "crown"}, "unknown hat 'crown'", "valid hat values: none, leather_cap"),
        ({"skin": "tan"}, "unknown skin 'tan'", "did you mean 'tanned'?"),
        ({"colour": "red"}, "unknown character attribute 'colour'", "did you mean 'hair_color'?"),
        ({"hair_color": None}, "character attribute 'hair_color' is missing", "give one of: black, brown"),
    ],
)
def test_bad_attribute_sets_raise_bad_input_naming_the_valid_values(layers, change, message, hint):
    with pytest.raises(BadInputError) as e:
        layers.character({**KNIGHT, **change})
    assert e.value.message == message and hint in e.value.hint


def test_missing_required_attribute_and_bad_frames_are_refused(layers):
    with pytest.raises(BadInputError, match="'sex' is missing"):
        layers.character({k: v for k, v in KNIGHT.items() if k != "sex"})
    with pytest.raises(BadInputError, match="unknown direction 'up'") as e:
        layers.compose_frame(KNIGHT, "up")
    assert "north, west, south, east" in e.value.hint
    with pytest.raises(BadInputError, match="column 9 is out of range"):
        layers.compose_frame(KNIGHT, "south", 9)


def test_on_background_keeps_opaque_pixels_and_fills_transparent_ones():
    rgba = np.array([[[10, 20, 30, 255], [10, 20, 30, 0], [255, 255, 255, 128]]], dtype=np.uint8)
    out = on_background(rgba, (200, 100, 0))
    assert out.tolist() == [[[10, 20, 30], [200, 100, 0], [228, 178, 128]]]


def test_a_missing_layer_folder_says_where_to_put_it(tmp_path):
    with pytest.raises(DataError) as e:
        CharacterLayers.locate(tmp_path)
    assert str(tmp_path / "characters") in e.value.message
    assert "--data-dir" in e.value.hint and "GENLAB_DATA_DIR" in e.value.hint and "attributes.json" in e.value.hint
