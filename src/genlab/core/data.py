"""Data contracts shared by the modalities: the registered dataset spec and the info on loaded data.

Every named dataset (``builtin:digits``, ``mnist``, ``builtin:tinyshakespeare``, …) is a
:class:`DatasetSpec` in :data:`~genlab.core.registry.DATASETS`, so the CLI, API and studio
can list datasets of one modality (``DATASETS.names(modality="image")``) with their splits,
description and license without importing the modality's loading code. Loading data yields a :class:`DataInfo`
subclass of the modality, written to the run (``data.json``) and into the saved model.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genlab.core.errors import DataError
from genlab.core.registry import DATASETS

if TYPE_CHECKING:
    from genlab.core.preprocessing import Preprocessor


@dataclass
class DatasetSpec:
    """A registered dataset: what it is, where it may be used, and the function that loads it.

    ``loader``'s arguments and result belong to the modality (image datasets take
    ``(split, data_dir, download)`` and return raw arrays; text datasets take the data config
    and return a corpus); calling the spec calls it. ``splits`` are the split names the loader
    accepts, the first being the default, and are empty for one corpus that genlab splits
    itself. ``extras`` holds facts only one modality uses (``native_size`` for images).
    """

    name: str
    modality: str
    loader: Callable[..., Any]
    splits: tuple[str, ...] = ()
    description: str = ""
    license: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Load the dataset (arguments as the modality's loaders take them)."""
        return self.loader(*args, **kwargs)

    def check_split(self, split: str | None) -> str:
        """``split``, or the default split when None; an unknown split raises :class:`DataError`."""
        if not self.splits:
            raise DataError(f"dataset '{self.name}' has no named splits", f"write just {self.name}")
        split = split or self.splits[0]
        if split not in self.splits:
            raise DataError(
                f"dataset '{self.name}' has no split '{split}'",
                f"its splits are: {', '.join(self.splits)} (write e.g. {self.name}:{self.splits[0]})",
            )
        return split


def parse_source(source: str) -> tuple[str, str | None]:
    """Split ``name:split`` when ``name`` is a registered dataset; anything else is ``(source, None)``."""
    if source in DATASETS:
        return source, None
    head, _, tail = source.rpartition(":")
    if head and tail and head in DATASETS:
        return head, tail
    return source, None


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Register ``spec`` in :data:`DATASETS` under its name; returns it."""
    return DATASETS.register(spec.name)(spec)


def first_line(doc: str | None) -> str:
    """The first line of a docstring (a loader's one-line description), or ''."""
    return (doc or "").strip().split("\n", 1)[0].strip()


class DataInfo:
    """What a modality's loader reports about the data it loaded; each modality subclasses it as a dataclass.

    Every data info has ``source`` (the dataset name, file or folder the user gave) and
    ``skipped`` (unreadable items, one "path: reason" each); the subclass declares them
    among its own fields, in the order ``data.json`` lists them. :meth:`to_dict` is what is
    written to the run and into the saved model's ``config.json`` (``data``).
    """

    source: str
    skipped: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible copy of every field, except those declared with ``metadata={"saved": False}``."""
        return {
            f.name: copy.deepcopy(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]  (subclasses are dataclasses)
            if f.metadata.get("saved", True)
        }

    @property
    def preprocessor(self) -> Preprocessor | None:
        """The preprocessor fitted on this data that travels with the model (a tokenizer), if any."""
        return None
