"""Typed configuration: pydantic models, YAML/JSON files and dotted overrides.

Every model, dataset and run has a config class derived from :class:`Config`.
Unknown keys are rejected with the closest valid name; values are validated
with messages a user can act on. ``--set model.latent_dim=32`` style overrides
are parsed as YAML scalars, so ``true``, ``3``, ``1e-4`` and ``[1, 2]`` get
their natural types.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from genlab.core.errors import ConfigError, closest

C = TypeVar("C", bound="Config")


class Config(BaseModel):
    """Base of all genlab configs: strict keys, validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())

    @model_validator(mode="before")
    @classmethod
    def _paths_to_str(cls, data: Any) -> Any:
        """A ``pathlib.Path`` (any ``os.PathLike``) given for a field is taken as its string: fields that name files
        or runs are ``str``, so Python callers may pass paths as they have them."""
        return {k: _path_to_str(v) for k, v in data.items()} if isinstance(data, dict) else data

    def __setattr__(self, name: str, value: Any) -> None:  # the same on assignment
        super().__setattr__(name, _path_to_str(value))

    @classmethod
    def build(cls: type[C], values: dict[str, Any] | None = None, where: str = "") -> C:
        """Validate ``values`` into this config, turning pydantic errors into :class:`ConfigError`."""
        try:
            return cls(**(values or {}))
        except ValidationError as e:
            raise config_error(cls, e, where) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict of every field (defaults included)."""
        return self.model_dump(mode="json")


def _path_to_str(value: Any) -> Any:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def config_error(cls: type[BaseModel], err: ValidationError, where: str = "") -> ConfigError:
    """Describe the first validation error of ``err`` with a hint naming valid keys."""
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    key = f"{where}.{loc}" if where else loc
    if first["type"] == "extra_forbidden":
        fields = _fields_at(cls, first["loc"][:-1])
        guess = closest(str(first["loc"][-1]), fields)
        hint = (f"did you mean '{guess}'? " if guess else "") + "valid keys: " + ", ".join(sorted(fields))
        return ConfigError(f"unknown config key '{key}'", hint)
    return ConfigError(f"invalid value for '{key}': {first['msg']}", f"got {first.get('input')!r}")


def _fields_at(cls: type[BaseModel], loc: tuple) -> list[str]:
    for part in loc:
        field = cls.model_fields.get(str(part))
        ann = getattr(field, "annotation", None) if field else None
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            cls = ann
        else:
            return []
    return list(cls.model_fields)


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON config file into a dict."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}", "check the path given to --config")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot parse config file {path}: {e}", "use valid YAML or JSON") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping", "write key: value pairs at the top level")
    return data


def parse_override(item: str) -> tuple[list[str], Any]:
    """Split ``a.b=c`` into (["a", "b"], parsed value)."""
    if "=" not in item:
        raise ConfigError(f"bad override '{item}'", "write overrides as key.path=value, e.g. model.latent_dim=32")
    key, raw = item.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"bad override '{item}'", "the key before '=' is empty")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str):
        value = _number_or_str(value)
    return parts, value


def _number_or_str(text: str) -> Any:
    """YAML 1.1 reads ``1e-4`` as a string; users mean a float."""
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data["a"]["b"] = value`` for ``key="a.b"`` in place, creating mappings on the way."""
    parts = [p for p in key.split(".") if p]
    node = data
    for p in parts[:-1]:
        nxt = node.get(p)
        if not isinstance(nxt, dict):
            nxt = node[p] = {}
        node = nxt
    node[parts[-1]] = value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted ``key=value`` overrides applied."""
    out = json.loads(json.dumps(data))
    for item in overrides:
        parts, value = parse_override(item)
        set_dotted(out, ".".join(parts), value)
    return out


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``extra`` into a copy of ``base`` (``extra`` wins)."""
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def save_yaml(data: dict[str, Any], path: str | Path) -> None:
    """Write ``data`` as YAML atomically."""
    from genlab.core.io import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
