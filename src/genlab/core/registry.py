"""Decorator registries for models, datasets, metrics and tasks.

Everything user-selectable registers under a name (``image/dcgan``,
``builtin:mnist-5k``); the CLI, Python API, REST API and studio list and build
from these registries, so adding a model adds files and never edits a central
``if``/``elif``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from genlab.core.errors import unknown_name

T = TypeVar("T")
_MISSING = object()

# Modality packages whose import registers their models, datasets and tasks.
MODALITY_PACKAGES = ("genlab.image", "genlab.text")


class Registry(Generic[T]):
    """A name → object mapping filled by the :meth:`register` decorator."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register the decorated object under ``name``."""

        def deco(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        """Return the object registered as ``name``; unknown names raise with the closest match."""
        load_all()
        if name not in self._items:
            raise unknown_name(self.kind, name, self._items)
        return self._items[name]

    def names(self, prefix: str = "", **filters: Any) -> list[str]:
        """Sorted registered names starting with ``prefix`` whose objects match every filter.

        A filter compares an attribute of the registered object: ``DATASETS.names(modality="image")``
        lists the datasets whose ``modality`` is ``"image"``; objects without the attribute never match.
        """
        load_all()
        return sorted(
            n
            for n, obj in self._items.items()
            if n.startswith(prefix) and all(getattr(obj, k, _MISSING) == v for k, v in filters.items())
        )

    def __contains__(self, name: str) -> bool:
        load_all()
        return name in self._items

    def items(self) -> Iterator[tuple[str, T]]:
        load_all()
        return iter(sorted(self._items.items()))


MODELS: Registry[Any] = Registry("model")
DATASETS: Registry[Any] = Registry("dataset")
METRICS: Registry[Any] = Registry("metric")
TASKS: Registry[Any] = Registry("task")
PREPROCESSORS: Registry[Any] = Registry("preprocessor")

_loaded = False


def load_all() -> None:
    """Import every modality package once so its registrations run."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for pkg in MODALITY_PACKAGES:
        importlib.import_module(pkg)
