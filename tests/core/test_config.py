from typing import Literal

import pytest
from pydantic import ValidationError

from genlab.core.config import Config, apply_overrides, load_file, parse_override
from genlab.core.errors import ConfigError


class Inner(Config):
    latent_dim: int = 16
    kind: Literal["a", "b"] = "a"


class Outer(Config):
    model: Inner = Inner()
    lr: float = 1e-3


def test_overrides_parse_yaml_scalars():
    assert parse_override("model.latent_dim=32") == (["model", "latent_dim"], 32)
    assert parse_override("a=true")[1] is True
    assert parse_override("a=1e-4")[1] == pytest.approx(1e-4)
    assert parse_override("a=[1, 2]")[1] == [1, 2]
    assert parse_override("a=hello")[1] == "hello"


def test_apply_overrides_nested_and_copy():
    base = {"model": {"latent_dim": 16}}
    out = apply_overrides(base, ["model.latent_dim=8", "train.seed=3"])
    assert out == {"model": {"latent_dim": 8}, "train": {"seed": 3}}
    assert base == {"model": {"latent_dim": 16}}


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="bad override"):
        parse_override("model.latent_dim")


def test_unknown_key_suggests_closest():
    with pytest.raises(ConfigError) as e:
        Outer.build({"model": {"latent_dims": 3}})
    assert "model.latent_dims" in e.value.message
    assert "latent_dim" in e.value.hint


def test_invalid_value_names_key():
    with pytest.raises(ConfigError, match="model.kind"):
        Outer.build({"model": {"kind": "c"}})


def test_load_yaml_and_json(tmp_path):
    (tmp_path / "c.yaml").write_text("model:\n  latent_dim: 4\n")
    (tmp_path / "c.json").write_text('{"lr": 0.5}')
    assert Outer.build(load_file(tmp_path / "c.yaml")).model.latent_dim == 4
    assert Outer.build(load_file(tmp_path / "c.json")).lr == 0.5
    (tmp_path / "bad.yaml").write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_file(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_file(tmp_path / "missing.yaml")


def test_paths_are_taken_as_strings_when_built_and_assigned():
    from pathlib import Path

    class Files(Config):
        source: str | None = None
        folder: Path | None = None
        n: int = 1

    cfg = Files(source=Path("data/train.csv"), folder=Path("out"))
    assert cfg.source == "data/train.csv" and isinstance(cfg.source, str)
    assert cfg.folder == Path("out") and isinstance(cfg.folder, Path)
    cfg.source = Path("other.csv")
    assert cfg.source == "other.csv" and isinstance(cfg.source, str)
    with pytest.raises(ValidationError):
        Files(n=Path("three"))
