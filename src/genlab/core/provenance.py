"""Where a loaded model comes from: the record its ``config.json`` keeps.

:meth:`GenerativeModel.from_pretrained <genlab.core.model.GenerativeModel.from_pretrained>`
sets ``model.provenance`` from the saved ``config.json``: the data the model was trained on
(the modality's data info, ``DataInfo.to_dict()``), the optimizer steps taken, the genlab
version that saved it and the sha256 of its weights file. A model that was built, not
loaded, has an empty provenance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Provenance:
    """The training record of a saved model; every field is empty for a model never saved.

    ``data``: what the training data loader reported (``source``, split, sizes, …);
    ``steps``: optimizer steps (batches) of training, 0 for closed-form fits;
    ``genlab_version``: the version that wrote the checkpoint; ``weights_sha256``: hex
    digest of ``model.safetensors``; ``raw``: the whole ``config.json`` as read.
    """

    data: dict[str, Any] = field(default_factory=dict)
    steps: int | None = None
    genlab_version: str | None = None
    weights_sha256: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Provenance:
        """Read the fields from a saved model's ``config.json`` (missing keys stay empty)."""
        return cls(
            data=dict(meta.get("data") or {}),
            steps=meta.get("steps"),
            genlab_version=meta.get("genlab_version"),
            weights_sha256=meta.get("weights_sha256"),
            raw=meta,
        )
