"""The studio's character page without widgets: pick features, draw candidates, lock one, vary one attribute, export.

Everything goes through a character model's ``character/draw`` pipeline (:mod:`genlab.image.characters.pipelines`):
a candidate is one character drawn with ``n=1`` and its own seed, so the pipeline redraws it exactly from
(chosen features, seed). Fixing an attribute leaves the seed's draws of the others alone, so *varying* a locked
candidate's attribute (``vary=…``) keeps everything else, and picking one of the variants locks that variant: the
same seed with one more feature chosen. Exports are the candidate as a PNG (native pixels) and, for models
conditioned on direction, its four facing directions side by side as a sprite sheet (``sheet=True``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genlab.core.errors import BadInputError
from genlab.serve.store import ModelStore

PIPELINE = "character/draw"  # the registered pipeline the page drives
MAX_CANDIDATES = 16
ANY = "(any)"  # the menu entry that leaves a feature to the seed


@dataclass
class Candidate:
    """One drawn character: enough to draw it again (``chosen`` + ``seed``), its full attribute set, its picture."""

    seed: int
    chosen: dict[str, str]  # the features fixed by the user
    attributes: dict[str, str | None]  # every attribute's value (None: does not apply)
    image: Path  # PNG at the model's pixel size

    def caption(self, keys: list[str] | None = None) -> str:
        """``seed 3 · hair_color=blue, …`` for ``keys`` (default: every attribute that applies)."""
        keys = keys or [a for a, v in self.attributes.items() if v is not None]
        return f"seed {self.seed} · " + ", ".join(f"{a}={self.attributes[a]}" for a in keys)

    def to_state(self) -> dict[str, Any]:
        return {"seed": self.seed, "chosen": dict(self.chosen), "attributes": dict(self.attributes),
                "image": str(self.image)}  # fmt: skip

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Candidate:
        return cls(state["seed"], dict(state["chosen"]), dict(state["attributes"]), Path(state["image"]))


@dataclass
class CharacterDesigner:
    """The character page's actions over the character models of ``store``; pictures go under ``workdir``."""

    store: ModelStore
    workdir: Path

    def models(self) -> list[str]:
        """Names of the served models of the task the ``character/draw`` pipeline serves (after a rescan)."""
        from genlab.core.registry import PIPELINES

        task = PIPELINES.get(PIPELINE).task
        self.store.refresh()
        return [name for name, entry in sorted(self.store.entries.items()) if entry.task == task]

    def _pipe(self, model: str) -> Any:
        entry = self.store.get(model or "")
        if entry is None:
            from genlab.core.errors import unknown_name

            raise unknown_name("character model", model, self.models())
        return self.store.pipeline(entry, "draw")

    def menus(self, model: str) -> dict[str, list[str]]:
        """Attribute -> its values, in the model's order (the page's feature menus)."""
        schema = self._pipe(model).model.schema
        return {a: list(schema.values[a]) for a in schema.attributes}

    @staticmethod
    def chosen(values: dict[str, Any]) -> dict[str, str]:
        """Menu values -> the fixed features (``(any)``, empty and None leave a feature to the seed)."""
        return {a: str(v) for a, v in values.items() if v not in (None, "", ANY)}

    def _folder(self) -> Path:
        folder = self.workdir / "characters" / f"{time.time_ns()}-{uuid.uuid4().hex[:6]}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _draw(self, pipe: Any, chosen: dict[str, str], seed: int, **options: Any) -> tuple[Any, Any]:
        request = pipe.request(attributes=chosen or None, n=1, seed=seed, **options)
        return request, pipe.run(request)

    def candidates(self, model: str, chosen: dict[str, str], seed: int = 0, n: int = 4) -> list[Candidate]:
        """``n`` characters with the ``chosen`` features, seeds ``seed … seed+n−1`` (the others drawn per seed)."""
        if not 1 <= int(n) <= MAX_CANDIDATES:
            raise BadInputError(f"{n} candidates asked for", f"draw 1 to {MAX_CANDIDATES} at a time")
        pipe, folder, out = self._pipe(model), self._folder(), []
        for s in range(int(seed), int(seed) + int(n)):
            request, output = self._draw(pipe, chosen, s)
            image = output.pil()[0]
            path = folder / f"seed{s}.png"
            image.save(path)
            out.append(Candidate(s, dict(chosen), pipe.resolved(request)[0], path))
        return out

    def vary(self, model: str, locked: Candidate, attribute: str) -> list[Candidate]:
        """The ``locked`` character with ``attribute`` set to each of its values, everything else kept."""
        pipe, folder = self._pipe(model), self._folder()
        schema = pipe.model.schema
        if attribute not in schema.attributes:
            raise BadInputError(f"unknown attribute '{attribute}'", "attributes: " + ", ".join(schema.attributes))
        chosen = {a: v for a, v in locked.chosen.items() if a != attribute}
        _, output = self._draw(pipe, chosen, locked.seed, vary=attribute)
        out = []
        for value, image in zip(schema.values[attribute], output.pil(), strict=True):
            path = folder / f"seed{locked.seed}-{attribute}-{value}.png"
            image.save(path)
            picked = {**chosen, attribute: value}
            request = pipe.request(attributes=picked, n=1, seed=locked.seed)
            out.append(Candidate(locked.seed, picked, pipe.resolved(request)[0], path))
        return out

    def export_png(self, model: str, locked: Candidate, scale: int = 1) -> Path:
        """The locked character as a PNG (``scale``: nearest-neighbour enlargement, pixel art stays sharp)."""
        from PIL import Image

        if not 1 <= int(scale) <= 16:
            raise BadInputError(f"scale {scale}", "give 1 to 16")
        _, output = self._draw(self._pipe(model), locked.chosen, locked.seed)
        image = output.pil()[0]
        if scale > 1:
            image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
        path = self._folder() / f"character-seed{locked.seed}.png"
        image.save(path)
        return path

    def export_sheet(self, model: str, locked: Candidate) -> Path:
        """The locked character facing each direction, side by side in one PNG (a sprite sheet); the pipeline
        refuses models not conditioned on direction."""
        _, output = self._draw(self._pipe(model), locked.chosen, locked.seed, sheet=True)
        path = self._folder() / f"character-seed{locked.seed}-sheet.png"
        return _strip(output.pil(), path)


def _strip(images: list[Any], path: Path) -> Path:
    """``images`` (same size) side by side with no border, saved to ``path``."""
    from PIL import Image

    w, h = images[0].size
    sheet = Image.new("RGB", (w * len(images), h))
    for i, image in enumerate(images):
        sheet.paste(image, (i * w, 0))
    sheet.save(path)
    return path
