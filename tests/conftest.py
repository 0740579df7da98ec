import os
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
