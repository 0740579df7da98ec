"""Anonymisation of a table: k-anonymity and l-diversity by full-domain generalisation, keyed pseudonyms.

``genlab anonymize patients.csv --k 5 --quasi age,zip,sex --drop name,ssn --out anon.csv``

* **Quasi-identifiers** (age, zip, sex, …) are generalised along a hierarchy per column
  (:func:`build_hierarchy`): numbers → intervals of doubling width aligned on multiples of the width
  (base width = range/64 rounded up to 1, 2 or 5 × 10^e, at least 1 for integer columns), dates → day
  → month → quarter → year → decade, digit codes such as zip codes → trailing characters masked
  (``12345`` → ``1234*`` → ``123**``), other categories → a user hierarchy or straight to ``*``. Every
  level is a coarsening of the one below (the search relies on it) and every hierarchy ends in ``*``;
  levels that would merge no values are left out.
* **Search** (Samarati 2001, "Protecting respondents' identities in microdata release"; LeFevre,
  DeWitt & Ramakrishnan 2005, "Incognito: efficient full-domain k-anonymity"): over the lattice of
  per-column levels, find the node of least information loss where, after suppressing (removing) the
  rows of classes smaller than k — or with fewer than l distinct sensitive values (distinct
  l-diversity, Machanavajjhala et al. 2007) — at most ``max_suppression`` of the rows, every
  remaining equivalence class has ≥ k rows. The search is bottom-up breadth first by height: only
  successors of failing nodes are visited (monotonicity: a generalisation of a satisfying node
  satisfies too, so it is never minimal), and a node whose loss exceeds the best satisfying node
  found so far is skipped with its whole up-set (branch and bound; the loss grows along every edge).
* **Information loss** (what is minimised): the mean normalised generalisation level,
  ``(1/m) Σ_j level_j / height_j`` (one minus Sweeney's 2002 precision metric), 0 for the original
  values and 1 when every quasi-identifier is ``*``; ties go to the lower discernibility metric
  ``Σ_E |E|² + |S|·n`` (Bayardo & Agrawal 2005; S the suppressed rows), which is reported too.
* **Pseudonyms**: HMAC-SHA256 (RFC 2104) of the value's string form under a secret key, shown as the
  column name and the first 16 hex digits (``ssn_3fa1…``): stable under one key, unlinkable without it.

Speed: the table is first reduced to its distinct (quasi-identifier, sensitive) code combinations with
counts; a lattice node is scored by mapping those integer codes up their hierarchies, combining them into
one class id and counting with ``bincount`` — the cost is (nodes scored) × (distinct combinations), not
rows. Measured on a 2-core CPU with age/zip/sex/date: 300 rows, lattice of 384 nodes, 280 scored: 0.02 s
(0.03 s with l-diversity); 32 561 rows (Adult-sized): 0.15 s (0.3 s with l = 3). The lattice grows as the
product of the hierarchy heights, so with six or more tall quasi-identifiers ``max_nodes`` bounds the
search and the report's ``optimal`` says whether it was exhaustive.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
import re
import secrets
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from genlab.core.config import Config
from genlab.core.errors import BadInputError, DataError, closest

SUPPRESSED = "*"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")


class AnonymizeConfig(Config):
    """What to anonymise and how strongly."""

    k: int = Field(
        5, ge=2, le=1_000_000, description="each released row shares its quasi-identifiers with ≥ k-1 others"
    )
    quasi: list[str] = Field(min_length=1, description="quasi-identifier columns to generalise (e.g. age, zip, sex)")
    drop: list[str] = Field(default_factory=list, description="columns removed from the output (names, ids)")
    pseudonymize: list[str] = Field(default_factory=list, description="identifier columns replaced by keyed pseudonyms")
    sensitive: list[str] = Field(default_factory=list, description="sensitive columns kept l-diverse (needs l)")
    l: int | None = Field(None, ge=2, le=10_000, description="≥ l distinct sensitive values per class")  # noqa: E741
    max_suppression: float = Field(0.05, ge=0.0, le=1.0, description="fraction of rows that may be removed")
    key: str | None = Field(None, min_length=1, repr=False, description="pseudonym secret; random when unset")
    hierarchies: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict,
        description="generalisation hierarchies of categorical quasi-identifiers: column -> value -> coarser labels",
    )
    max_nodes: int = Field(20_000, ge=1, le=10_000_000, description="most lattice nodes the search evaluates")

    @field_validator("quasi", "drop", "pseudonymize", "sensitive")
    @classmethod
    def _no_repeats(cls, names: list[str]) -> list[str]:
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"column listed twice: {', '.join(repeated)}")
        return names

    @model_validator(mode="after")
    def _l_with_sensitive(self) -> AnonymizeConfig:
        if self.l is not None and not self.sensitive:
            raise ValueError("l-diversity needs the sensitive columns: set sensitive")
        if self.sensitive and self.l is None:
            raise ValueError("sensitive columns need l (distinct values per class), e.g. l=2")
        return self


@dataclass
class AnonymizeResult:
    """The anonymised table and what was done to it."""

    table: pd.DataFrame
    report: dict[str, Any]


# ----------------------------------------------------------------------------------------------- hierarchies


@dataclass
class Hierarchy:
    """Generalisation levels of one column: ``codes`` (n,) gives each row's distinct-value index u (the last
    index stands for missing), ``labels[level][u]`` its label at a level (None: missing) and ``maps[level][u]``
    the integer class of that label; level 0 is the value itself, the last level ``*``."""

    column: str
    kind: str
    names: list[str]
    labels: list[np.ndarray]
    maps: list[np.ndarray]
    codes: np.ndarray

    @property
    def height(self) -> int:
        """Index of the top level (``*``)."""
        return len(self.names) - 1

    def generalise(self, level: int) -> np.ndarray:
        """Labels (n,) object array of the column's rows at ``level``."""
        return self.labels[level][self.codes]


def build_hierarchy(series: pd.Series, user: dict[str, list[str]] | None = None) -> Hierarchy:
    """The generalisation hierarchy of a column (see the module docstring for the rules per kind)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    codes = np.where(codes < 0, len(uniques), codes).astype(np.int64)  # missing is one more distinct value
    values = pd.Series(uniques, dtype=uniques.dtype) if len(uniques) else pd.Series([], dtype=object)
    if user is not None:
        kind, names, levels = "user", *_user_levels(series.name, values, user)
    elif pd.api.types.is_datetime64_any_dtype(series.dtype) or _is_iso_date_text(values):
        kind, names, levels = "date", *_date_levels(values)
    elif pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        kind, names, levels = "numeric", *_numeric_levels(values)
    elif _is_digit_code(values):
        kind, names, levels = "mask", *_mask_levels(values)
    else:
        kind, names, levels = "categorical", ["value"], [[_value_str(v) for v in values]]
    labels = [np.array([*lv, None], dtype=object) for lv in levels]  # the last entry stands for missing
    names, labels = [*names, SUPPRESSED], [*labels, np.full(len(values) + 1, SUPPRESSED, dtype=object)]
    return _deduplicate(str(series.name), kind, names, labels, codes)


def _deduplicate(column: str, kind: str, names: list[str], labels: list[np.ndarray], codes: np.ndarray) -> Hierarchy:
    """Integer classes per level; drop inner levels that merge nothing; refuse levels that split a class."""
    maps = [pd.factorize(lab, use_na_sentinel=False)[0].astype(np.int64) for lab in labels]
    keep, used = [0], np.unique(codes)  # classes are counted over the values present (the missing slot may not be)
    for i in range(1, len(maps)):
        prev = maps[keep[-1]]
        pairs = len(np.unique(prev * (maps[i].max() + 1) + maps[i]))
        if pairs != prev.max() + 1:
            raise BadInputError(
                f"the hierarchy of column '{column}' is not nested at level '{names[i]}'",
                "values sharing a label at one level must share their label at every coarser level",
            )
        n_prev, n_classes = len(np.unique(prev[used])), len(np.unique(maps[i][used]))
        if i == len(maps) - 1 or 1 < n_classes < n_prev:
            keep.append(i)
    return Hierarchy(column, kind, [names[i] for i in keep], [labels[i] for i in keep], [maps[i] for i in keep], codes)


def _value_str(value: Any) -> str:
    """The string form of a value: integral floats without ``.0``, dates as ISO text."""
    if isinstance(value, (float, np.floating)) and math.isfinite(value):
        return str(int(value)) if float(value).is_integer() else np.format_float_positional(value, trim="-")
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    return str(value)


def _fmt(x: float) -> str:
    return f"{x:.12g}"


def nice_width(span: float, integer: bool, bins: int = 64) -> float:
    """Base interval width: ``span / bins`` rounded up to 1, 2 or 5 × 10^e (at least 1 for integers)."""
    target = span / bins
    if target <= 0:
        return 1.0
    base = 10.0 ** math.floor(math.log10(target))
    width = next(m * base for m in (1, 2, 5, 10) if m * base >= target * (1 - 1e-12))
    return float(max(1, round(width))) if integer else width


def _numeric_levels(values: pd.Series) -> tuple[list[str], list[list[str | None]]]:
    """Intervals of width w, 2w, 4w, … until one interval holds all; infinities are treated as missing.

    Intervals start at multiples of their width (``32-39``) for non-negative columns, else at multiples of
    w·2^i counted from the first multiple of w below the minimum (the grid of 0 never merges -1 and 1)."""
    x = values.to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(x)
    names, levels = ["value"], [[_value_str(v) for v in values]]
    if finite.sum() < 2:
        return names, levels
    integer = bool(np.all(x[finite] == np.round(x[finite])))
    low = float(x[finite].min())
    width = nice_width(float(x[finite].max()) - low, integer)
    origin = 0.0 if low >= 0 else math.floor(low / width) * width
    bins = np.floor((np.where(finite, x, origin) - origin) / width).astype(np.int64)  # ≥ 0
    shift = 0
    while (bins[finite].max() >> shift) > (bins[finite].min() >> shift):
        w = width * 2**shift
        lo = origin + (bins >> shift) * w
        names.append(f"width {_fmt(w)}")
        levels.append([_interval(a, w, integer) if f else None for a, f in zip(lo, finite, strict=True)])
        shift += 1
    return names, levels


def _interval(lo: float, width: float, integer: bool) -> str:
    """``30-39`` for integers (``[-8, -1]`` below zero: "-8--1" would be unreadable), ``[0.5, 1)`` for reals."""
    if integer:
        return f"{int(lo)}-{int(lo + width - 1)}" if lo >= 0 else f"[{int(lo)}, {int(lo + width - 1)}]"
    return f"[{_fmt(lo)}, {_fmt(lo + width)})"


def _is_iso_date_text(values: pd.Series) -> bool:
    text = values[values.map(lambda v: isinstance(v, str))]
    return len(text) == len(values) > 0 and bool(text.map(lambda v: bool(_ISO_DATE.match(v))).all())


def _date_levels(values: pd.Series) -> tuple[list[str], list[list[str]]]:
    """Day (or the full timestamp when times are present) → month → quarter → year → decade."""
    first = [_value_str(v) for v in values]
    stamps = values if pd.api.types.is_datetime64_any_dtype(values.dtype) else pd.to_datetime(values, format="ISO8601")
    idx = pd.DatetimeIndex(stamps)
    day = [d.isoformat() for d in idx.date]
    year = idx.year.to_numpy()
    levels = [
        first,
        day,
        list(idx.strftime("%Y-%m")),
        [f"{y}-Q{q}" for y, q in zip(year, idx.quarter, strict=True)],
        [str(y) for y in year],
        [f"{y // 10 * 10}s" for y in year],
    ]
    return ["value", "day", "month", "quarter", "year", "decade"], levels


def _is_digit_code(values: pd.Series) -> bool:
    ok = values.map(lambda v: isinstance(v, str) and v.isdigit() and len(v) >= 2)
    return len(values) > 0 and bool(ok.all())


def _mask_levels(values: pd.Series) -> tuple[list[str], list[list[str]]]:
    """Mask 1, 2, … trailing characters (``12345`` → ``1234*`` → ``123**``), keeping at least one."""
    text = [str(v) for v in values]
    longest = max(len(t) for t in text)
    levels = [text] + [[t[: max(len(t) - i, 1)].ljust(len(t), "*") for t in text] for i in range(1, longest)]
    return ["value"] + [f"mask {i}" for i in range(1, longest)], levels


def _user_levels(column: Any, values: pd.Series, user: dict[str, list[str]]) -> tuple[list[str], list[list[str]]]:
    """Levels from a user hierarchy: value → [coarser label, coarser still, …] (all lists the same length)."""
    text = [_value_str(v) for v in values]
    absent = sorted({t for t in text if t not in user})
    if absent:
        raise BadInputError(
            f"the hierarchy of column '{column}' has no entry for {', '.join(map(repr, absent[:5]))}"
            + (f" and {len(absent) - 5} more" if len(absent) > 5 else ""),
            "give every value of the column a list of coarser labels",
        )
    depths = {len(user[t]) for t in text}
    if len(depths) > 1:
        raise BadInputError(
            f"the hierarchy of column '{column}' has label lists of different lengths ({sorted(depths)})",
            "give every value the same number of coarser labels",
        )
    depth = depths.pop() if depths else 0
    levels = [text] + [[str(user[t][i]) for t in text] for i in range(depth)]
    return ["value"] + [f"level {i + 1}" for i in range(depth)], levels


# ---------------------------------------------------------------------------------------------------- search


@dataclass
class NodeScore:
    """How a lattice node (one level per quasi-identifier) fares on the table."""

    node: tuple[int, ...]
    ok: bool
    loss: int  # Σ_j level_j · (L / height_j), L the lcm of the heights: exact integer comparisons
    suppressed: int
    discernibility: int
    smallest: int
    classes: int


class Lattice:
    """The table reduced to distinct (quasi, sensitive) code combinations with counts, scored per node."""

    def __init__(
        self, hierarchies: list[Hierarchy], sensitive: list[np.ndarray], k: int, diversity: int | None, budget: int
    ):
        self.hierarchies, self.k, self.diversity, self.budget = hierarchies, k, diversity, budget
        columns = [h.codes for h in hierarchies] + sensitive
        self.row_combo, n_combos = _combine(columns)
        first = np.unique(self.row_combo, return_index=True)[1]  # first row of each combination, in id order
        self.combo_codes = [c[first] for c in columns[: len(hierarchies)]]
        self.combo_sensitive = [s[first] for s in sensitive]
        self.weights = np.bincount(self.row_combo, minlength=n_combos)
        self.n = len(self.row_combo)
        self.heights = [h.height for h in hierarchies]
        lcm = math.lcm(*[max(h, 1) for h in self.heights])
        self.unit = [lcm // max(h, 1) for h in self.heights]
        self.loss_scale = lcm * len(hierarchies)

    def loss(self, node: tuple[int, ...]) -> int:
        """Information loss of ``node`` in units of 1/``loss_scale`` (an integer, so ties compare exactly)."""
        return sum(level * unit for level, unit in zip(node, self.unit, strict=True))

    def classes(self, node: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Class id per combination, class sizes, and which classes are suppressed."""
        ids, n_classes = _combine(
            [h.maps[lv][c] for h, lv, c in zip(self.hierarchies, node, self.combo_codes, strict=True)]
        )
        sizes = np.bincount(ids, weights=self.weights, minlength=n_classes).astype(np.int64)
        small = sizes < self.k
        if self.diversity is not None:
            for s in self.combo_sensitive:
                known, radix = s >= 0, max(int(s.max()) + 1, 1)  # missing sensitive values are not a value
                pairs = np.unique(ids[known] * radix + s[known])
                distinct = np.bincount(pairs // radix, minlength=n_classes)
                small |= distinct < self.diversity
        return ids, sizes, small

    def score(self, node: tuple[int, ...]) -> NodeScore:
        """Suppress the failing classes of ``node`` and say whether the rest fits the suppression budget."""
        _, sizes, small = self.classes(node)
        suppressed = int(sizes[small].sum())
        kept = sizes[~small]
        return NodeScore(
            node=node,
            ok=suppressed <= self.budget,
            loss=self.loss(node),
            suppressed=suppressed,
            discernibility=int((kept**2).sum()) + suppressed * self.n,
            smallest=int(kept.min()) if len(kept) else 0,
            classes=len(kept),
        )

    def successors(self, node: tuple[int, ...]) -> list[tuple[int, ...]]:
        """The direct generalisations of ``node``: one column one level up."""
        return [node[:j] + (node[j] + 1,) + node[j + 1 :] for j in range(len(node)) if node[j] < self.heights[j]]


def _combine(codes: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """Dense ids (n,) of the distinct rows of several non-negative integer code arrays, and their number."""
    key = np.zeros(len(codes[0]) if codes else 0, dtype=np.int64)
    card = 1
    for c in codes:
        radix = int(c.max()) + 1 if len(c) else 1
        if card * radix >= 2**62:  # re-densify before the mixed-radix key could overflow
            key, uniques = pd.factorize(key)
            card = len(uniques)
        key, card = key * radix + c, card * radix
    ids, uniques = pd.factorize(key)
    return ids.astype(np.int64), len(uniques)


def search(lattice: Lattice, max_nodes: int) -> tuple[NodeScore, int, bool]:
    """Least-loss satisfying node by bottom-up breadth-first search; returns (best, nodes evaluated, complete)."""
    top = tuple(lattice.heights)
    best = lattice.score(top)
    if not best.ok:
        why = f": a sensitive column has fewer than l={lattice.diversity} distinct values" if lattice.diversity else ""
        raise BadInputError(
            f"no generalisation of the quasi-identifiers meets the requirements, not even '*' everywhere{why}",
            "lower k or l, allow more suppression (max_suppression), or use fewer quasi-identifiers",
        )
    evaluated, frontier = 1, {tuple(0 for _ in top)}
    while frontier:
        failing = []
        for node in sorted(frontier, key=lattice.loss):
            if node == top or lattice.loss(node) > best.loss:
                continue  # the bound: this node and all its generalisations lose more than the best so far
            if evaluated >= max_nodes:
                return best, evaluated, False
            result = lattice.score(node)
            evaluated += 1
            if not result.ok:
                failing.append(node)
            elif (result.loss, result.discernibility) < (best.loss, best.discernibility):
                best = result
        frontier = {s for node in failing for s in lattice.successors(node)}
    return best, evaluated, True


# ----------------------------------------------------------------------------------------------- public API


def pseudonyms(series: pd.Series, key: str, prefix: str | None = None) -> pd.Series:
    """Keyed pseudonyms ``<prefix>_<16 hex>``: HMAC-SHA256 of the value's string form; missing stays missing."""
    prefix = str(series.name) if prefix is None else prefix
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    secret = key.encode("utf-8")
    tokens = [
        f"{prefix}_{hmac.new(secret, _value_str(v).encode('utf-8'), hashlib.sha256).hexdigest()[:16]}" for v in uniques
    ]
    out = np.array([*tokens, None], dtype=object)[np.where(codes < 0, len(tokens), codes)]
    return pd.Series(out, index=series.index, name=series.name, dtype=object)


def equivalence_classes(df: pd.DataFrame, quasi: list[str]) -> pd.Series:
    """Sizes of the equivalence classes (rows equal on ``quasi``; missing is a value), smallest first."""
    _check_names(df, quasi, "quasi")
    if df.empty:
        return pd.Series(dtype=np.int64, name="size")
    return df.groupby(list(quasi), dropna=False).size().rename("size").sort_values(kind="stable")


def check_k_anonymity(df: pd.DataFrame, quasi: list[str], k: int) -> bool:
    """True when every equivalence class on ``quasi`` has at least ``k`` rows (an empty table is)."""
    sizes = equivalence_classes(df, quasi)
    return bool(sizes.empty or sizes.min() >= k)


def check_l_diversity(df: pd.DataFrame, quasi: list[str], sensitive: list[str], l: int) -> bool:  # noqa: E741
    """True when every class on ``quasi`` holds ≥ ``l`` distinct non-missing values of each sensitive column."""
    _check_names(df, [*quasi, *sensitive], "quasi/sensitive")
    if df.empty:
        return True
    groups = df.groupby(list(quasi), dropna=False)
    return all(bool((groups[s].nunique() >= l).all()) for s in sensitive)


def anonymize(df: pd.DataFrame, config: AnonymizeConfig) -> AnonymizeResult:
    """k-anonymise (and l-diversify) ``df``: drop, pseudonymise, generalise and suppress as ``config`` says."""
    _validate(df, config)
    hierarchies = [build_hierarchy(df[c], config.hierarchies.get(c)) for c in config.quasi]
    sensitive = [pd.factorize(df[s], use_na_sentinel=True)[0].astype(np.int64) for s in config.sensitive]
    budget = int(math.floor(config.max_suppression * len(df) + 1e-9))
    lattice = Lattice(hierarchies, sensitive, config.k, config.l, budget)
    best, evaluated, complete = search(lattice, config.max_nodes)
    ids, _, small = lattice.classes(best.node)
    keep = ~small[ids[lattice.row_combo]]
    table = df.drop(columns=config.drop)
    report: dict[str, Any] = {}
    if config.pseudonymize:
        key = config.key
        if key is None:
            key = secrets.token_hex(32)
            report["key"] = key  # shown once: keep it to link future releases; it is never written into the table
        for c in config.pseudonymize:
            table[c] = pseudonyms(df[c], key)
    for h, level in zip(hierarchies, best.node, strict=True):
        table[h.column] = pd.Series(h.generalise(level), index=df.index, dtype=object)
    table = table.loc[keep].reset_index(drop=True)
    report = _report(config, hierarchies, lattice, best, table, evaluated, complete) | report
    return AnonymizeResult(table=table, report=report)


_LISTED = {"quasi": "quasi", "sensitive": "sensitive", "dropped": "drop", "pseudonymized": "pseudonymize"}


def _report(
    config: AnonymizeConfig,
    hierarchies: list[Hierarchy],
    lattice: Lattice,
    best: NodeScore,
    table: pd.DataFrame,
    evaluated: int,
    complete: bool,
) -> dict[str, Any]:
    """What was done: the chosen levels, their labels (the first 50 per column), sizes and losses."""
    labels = {h.column: sorted(table[h.column].dropna().astype(str).unique().tolist()) for h in hierarchies}
    chosen = list(zip(hierarchies, best.node, strict=True))
    return {
        "k": config.k,
        "l": config.l,
        **{key: list(getattr(config, field)) for key, field in _LISTED.items()},
        "levels": {h.column: level for h, level in chosen},
        "heights": {h.column: h.height for h in hierarchies},
        "generalisation": {h.column: h.names[level] for h, level in chosen},
        "hierarchy_kind": {h.column: h.kind for h in hierarchies},
        "labels": {c: v[:50] for c, v in labels.items()},
        "n_labels": {c: len(v) for c, v in labels.items()},
        "rows_in": lattice.n,
        "rows_out": len(table),
        "suppressed": best.suppressed,
        "suppression_limit": lattice.budget,
        "smallest_class": best.smallest,
        "classes": best.classes,
        "information_loss": best.loss / lattice.loss_scale,
        "discernibility": best.discernibility,
        "average_class_size_ratio": (len(table) / best.classes / config.k) if best.classes else 0.0,
        "nodes_evaluated": evaluated,
        "lattice_size": math.prod(h + 1 for h in lattice.heights),
        "optimal": complete,
        "key_generated": bool(config.pseudonymize) and config.key is None,
    }


def _check_names(df: pd.DataFrame, names: list[str], option: str) -> None:
    columns = [str(c) for c in df.columns]
    for name in names:
        if name not in df.columns:
            guess = closest(name, columns)
            hint = (f"did you mean '{guess}'? " if guess else "") + "columns: " + ", ".join(columns[:30])
            raise BadInputError(f"unknown column '{name}' in {option}", hint)


def _validate(df: pd.DataFrame, config: AnonymizeConfig) -> None:
    if len(df) == 0:
        raise DataError("the table has no rows", "anonymise a table with data rows")
    groups = {option: getattr(config, option) for option in ("quasi", "drop", "pseudonymize", "sensitive")}
    for option, names in [*groups.items(), ("hierarchies", list(config.hierarchies))]:
        _check_names(df, names, option)
    for a, b in itertools.combinations(groups, 2):
        both = sorted(set(groups[a]) & set(groups[b]))
        if both:
            raise BadInputError(f"column '{both[0]}' is both in {a} and in {b}", f"list it under {a} or {b}, not both")
    extra = sorted(set(config.hierarchies) - set(config.quasi))
    if extra:
        raise BadInputError(
            f"a hierarchy is given for '{extra[0]}', which is not a quasi-identifier", "add it to quasi"
        )
    if config.k > len(df):
        raise BadInputError(
            f"k={config.k} is larger than the number of rows ({len(df)})", f"use k ≤ {len(df)}, or a larger table"
        )
