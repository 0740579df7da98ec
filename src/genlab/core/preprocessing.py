"""Preprocessors that travel with the model: fitted on the training data, saved in its config.

A preprocessor turns a modality's raw data into model inputs and model outputs back into
data: a text tokenizer today, an audio feature extractor with its statistics or a tabular
schema later. It is fitted on the training split, serialises to a JSON dict
(:meth:`Preprocessor.to_dict`) stored inside the model's ``config.json``, and is rebuilt
from that dict (:meth:`Preprocessor.from_dict`) when the model loads, so a saved model
always decodes its own outputs and nothing is ever unpickled.

Preprocessor classes register in :data:`~genlab.core.registry.PREPROCESSORS` under
``<modality>/<kind>`` (``text/char``, ``text/bpe``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from genlab.core.registry import PREPROCESSORS


class Preprocessor:
    """Base of the preprocessors saved with a model; ``kind`` names the flavour within its modality."""

    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible description from which :meth:`from_dict` rebuilds an equal preprocessor."""
        raise NotImplementedError

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessor:
        """Rebuild from :meth:`to_dict` output."""
        raise NotImplementedError


def register_preprocessor(modality: str):
    """Class decorator: register a preprocessor class under ``<modality>/<its kind>``."""

    def deco(cls: type[Preprocessor]) -> type[Preprocessor]:
        return PREPROCESSORS.register(f"{modality}/{cls.kind}")(cls)

    return deco
