import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("GENLAB_DISABLE_DOWNLOADS", "1")
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """An empty runs root for one test."""
    d = tmp_path / "runs"
    monkeypatch.setenv("GENLAB_RUNS_DIR", str(d))
    return d


@pytest.fixture
def shared_data():
    """../shared/data when present; tests that need it skip otherwise."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATA} (only present on the project's machines)")
    return SHARED_DATA


@pytest.fixture
def toy_modality(tmp_path, monkeypatch):
    """Declare the toy modality (tests/toy_modality/) as an installed distribution's entry point, then
    remove every trace."""
    from genlab.core import registry

    registries = (registry.MODELS, registry.DATASETS, registry.METRICS, registry.PIPELINES, registry.TASKS)
    # Every real modality is imported first: one imported while the toy is declared would register into the
    # snapshot restored below, and Python does not import a module twice, so its names would be lost for good.
    registry.load_all()
    dist = tmp_path / "site" / "genlab_toy-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: genlab-toy\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[genlab.modalities]\ntoy = tests.toy_modality\n")
    before = [dict(r._items) for r in registries]
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    registry.rescan_modalities()
    yield
    for reg, items in zip(registries, before, strict=True):
        reg._items.clear()
        reg._items.update(items)
    registry._imported.discard("toy")
    for name in [m for m in sys.modules if m.startswith("tests.toy_modality")]:
        del sys.modules[name]
    registry.rescan_modalities()
