"""How a table becomes a float matrix: the spans of the encoded columns.

:class:`~genlab.tabular.transform.TableTransformer` turns a table into a matrix (rows, width) whose
columns come in *spans*, one or more per table column. The neural models read only the spans, never
the table, so they work on any table:

* ``kind="alpha"`` (width 1): a continuous value, scaled to about [-1, 1] (the within-mode offset of
  mode-specific normalisation, or a quantile-normal / standardised value). Networks emit it with ``tanh``
  (``bounded``) or as is.
* ``kind="softmax"`` (width ≥ 1): a one-hot block. ``role`` says what it encodes: ``"category"`` (the
  categories of a categorical/boolean column), ``"mode"`` (the mixture component of a numerical column)
  or ``"missing"`` (a present/missing indicator of a column with missing values, width 2: [present,
  missing]). Networks emit it with a softmax (Gumbel-softmax in CTGAN).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

SpanKind = Literal["alpha", "softmax"]
SpanRole = Literal["value", "mode", "category", "missing"]


@dataclass(frozen=True)
class Span:
    """Encoded columns ``start : start + width`` of table column ``column``."""

    column: str
    kind: SpanKind
    role: SpanRole
    start: int
    width: int
    #: alpha spans only: the value lies in [-1, 1] (emit through tanh); False: unbounded (standard normal)
    bounded: bool = True

    @property
    def stop(self) -> int:
        return self.start + self.width

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Span:
        return cls(**data)


def spans_from_dicts(items: list[dict[str, Any]]) -> list[Span]:
    """Spans from their JSON form (as stored in a model config)."""
    return [Span.from_dict(d) for d in items]


def spans_width(spans: list[Span]) -> int:
    """Width of the encoded matrix the spans cover."""
    return max((s.stop for s in spans), default=0)
