"""Constraints on generated rows, listed under ``constraints:`` in a table meta file.

Three kinds, each a mapping with a ``type``:

* ``{"type": "range", "column": c, "low": a, "high": b}`` — values of ``c`` lie in [a, b] (either bound
  may be left out; dates as strings for datetime columns). Enforced by transformation: values are
  clipped into the range (:meth:`ConstraintSet.transform`).
* ``{"type": "inequality", "low": a, "high": b, "strict": false}`` — column ``a`` ≤ column ``b`` (``<``
  when ``strict``), for two numerical/integer columns or two datetime columns. Enforced by rejection.
* ``{"type": "fixed-combinations", "columns": [c1, c2, …]}`` — only the combinations of values of the
  columns seen in the training table (recorded by :meth:`ConstraintSet.fit`, or listed by the user under
  ``combinations``). Enforced by rejection.

Rows with a missing value in a constrained column are not judged by range and inequality constraints
(they are valid); for fixed combinations a missing value is a value like any other.
:meth:`ConstraintSet.valid` gives the mask of rows meeting every constraint, which a sampler uses to
reject the others. A fitted set travels in a model config through :meth:`ConstraintSet.to_dict`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from genlab.core.errors import BadInputError, GenlabError, closest
from genlab.tabular.table import CONTINUOUS_KINDS, TableMeta, category_string, unknown_column

_MISSING_KEY = "\x00"  # stands for a missing value in a combination key
_SEPARATOR = "\x1f"


def _bad_spec(where: str, message: str, hint: str) -> BadInputError:
    return BadInputError(f"{where}: {message}", hint)


class Constraint:
    """A rule on the rows of a table (subclasses: one per ``type``)."""

    type: ClassVar[str]
    #: spec key → required
    keys: ClassVar[dict[str, bool]]

    def columns(self) -> list[str]:
        """The table columns the constraint reads."""
        raise NotImplementedError

    def check(self, meta: TableMeta, where: str) -> None:
        """Raise BadInputError when the columns are unknown or of kinds the constraint cannot handle."""
        for name in self.columns():
            if name not in meta.names():
                err = unknown_column(name, meta.names())
                raise _bad_spec(where, err.message, err.hint or "")

    def fit(self, df: pd.DataFrame) -> None:
        """Record what the constraint needs from the training table (nothing by default)."""

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """``df`` changed to meet the constraint where that is done by transformation (as is by default)."""
        return df

    def valid(self, df: pd.DataFrame) -> np.ndarray:
        """Boolean mask (n,) of the rows meeting the constraint."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError


def _bound(value: Any, datetime: bool) -> Any:
    if value is None:
        return None
    return pd.Timestamp(value) if datetime else float(value)


class RangeConstraint(Constraint):
    """Values of ``column`` lie in [``low``, ``high``]; enforced by clipping."""

    type = "range"
    keys = {"column": True, "low": False, "high": False}

    def __init__(self, column: str, low: Any = None, high: Any = None, where: str = "range constraint"):
        if low is None and high is None:
            raise _bad_spec(where, "a range needs 'low', 'high' or both", "e.g. {type: range, column: age, low: 0}")
        for key, v in (("low", low), ("high", high)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float, str))):
                raise _bad_spec(where, f"'{key}' must be a number or a date, got {v!r}", "write e.g. low: 0")
        self.column, self.low, self.high = column, low, high

    def columns(self) -> list[str]:
        return [self.column]

    def check(self, meta: TableMeta, where: str) -> None:
        super().check(meta, where)
        kind = meta.column(self.column).kind
        if kind not in CONTINUOUS_KINDS:
            raise _bad_spec(
                where, f"column '{self.column}' is {kind}", "ranges apply to numerical, integer or datetime"
            )
        try:
            low, high = (_bound(v, kind == "datetime") for v in (self.low, self.high))
        except (ValueError, TypeError):
            what = "dates" if kind == "datetime" else "numbers"
            raise _bad_spec(where, f"the bounds of '{self.column}' must be {what}", "fix low/high") from None
        if low is not None and high is not None and low > high:
            raise _bad_spec(where, f"low {self.low} is above high {self.high}", "swap them")

    def _bounds(self, s: pd.Series) -> tuple[Any, Any]:
        datetime = pd.api.types.is_datetime64_any_dtype(s)
        return _bound(self.low, datetime), _bound(self.high, datetime)

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        low, high = self._bounds(df[self.column])
        df[self.column] = df[self.column].clip(lower=low, upper=high)
        return df

    def valid(self, df: pd.DataFrame) -> np.ndarray:
        s = df[self.column]
        low, high = self._bounds(s)
        ok = s.isna().to_numpy().copy()
        inside = np.ones(len(s), dtype=bool)
        if low is not None:
            inside &= (s >= low).fillna(False).to_numpy(dtype=bool)
        if high is not None:
            inside &= (s <= high).fillna(False).to_numpy(dtype=bool)
        return ok | inside

    def describe(self) -> str:
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        return f"{self.column} in [{low}, {high}] (clipped)"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "column": self.column, "low": self.low, "high": self.high}


class InequalityConstraint(Constraint):
    """Column ``low`` ≤ column ``high`` (``<`` when ``strict``); enforced by rejection."""

    type = "inequality"
    keys = {"low": True, "high": True, "strict": False}

    def __init__(self, low: str, high: str, strict: bool = False, where: str = "inequality constraint"):
        if not isinstance(strict, bool):
            raise _bad_spec(where, f"'strict' must be true or false, got {strict!r}", "write strict: true")
        if low == high:
            raise _bad_spec(where, f"'low' and 'high' are both '{low}'", "name two different columns")
        self.low, self.high, self.strict = str(low), str(high), strict

    def columns(self) -> list[str]:
        return [self.low, self.high]

    def check(self, meta: TableMeta, where: str) -> None:
        super().check(meta, where)
        kinds = [meta.column(c).kind for c in self.columns()]
        if any(k not in CONTINUOUS_KINDS for k in kinds) or (("datetime" in kinds) and kinds[0] != kinds[1]):
            raise _bad_spec(
                where,
                f"cannot compare '{self.low}' ({kinds[0]}) with '{self.high}' ({kinds[1]})",
                "inequalities apply to two numerical/integer columns or two datetime columns",
            )

    def valid(self, df: pd.DataFrame) -> np.ndarray:
        a, b = df[self.low], df[self.high]
        judged = (a.notna() & b.notna()).to_numpy()
        holds = (a < b) if self.strict else (a <= b)
        return ~judged | holds.fillna(False).to_numpy(dtype=bool)

    def describe(self) -> str:
        return f"{self.low} {'<' if self.strict else '<='} {self.high} (rejection)"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "low": self.low, "high": self.high, "strict": self.strict}


def _combination_keys(df: pd.DataFrame, columns: list[str]) -> pd.Series:
    parts = [df[c].map(lambda v: category_string(v) or _MISSING_KEY).astype(str) for c in columns]
    keys = parts[0]
    for p in parts[1:]:
        keys = keys + _SEPARATOR + p
    return keys


class FixedCombinations(Constraint):
    """Only the combinations of values of ``columns`` seen in the training table; enforced by rejection."""

    type = "fixed-combinations"
    keys = {"columns": True, "combinations": False}
    kinds: ClassVar[tuple[str, ...]] = ("categorical", "boolean", "integer")

    def __init__(self, columns: list[str], combinations: list[list[Any]] | None = None, where: str = ""):
        where = where or "fixed-combinations constraint"
        if not isinstance(columns, list) or len(columns) < 2 or len(set(columns)) != len(columns):
            raise _bad_spec(where, "'columns' must list two or more different columns", "e.g. columns: [city, country]")
        self.names = [str(c) for c in columns]
        self.combinations: set[tuple[str | None, ...]] | None = None
        if combinations is not None:
            if any(not isinstance(c, (list, tuple)) or len(c) != len(columns) for c in combinations):
                raise _bad_spec(where, f"each combination must list {len(columns)} values", "one value per column")
            self.combinations = {tuple(category_string(v) for v in c) for c in combinations}

    def columns(self) -> list[str]:
        return list(self.names)

    def check(self, meta: TableMeta, where: str) -> None:
        super().check(meta, where)
        for c in self.names:
            kind = meta.column(c).kind
            if kind not in self.kinds:
                raise _bad_spec(
                    where, f"column '{c}' is {kind}", "fixed combinations apply to " + ", ".join(self.kinds)
                )

    def fit(self, df: pd.DataFrame) -> None:
        if self.combinations is None:  # combinations listed by the user are kept as given
            rows = df[self.names].drop_duplicates().itertuples(index=False)
            self.combinations = {tuple(category_string(v) for v in row) for row in rows}

    def valid(self, df: pd.DataFrame) -> np.ndarray:
        if self.combinations is None:
            raise GenlabError("a fixed-combinations constraint was used before it was fitted on a table")
        seen = [_SEPARATOR.join(_MISSING_KEY if v is None else v for v in combo) for combo in self.combinations]
        return _combination_keys(df, self.names).isin(set(seen)).to_numpy(dtype=bool)

    def describe(self) -> str:
        count = "not fitted" if self.combinations is None else f"{len(self.combinations)} seen combinations"
        return f"({', '.join(self.names)}) fixed combinations: {count} (rejection)"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "columns": list(self.names)}
        if self.combinations is not None:
            out["combinations"] = [list(c) for c in sorted(self.combinations, key=lambda c: [str(v) for v in c])]
        return out


CONSTRAINT_TYPES: dict[str, type[Constraint]] = {
    c.type: c for c in (RangeConstraint, InequalityConstraint, FixedCombinations)
}


def parse_constraint(spec: Any, index: int | None = None) -> Constraint:
    """Build a constraint from its mapping; BadInputError (naming the closest type or key) when malformed."""
    where = "constraint" + (f" {index + 1}" if index is not None else "")
    if not isinstance(spec, dict):
        raise _bad_spec(where, f"expected a mapping, got {spec!r}", "write e.g. {type: range, column: age, low: 0}")
    kind = spec.get("type")
    if kind not in CONSTRAINT_TYPES:
        guess = closest(str(kind), CONSTRAINT_TYPES)
        hint = (f"did you mean '{guess}'? " if guess else "") + "types: " + ", ".join(CONSTRAINT_TYPES)
        raise _bad_spec(where, f"unknown constraint type {kind!r}", hint)
    cls = CONSTRAINT_TYPES[kind]
    where = f"{where} ({kind})"
    for key in spec:
        if key != "type" and key not in cls.keys:
            guess = closest(str(key), cls.keys)
            hint = (f"did you mean '{guess}'? " if guess else "") + "keys: type, " + ", ".join(cls.keys)
            raise _bad_spec(where, f"unknown key '{key}'", hint)
    for key, required in cls.keys.items():
        if required and spec.get(key) is None:
            raise _bad_spec(where, f"'{key}' is missing", "keys: type, " + ", ".join(cls.keys))
    return cls(**{k: v for k, v in spec.items() if k != "type"}, where=where)


class ConstraintSet:
    """The constraints of a table: checked against its meta, fitted on its training rows, applied to samples."""

    def __init__(self, constraints: list[Constraint] | None = None):
        self.constraints = list(constraints or [])

    def __len__(self) -> int:
        return len(self.constraints)

    def __iter__(self) -> Iterator[Constraint]:
        return iter(self.constraints)

    @classmethod
    def from_specs(cls, specs: list[dict[str, Any]]) -> ConstraintSet:
        """Constraints from their mappings (as listed in a meta file)."""
        return cls([parse_constraint(spec, i) for i, spec in enumerate(specs)])

    @classmethod
    def from_meta(cls, meta: TableMeta) -> ConstraintSet:
        """The constraints listed in ``meta.constraints``."""
        return cls.from_specs(meta.constraints)

    def check_against(self, meta: TableMeta) -> ConstraintSet:
        """Raise BadInputError for unknown columns (naming the closest) or kinds a constraint refuses."""
        for i, c in enumerate(self.constraints):
            c.check(meta, f"constraint {i + 1} ({c.type})")
        return self

    def fit(self, df: pd.DataFrame) -> ConstraintSet:
        """Record what the constraints need from the training table (the seen combinations)."""
        for c in self.constraints:
            c.fit(df)
        return self

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``df`` with the constraints enforced by transformation applied (ranges clipped)."""
        df = df.copy()
        for c in self.constraints:
            df = c.transform(df)
        return df

    def valid(self, df: pd.DataFrame) -> np.ndarray:
        """Boolean mask (n,) of the rows of ``df`` meeting every constraint."""
        mask = np.ones(len(df), dtype=bool)
        for c in self.constraints:
            mask &= c.valid(df)
        return mask

    def describe(self) -> str:
        """One line per constraint, for the console."""
        return "\n".join(c.describe() for c in self.constraints) if self.constraints else "no constraints"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (fitted combinations included)."""
        return {"constraints": [c.to_dict() for c in self.constraints]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConstraintSet:
        """The set saved by :meth:`to_dict`."""
        return cls.from_specs(list(data.get("constraints", [])))
