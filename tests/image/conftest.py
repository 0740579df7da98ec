"""Fixtures shared by the image tests."""

import pytest


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A folder of five small synthetic colour photos (64×48)."""
    from tests.image.restoration.test_tasks import save_photo

    folder = tmp_path_factory.mktemp("photos")
    for i in range(5):
        save_photo(folder / f"p{i}.png", seed=i)
    return folder
