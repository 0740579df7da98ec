"""Drawing synthetic rows that meet conditions and constraints.

A condition is written ``column OP value`` with OP one of ``= != < <= > >=``, several joined by commas:
``"sex=Female,age>60"``. ``=`` on a categorical column is passed to models that condition natively (CTGAN's
conditional vector, TabDDPM's fixed columns) and checked on the rows like every other condition: rows that
miss one are rejected and more are drawn, up to ``max_draws`` batches; a condition met too rarely raises an
error saying how many rows met it, instead of looping for ever. Constraints of the table's metadata are
applied the same way (ranges by clipping, the others by rejection).

**Stratified draws** (``stratify="income"``) keep the training table's shares of a categorical column
exactly: the ``n`` rows are split over its categories in proportion to their training counts (largest
remainders), each part is drawn conditioned on its category, and the parts are shuffled together. This is
how TabDDPM samples for classification (the label drawn from its training distribution, the rest of the
row conditioned on it; Kotelnikov et al. 2023, §3): a model's p(x | y) is often sharper than the y its
joint draws imply, which is what a downstream classifier trained on the rows needs.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from genlab.core.errors import BadInputError, closest

OPS = {"<=": operator.le, ">=": operator.ge, "!=": operator.ne, "=": operator.eq, "<": operator.lt, ">": operator.gt}
CONDITION = re.compile(r"^\s*(?P<column>.+?)\s*(?P<op><=|>=|!=|==|=|<|>)\s*(?P<value>.*?)\s*$")
CONTINUOUS = ("numerical", "integer", "datetime")


@dataclass(frozen=True)
class Condition:
    column: str
    op: str
    value: object

    def mask(self, table: pd.DataFrame) -> np.ndarray:
        """Rows of ``table`` meeting the condition (missing values never do, except for ``column = None``: missing)."""
        col = table[self.column]
        if self.value is None and self.op == "=":
            return col.isna().to_numpy()
        present = col.notna().to_numpy()
        out = np.zeros(len(table), dtype=bool)
        if present.any():
            out[present] = np.asarray(OPS[self.op](col[present], self.value), dtype=bool)
        return out

    def __str__(self) -> str:
        return f"{self.column}{self.op}{self.value}"


def parse_conditions(text: str | None, meta) -> list[Condition]:
    """Conditions of ``text`` (``"sex=Female,age>60"``) checked against the table's metadata."""
    if not text or not text.strip():
        return []
    kinds = meta.kinds()
    out = []
    for part in text.split(","):
        match = CONDITION.match(part)
        if not match or not match["value"]:
            raise BadInputError(
                f"cannot read the condition '{part.strip()}'", "write column=value or column>number, joined by commas"
            )
        column, op, raw = match["column"], match["op"].replace("==", "="), match["value"]
        if column not in kinds:
            guess = closest(column, list(kinds))
            raise BadInputError(
                f"no column '{column}' in the table" + (f"; did you mean '{guess}'?" if guess else ""),
                "columns: " + ", ".join(kinds),
            )
        out.append(Condition(column, op, _value(meta.column(column), op, raw)))
    return out


def _value(column, op: str, raw: str) -> object:
    kind = column.kind
    if kind in ("numerical", "integer"):
        try:
            return float(raw)
        except ValueError:
            raise BadInputError(
                f"'{raw}' is not a number ({column.name} is {kind})", f"e.g. {column.name}>40"
            ) from None
    if kind == "datetime":
        try:
            return pd.Timestamp(raw)
        except (ValueError, TypeError):
            raise BadInputError(f"'{raw}' is not a date", f"e.g. {column.name}>=2020-01-01") from None
    if op not in ("=", "!="):
        raise BadInputError(f"{column.name} is {kind}: only = and != apply", f"e.g. {column.name}={raw}")
    if kind == "boolean":
        spelled = raw.strip().lower()
        if spelled not in ("true", "false", "1", "0", "yes", "no"):
            raise BadInputError(f"'{raw}' is not true/false", f"e.g. {column.name}=true")
        return spelled in ("true", "1", "yes")
    categories = [str(c) for c in (column.categories or [])]
    if categories and raw not in categories:
        guess = closest(raw, categories)
        raise BadInputError(
            f"'{raw}' is not a category of {column.name}" + (f"; did you mean '{guess}'?" if guess else ""),
            f"{column.name} takes: " + ", ".join(categories[:20]) + (" …" if len(categories) > 20 else ""),
        )
    return raw


def native_conditions(model, conditions: list[Condition]) -> list[tuple[str, int]]:
    """The equality conditions on categorical columns, as (column, category index) for the model."""
    if not model.conditions_natively:
        return []
    categorical = {s.column for s in model.spans if s.role == "category"}
    out = []
    for c in conditions:
        if c.op == "=" and c.column in categorical:
            out.append((c.column, model.transformer.category_index(c.column, c.value)))
    return out


def strata(model, column: str, n: int) -> list[tuple[object, int]]:
    """(category value, rows) of a stratified draw of ``n`` rows: the training shares of ``column``'s categories
    (missing as None), rounded by largest remainders so the rows add up to ``n``."""
    values = model.transformer.category_values(column)
    counts = model.config.category_counts.get(column)
    if counts is None or len(counts) != len(values):
        raise BadInputError(
            f"{model.registry_name} has no training counts of '{column}' to stratify on",
            "fit the model again with this genlab version (the counts are recorded at fit)",
        )
    total = sum(counts)
    exact = np.array(counts, dtype=float) * n / max(total, 1)
    rows = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - rows), kind="stable")[: n - int(rows.sum())]:
        rows[i] += 1
    return [(v, int(k)) for v, k in zip(values, rows, strict=True) if k]


def draw_rows(
    model,
    n: int,
    seed: int | None = None,
    conditions: list[Condition] | None = None,
    constraints=None,
    batch_size: int | None = None,
    max_draws: int = 100,
    stratify: str | None = None,
) -> tuple[pd.DataFrame, dict]:
    """``n`` rows meeting every condition and constraint, and how many were drawn to get them; with ``stratify``
    a categorical column whose training shares the rows keep (module docstring).

    Rows are drawn in batches (``batch_size``, default ``max(n, 1000)`` capped at 100,000) until ``n`` are
    kept; after ``max_draws`` batches without enough rows a :class:`BadInputError` names the acceptance rate.
    """
    conditions = conditions or []
    generator = torch.Generator().manual_seed(int(seed if seed is not None else torch.seed() % 2**63))
    if stratify is None:
        parts = [_draw(model, n, generator, conditions, constraints, batch_size, max_draws)]
    else:
        if any(c.column == stratify for c in conditions):
            raise BadInputError(
                f"'{stratify}' is both stratified and conditioned on", "drop the condition or the stratification"
            )
        parts = [
            _draw(
                model, k, generator, [*conditions, Condition(stratify, "=", value)], constraints, batch_size, max_draws
            )  # fmt: skip
            for value, k in strata(model, stratify, n)
        ]
    table = pd.concat([p[0] for p in parts], ignore_index=True)
    drawn, draws = sum(p[1] for p in parts), sum(p[2] for p in parts)
    if stratify is not None:  # the strata one after the other would order the rows: shuffle them together
        order = torch.randperm(len(table), generator=generator).numpy()
        table = table.iloc[order].reset_index(drop=True)
    ids = [c for c, kind in model.transformer.meta.kinds().items() if kind == "identifier"]
    if ids and draws > 1:  # every batch numbers its identifiers from the start: number the rows once
        fresh = model.transformer.inverse_transform(np.zeros((n, model.config.data_dim), dtype=np.float32))
        table[ids] = fresh[ids].to_numpy()
    record = {"rows": n, "drawn": drawn, "batches": draws, "acceptance": round(n / drawn, 6) if drawn else 1.0}
    return table, record | ({"stratified_on": stratify} if stratify else {})


def _draw(model, n, generator, conditions, constraints, batch_size, max_draws) -> tuple[pd.DataFrame, int, int]:
    """(``n`` rows meeting the conditions and constraints, rows drawn, batches drawn)."""
    native = native_conditions(model, conditions)
    batch = batch_size or min(max(n, 1000), 100_000)
    kept: list[pd.DataFrame] = []
    have = drawn = draws = 0
    while have < n:
        if draws >= max_draws:
            met = f"{have} of {drawn:,} rows drawn ({have / max(drawn, 1):.4%})"
            wanted = ", ".join(str(c) for c in conditions) or "the table's constraints"
            raise BadInputError(
                f"could not draw {n} rows meeting {wanted}: {met} after {draws} batches",
                "ask for fewer rows, loosen the condition, or check that the training data has such rows",
            )
        rows = model.sample_table(batch, generator, native or None)
        drawn += len(rows)
        draws += 1
        if constraints is not None:
            rows = constraints.transform(rows)
        ok = np.ones(len(rows), dtype=bool)
        for c in conditions:
            ok &= c.mask(rows)
        if constraints is not None:
            ok &= constraints.valid(rows)
        rows = rows[ok]
        kept.append(rows)
        have += len(rows)
    return pd.concat(kept, ignore_index=True).iloc[:n].reset_index(drop=True), drawn, draws
