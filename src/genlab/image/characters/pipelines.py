"""``character/draw``: draw characters with chosen features from a trained character generator.

>>> pipe = genlab.load("runs/character/chars")
>>> pipe(attributes={"sex": "female", "hair_style": "long", "hair_color": "blue", "direction": "south"}, n=8, seed=0)

The request has one optional field per attribute, typed as a ``Literal`` of the attribute's values read
from the layer folder's schema (so the CLI, REST API and studio offer dropdowns); when the folder cannot
be found the fields are left out and ``attributes`` (a mapping) is the way in. Either way the values are
checked against the model's own schema, and a bad name or value raises :class:`BadInputError` listing
the valid ones. Unset attributes are drawn at random from the seed.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

import torch
from pydantic import Field, create_model

from genlab.core.errors import BadInputError, GenlabError
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.core.seeding import make_generator
from genlab.image.io import ImagesOutput, to_pil

TASK = "character"
DIRECTION = "direction"


class CharacterDrawing(Request):
    """Options of ``genlab draw`` common to every schema (the per-attribute fields are added to it)."""

    n: int = Field(8, ge=1, le=256, description="number of characters")
    attributes: dict[str, str] | None = Field(
        None, description="attribute -> value (Python callers)", json_schema_extra={"cli": False, "server": False}
    )
    vary: str | None = Field(None, description="sweep this attribute over all its values, the others fixed per row")
    sheet: bool = Field(False, description="each character in its four directions (a row each)")


def draw_request_class(values: dict[str, list[str]]) -> type[CharacterDrawing]:
    """The request of ``genlab draw`` for an attribute schema (name -> values): one optional ``Literal``
    field per attribute, and ``vary`` limited to the attribute names."""
    fields: dict[str, Any] = {
        a: (Optional[Literal[tuple(v)]], Field(None, description=f"{a}: one of {', '.join(v)}; unset: random"))  # noqa: UP045
        for a, v in values.items()
    }
    names = tuple(values)
    fields["vary"] = (
        Optional[Literal[names]],  # noqa: UP045
        Field(None, description="sweep this attribute over all its values, the others fixed per row"),
    )
    return create_model("CharacterDrawRequest", __base__=CharacterDrawing, __doc__=CharacterDrawing.__doc__, **fields)


class _SchemaRequest:
    """``request_class`` built on first use from the layer folder's schema (the folder is found through
    ``$GENLAB_DATA_DIR`` at that moment); without the folder, the plain :class:`CharacterDrawing`."""

    def __init__(self):
        self.built: type[CharacterDrawing] | None = None

    def __get__(self, obj: Any, owner: type) -> type[CharacterDrawing]:
        if self.built is None:
            try:
                from genlab.image.characters.compose import CharacterLayers

                layers = CharacterLayers.locate()
            except GenlabError:
                return CharacterDrawing
            self.built = draw_request_class({**layers.attributes, DIRECTION: list(layers.directions)})
        return self.built


@register_pipeline("character/draw")
class CharacterDrawPipeline(Pipeline):
    """``pipe(attributes={...}, n=8, seed=0)`` -> list of PIL images (a tensor with ``output_type="pt"``)."""

    task = TASK
    verb = "draw"
    description = "draw game characters with chosen features (unset ones random), sweep one, or a 4-direction sheet"
    request_class = _SchemaRequest()  # type: ignore[assignment]
    output_class = ImagesOutput

    def chosen(self, request: CharacterDrawing) -> dict[str, str]:
        """The attributes a request fixes: its ``attributes`` mapping, then the per-attribute fields."""
        chosen = dict(request.attributes or {})
        extra = set(type(request).model_fields) - set(CharacterDrawing.model_fields)
        chosen.update({a: getattr(request, a) for a in extra if getattr(request, a) is not None})
        schema = self.model.schema
        for a, v in chosen.items():
            schema.index(a, v)  # unknown names and values raise with the valid ones
        return chosen

    @torch.no_grad()
    def run(self, request: CharacterDrawing) -> ImagesOutput:
        schema, n = self.model.schema, request.n
        chosen = self.chosen(request)
        g = make_generator(request.seed)
        labels = schema.labels(n, chosen, g)  # (n, A)
        z = self.model.sample_latent(n, g)  # (n, L)
        columns = None
        if request.vary is not None and request.sheet:
            raise BadInputError("--vary and --sheet cannot be combined", "give one of them")
        if request.vary is not None:
            columns = self._sweep(request.vary)
        elif request.sheet:
            if DIRECTION not in schema.attributes:
                raise BadInputError(f"{self.model.registry_name} does not condition on direction", "drop --sheet")
            columns = self._sweep(DIRECTION)
        if columns is not None:
            j, k = columns
            labels = labels.repeat_interleave(k, dim=0)  # (n, A) -> (n·k, A): each character k times
            labels[:, j] = torch.arange(k).repeat(n)
            labels = schema.switch_off(labels)
            z = z.repeat_interleave(k, dim=0)
        images = self.model.decode(z, labels).clamp(-1, 1).cpu()
        nrow = columns[1] if columns else min(n, 8)
        return ImagesOutput(images, nrow=nrow, scale=2 if self.model.config.image_size <= 32 else 1)

    def resolved(self, request: CharacterDrawing) -> list[dict[str, str | None]]:
        """The full attribute set of each of the ``n`` characters ``request`` draws (before ``vary``/``sheet``
        repeat them): the chosen values and the seed's draws of the others; None where an attribute does not
        apply. Drawn from a fresh generator of the request's seed, the same draws :meth:`run` makes first."""
        schema = self.model.schema
        labels = schema.labels(request.n, self.chosen(request), make_generator(request.seed))
        return [
            {a: (schema.values[a][int(v)] if v >= 0 else None) for a, v in zip(schema.attributes, row, strict=True)}
            for row in labels.tolist()
        ]

    def _sweep(self, attribute: str) -> tuple[int, int]:
        """(column, number of values) of the attribute swept across a row."""
        schema = self.model.schema
        if attribute not in schema.attributes:
            raise BadInputError(
                f"cannot vary unknown attribute '{attribute}'", "attributes: " + ", ".join(schema.attributes)
            )
        return schema.attributes.index(attribute), len(schema.values[attribute])

    def default_filename(self, request: CharacterDrawing) -> str:
        return f"draw-seed{request.seed}.png"

    def __call__(
        self,
        attributes: dict[str, str] | None = None,
        n: int = 8,
        seed: int | None = None,
        vary: str | None = None,
        sheet: bool = False,
        output_type: Literal["pil", "pt"] = "pil",
    ):
        """Draw ``n`` characters with the ``attributes`` given (name -> value; the others random from
        ``seed``); ``vary`` sweeps one attribute over its values, ``sheet`` shows the four directions."""
        out = self.run(self.request(attributes=attributes, n=n, seed=seed, vary=vary, sheet=sheet))
        return out.images if output_type == "pt" else to_pil(out.images)
