"""How a table becomes a float matrix: the spans of the encoded columns.

:class:`~genlab.tabular.transform.TableTransformer` turns a table into a matrix (rows, width) whose
columns come in *spans*, one or more per table column. The neural models read only the spans, never
the table, so they work on any table:

* ``kind="alpha"`` (width 1): a continuous value, scaled to about [-1, 1] (the within-mode offset of
  mode-specific normalisation, or a quantile-normal / standardised value). Networks emit it with ``tanh``
  (``bounded``) or as is.
* ``kind="softmax"`` (width ≥ 1): a one-hot block. ``role`` says what it encodes: ``"category"`` (the
  categories of a categorical/boolean column), ``"mode"`` (the mixture component of a numerical column)
  ``"missing"`` (a present/missing indicator of a column with missing values, width 2: [present,
  missing]) or ``"spike"`` (whether a number is its column's dominant value, width 2: [other, spike];
  TabDDPM's quantile encoding). Networks emit it with a softmax (Gumbel-softmax in CTGAN).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

SpanKind = Literal["alpha", "softmax"]
SpanRole = Literal["value", "mode", "category", "missing", "spike"]


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


def check_layout(spans: list[Span], data_dim: int, who: str) -> None:
    """Refuse spans that do not tile the encoded row ``[0, data_dim)`` in order (alphas 1 wide) with a ConfigError."""
    from genlab.core.errors import ConfigError

    if not spans:
        raise ConfigError(
            f"{who} has no encoded columns (spans is empty, data_dim={data_dim})",
            "train it through the tabular task, which fills data_dim and spans from the table",
        )
    stop = 0
    for span in spans:
        if span.start != stop or span.width < 1 or (span.kind == "alpha" and span.width != 1):
            raise ConfigError(
                f"{who}: the spans do not tile the encoded row (at column {span.column!r}, start {span.start})",
                "data_dim and spans are set from the data by the tabular task; do not edit them by hand",
            )
        stop = span.stop
    if stop != data_dim:
        raise ConfigError(
            f"{who}: data_dim={data_dim} does not match the spans (width {stop})",
            "data_dim and spans come from the same fitted transformer; do not edit them by hand",
        )
