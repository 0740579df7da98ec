"""Inference pipelines: one class per task with one ``__call__``."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from genlab.core.model import GenerativeModel
from genlab.core.runs import resolve_model_dir


class Pipeline:
    """Holds a loaded model; subclasses implement ``__call__`` for their task."""

    task: ClassVar[str] = ""

    def __init__(self, model: GenerativeModel):
        self.model = model.eval()

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "cpu") -> Pipeline:
        """Load from a run directory or a model directory."""
        return cls(GenerativeModel.from_pretrained(resolve_model_dir(path), map_location=device))

    @property
    def meta(self) -> dict:
        """``config.json`` of the loaded model (data, steps, versions)."""
        return self.model.provenance.raw

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model.registry_name})"
