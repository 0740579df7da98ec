"""Decorator registries for models, datasets, metrics, pipelines and tasks.

Everything user-selectable registers under a name (``image/dcgan``,
``builtin:mnist-5k``); the CLI, Python API, REST API and studio list and build
from these registries, so adding a model adds files and never edits a central
``if``/``elif``.

Modalities are found through the ``genlab.modalities`` entry-point group
(``image = "genlab.image"`` in genlab's own ``pyproject.toml``; a third-party
package declares its own). Core never names them. They are imported lazily: a
name with a modality prefix (``image/dcgan``, ``text/generate``) imports only that
modality; listing a registry imports every modality once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from genlab.core.errors import unknown_name

T = TypeVar("T")
_MISSING = object()

ENTRY_POINT_GROUP = "genlab.modalities"


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

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests and plug-ins that are unloaded)."""
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        """Return the object registered as ``name``; unknown names raise with the closest match."""
        if name not in self._items:
            prefix = name.split("/", 1)[0] if "/" in name else None
            if not (prefix and load_modality(prefix) and name in self._items):
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

    def loaded(self) -> list[tuple[str, T]]:
        """What is registered so far, without importing further modalities (sorted by name)."""
        return sorted(self._items.items())

    def __contains__(self, name: str) -> bool:
        load_all()
        return name in self._items

    def items(self) -> Iterator[tuple[str, T]]:
        load_all()
        return iter(sorted(self._items.items()))


MODELS: Registry[Any] = Registry("model")
DATASETS: Registry[Any] = Registry("dataset")
METRICS: Registry[Any] = Registry("metric")
PIPELINES: Registry[Any] = Registry("pipeline")
TASKS: Registry[Any] = Registry("task")
PREPROCESSORS: Registry[Any] = Registry("preprocessor")
#: Builders of conversational agents that ``genlab chat`` talks to (``text/faq``: rules + FAQ retrieval).
CHATBOTS: Registry[Any] = Registry("chat bot")

_imported: set[str] = set()
_all_loaded = False


def modality_entry_points() -> dict[str, EntryPoint]:
    """The installed ``genlab.modalities`` entry points by modality name (first one wins)."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)
    return found


def load_modality(name: str) -> bool:
    """Import the modality ``name`` (its registrations run); False when no such modality is installed."""
    if name in _imported:
        return True
    ep = modality_entry_points().get(name)
    if ep is None:
        return False
    _imported.add(name)
    try:
        importlib.import_module(ep.value.split(":", 1)[0])
    except BaseException:
        _imported.discard(name)
        raise
    return True


def load_all() -> None:
    """Import every installed modality once so its registrations run."""
    global _all_loaded
    if _all_loaded:
        return
    _all_loaded = True
    for name in modality_entry_points():
        load_modality(name)


def rescan_modalities() -> None:
    """Look for modalities again (after a package declaring ``genlab.modalities`` was installed or put on the path)."""
    global _all_loaded
    _all_loaded = False


def modality_names() -> list[str]:
    """Names of the installed modalities (``image``, ``text``, …)."""
    return sorted(modality_entry_points())
