"""Fixtures of the LPC character tests: the shared layer folder, opened once."""

import pytest

from genlab.image.characters.compose import CharacterLayers


@pytest.fixture
def layers(shared_data) -> CharacterLayers:
    """The layer folder under ../shared/data/characters (the test skips when it is absent)."""
    if not (shared_data / "characters").is_dir():
        pytest.skip(f"LPC character layers not found in {shared_data}")
    return CharacterLayers.locate(shared_data)


#: A character every test may use: every optional layer drawn.
KNIGHT = {
    "sex": "female", "skin": "dark", "hair_style": "long", "hair_color": "redhead", "torso": "plate_armor",
    "legs": "pants_red", "leg_armor": "metal", "feet": "boots_metal", "hat": "chain_hat", "weapon": "spear",
}  # fmt: skip
