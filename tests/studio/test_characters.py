"""The studio's character page without a browser: candidates, lock and vary, exports, errors (an untrained tiny
character CVAE over a small attribute schema; the LPC layers are not needed)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from genlab.core.errors import BadInputError, GenlabError
from genlab.serve.store import ModelStore
from genlab.studio.characters import ANY, Candidate, CharacterDesigner
from tests.studio.conftest import save_untrained

VALUES = {"sex": ["male", "female"], "hair_color": ["black", "blonde", "blue"], "hat": ["none", "cap"],
          "direction": ["north", "west", "south", "east"]}  # fmt: skip


@pytest.fixture(scope="module")
def designer(studio_runs, tmp_path_factory):
    root = tmp_path_factory.mktemp("chars") / "runs"
    tiny = {"image_size": 16, "latent_dim": 4, "hidden_dims": [4, 8]}
    save_untrained("character/cvae", root / "character" / "chars" / "model", attributes=list(VALUES), values=VALUES,
                   **tiny)  # fmt: skip
    no_direction = {k: v for k, v in VALUES.items() if k != "direction"}
    save_untrained("character/cvae", root / "character" / "front" / "model", attributes=list(no_direction),
                   values=no_direction, **tiny)  # fmt: skip
    return CharacterDesigner(ModelStore([root, studio_runs]), tmp_path_factory.mktemp("work"))


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


def test_only_character_models_are_offered(designer):
    assert designer.models() == ["chars", "front"]  # not the image and denoising runs beside them
    assert designer.menus("chars") == VALUES
    with pytest.raises(GenlabError, match="unknown character model"):
        designer.menus("digits-nope")


def test_menu_values_become_chosen_features():
    assert CharacterDesigner.chosen({"sex": ANY, "hair_color": "blue", "hat": None, "direction": ""}) == {
        "hair_color": "blue"
    }


def test_candidates_keep_the_chosen_features_and_redraw_the_same(designer):
    found = designer.candidates("chars", {"hair_color": "blue"}, seed=5, n=3)
    assert [c.seed for c in found] == [5, 6, 7]
    assert all(c.attributes["hair_color"] == "blue" and set(c.attributes) == set(VALUES) for c in found)
    assert pixels(found[0].image).shape == (16, 16, 3)
    again = designer.candidates("chars", {"hair_color": "blue"}, seed=5, n=1)[0]
    assert again.attributes == found[0].attributes and np.array_equal(pixels(again.image), pixels(found[0].image))
    assert "seed 5" in found[0].caption() and "hair_color=blue" in found[0].caption(["hair_color"])
    assert Candidate.from_state(found[1].to_state()) == found[1]
    with pytest.raises(BadInputError, match="candidates"):
        designer.candidates("chars", {}, n=0)
    with pytest.raises(BadInputError, match="valid hair_color values"):
        designer.candidates("chars", {"hair_color": "green"})


def test_vary_changes_one_feature_and_locking_a_variant_redraws_it(designer):
    locked = designer.candidates("chars", {"sex": "female"}, seed=2, n=1)[0]
    variants = designer.vary("chars", locked, "hat")
    assert [v.attributes["hat"] for v in variants] == VALUES["hat"]
    for v in variants:  # everything but the hat stays
        assert {k: x for k, x in v.attributes.items() if k != "hat"} == {
            k: x for k, x in locked.attributes.items() if k != "hat"
        }
        assert v.chosen == {"sex": "female", "hat": v.attributes["hat"]} and v.seed == locked.seed
    same = variants[VALUES["hat"].index(locked.attributes["hat"])]
    assert np.abs(pixels(same.image) - pixels(locked.image)).max() <= 1  # the locked one is among its variants
    redrawn = designer.export_png("chars", variants[1])  # a locked variant draws as it was shown
    assert np.abs(pixels(redrawn) - pixels(variants[1].image)).max() <= 1
    with pytest.raises(BadInputError, match="unknown attribute"):
        designer.vary("chars", locked, "cape")


def test_exports(designer):
    locked = designer.candidates("chars", {}, seed=0, n=1)[0]
    with Image.open(designer.export_png("chars", locked, scale=4)) as im:
        assert im.size == (64, 64)
    with Image.open(designer.export_sheet("chars", locked)) as sheet:
        assert sheet.size == (64, 16)  # north, west, south, east side by side
    with pytest.raises(BadInputError, match="scale"):
        designer.export_png("chars", locked, scale=0)
    front = designer.candidates("front", {}, seed=0, n=1)[0]
    with pytest.raises(BadInputError, match="direction"):
        designer.export_sheet("front", front)
