import hashlib
import urllib.error
from pathlib import Path

import pytest

from genlab.core import download as dl
from genlab.core.errors import DataError


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "payload.bin"
    path.parent.mkdir()
    path.write_bytes(bytes(range(256)) * 4000)  # ~1 MB: more than one read chunk
    return path


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")] if folder.is_dir() else []


def test_data_root_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA_DIR", str(tmp_path / "env"))
    assert dl.data_root(str(tmp_path / "explicit")) == tmp_path / "explicit"
    assert dl.data_root(None) == tmp_path / "env"
    monkeypatch.delenv("GENLAB_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert dl.data_root(None) == tmp_path / "home" / ".cache" / "genlab" / "data"


def test_download_file_url_with_good_checksum(source, tmp_path):
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    dest = tmp_path / "data" / "mnist" / "payload.bin"
    assert dl.download(source.as_uri(), dest, digest, "payload") == dest
    assert dest.read_bytes() == source.read_bytes()
    assert _leftovers(dest.parent) == []


def test_download_bad_checksum_deletes_and_explains(source, tmp_path):
    dest = tmp_path / "data" / "mnist" / "payload.bin"
    with pytest.raises(DataError) as e:
        dl.download(source.as_uri(), dest, "0" * 64, "payload")
    assert "checksum mismatch" in e.value.message
    assert source.as_uri() in e.value.hint and "--data-dir" in e.value.hint and "GENLAB_DATA_DIR" in e.value.hint
    assert not dest.exists()
    assert _leftovers(dest.parent) == []


def test_failed_download_keeps_existing_file(tmp_path):
    dest = tmp_path / "data" / "x.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    with pytest.raises(DataError) as e:
        dl.download((tmp_path / "missing.bin").as_uri(), dest, None, "x")
    assert "could not download" in e.value.message
    assert dest.read_bytes() == b"old"
    assert _leftovers(dest.parent) == []


def test_network_failure_is_a_data_error(tmp_path, monkeypatch):
    def unreachable(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setenv("GENLAB_DISABLE_DOWNLOADS", "0")
    monkeypatch.setattr(dl.urllib.request, "urlopen", unreachable)
    dest = tmp_path / "cifar10" / "a.tar.gz"
    with pytest.raises(DataError) as e:
        dl.download("https://example.invalid/a.tar.gz", dest, None, "a")
    assert "Name or service not known" in e.value.message
    assert str(dest) in e.value.hint and "https://example.invalid/a.tar.gz" in e.value.hint


def test_disabled_downloads_never_touch_the_network(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("network used")

    monkeypatch.setenv("GENLAB_DISABLE_DOWNLOADS", "1")
    monkeypatch.setattr(dl.urllib.request, "urlopen", fail)
    with pytest.raises(DataError, match="downloads are disabled"):
        dl.download("https://example.invalid/a.gz", tmp_path / "a.gz", None, "a")
