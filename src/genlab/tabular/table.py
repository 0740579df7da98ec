"""Tables: reading and writing CSV/TSV/Parquet, column kinds, the table meta file, canonical dtypes.

A table goes through three steps before a model sees it:

1. :func:`read_table` reads a file. Every value is stripped of surrounding whitespace and the missing
   tokens (:data:`DEFAULT_MISSING_VALUES`: ``""``, ``"?"``, ``"NA"``, …) become missing; a column whose
   present values are all numbers becomes numeric.
2. :func:`detect_meta` gives each column a *kind* (:data:`ColumnKind`) and records its range, categories
   and missing fraction in a :class:`TableMeta`, which a user may save, edit and give back
   (``detect_meta(df, meta=TableMeta.load(path))``): the kinds and fields written in the file win.
3. :func:`prepare_table` coerces the table to the canonical dtypes of its kinds (numerical/integer →
   float64 with NaN, datetime → datetime64[ns], boolean → bool or pandas "boolean" when values are
   missing, categorical/identifier → Python ``str`` or None in an object column).

Kind detection, in order (see :func:`detect_meta`): a bool dtype, or exactly two values that spell
true/false (true/false, yes/no, y/n, t/f, 1/0) → boolean; numbers: integral values that are all distinct
in ≥ 20 rows and either look like row numbers (max − min + 1 ≤ 1.1·rows) or sit in an id-like column
(``id``, ``uuid``, ``ssn``, …) → identifier; integral values with at most 10 distinct values each seen
twice on average → categorical; other integral values → integer; the rest → numerical. Strings: at least
95% parsed as dates with one format → datetime; mostly numbers → refused (mixed types); mostly unique long
or multi-word strings → refused (free text); all distinct in ≥ 20 rows, or near-unique (≥ 95%) in an
id-like column → identifier; at most ``max_categories`` distinct → categorical, else refused.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from genlab.core.config import Config, save_yaml
from genlab.core.errors import BadInputError, closest
from genlab.core.io import atomic_write

ColumnKind = Literal["numerical", "integer", "categorical", "boolean", "datetime", "identifier"]
COLUMN_KINDS: tuple[str, ...] = get_args(ColumnKind)
#: Kinds a model treats as continuous values; the other encoded kinds (categorical, boolean) are discrete.
CONTINUOUS_KINDS = ("numerical", "integer", "datetime")
DISCRETE_KINDS = ("categorical", "boolean")
DEFAULT_MISSING_VALUES = ["", "?", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]
#: Spellings of booleans (compared lower-cased): each pair is (false, true).
BOOLEAN_PAIRS = (("false", "true"), ("no", "yes"), ("n", "y"), ("f", "t"), ("0", "1"))
SUFFIXES = {".csv": None, ".txt": None, ".tsv": "\t", ".tab": "\t", ".parquet": "parquet", ".pq": "parquet"}
ID_WORDS = {"id", "uuid", "guid", "ssn", "identifier", "key"}
MIN_IDENTIFIER_ROWS = 20
MAX_CATEGORICAL_INTEGERS = 10
MIXED_FIX = "add them to missing_values in the meta file, or set the column's kind to categorical"


class ColumnMeta(Config):
    """One column of a table: its kind and what was measured on the data."""

    name: str = Field(description="column name")
    kind: ColumnKind = Field(description="how the column is modelled")
    min: float | None = Field(None, description="smallest value (datetimes: seconds since 1970-01-01)")
    max: float | None = Field(None, description="largest value (datetimes: seconds since 1970-01-01)")
    categories: list[str] | None = Field(None, description="categorical/boolean: the values seen, as strings")
    datetime_format: str | None = Field(None, description="datetime: strftime format of the values in files")
    missing_fraction: float | None = Field(None, ge=0, le=1, description="fraction of missing values")


class TableMeta(Config):
    """The columns of a table, its constraints and the tokens read as missing; saved as YAML."""

    columns: list[ColumnMeta] = Field(default_factory=list, description="the columns, in table order")
    constraints: list[dict[str, Any]] = Field(
        default_factory=list, description="constraints on generated rows (genlab.tabular.constraints)"
    )
    missing_values: list[str] = Field(
        default_factory=lambda: list(DEFAULT_MISSING_VALUES), description="strings read as missing values"
    )

    @model_validator(mode="after")
    def _check(self) -> TableMeta:
        seen: set[str] = set()
        for c in self.columns:
            if c.name in seen:
                raise BadInputError(f"column '{c.name}' is listed twice in the table meta", "keep one entry per column")
            seen.add(c.name)
        from genlab.tabular.constraints import parse_constraint

        for spec in self.constraints:
            parse_constraint(spec)
        return self

    def names(self) -> list[str]:
        """Column names in table order."""
        return [c.name for c in self.columns]

    def kinds(self) -> dict[str, str]:
        """Column name → kind."""
        return {c.name: c.kind for c in self.columns}

    def column(self, name: str) -> ColumnMeta:
        """The meta of column ``name`` (BadInputError naming the closest column when unknown)."""
        for c in self.columns:
            if c.name == name:
                return c
        raise unknown_column(name, self.names())

    def save(self, path: str | Path) -> None:
        """Write the meta as YAML (atomically), leaving out unset fields."""
        save_yaml(self.model_dump(mode="json", exclude_none=True), path)

    @classmethod
    def load(cls, path: str | Path) -> TableMeta:
        """Read a meta YAML file (a user-edited one may name only some columns)."""
        import yaml

        path = Path(path)
        if not path.is_file():
            raise BadInputError(f"table meta file not found: {path}", "check the path, or write one with `save`")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise BadInputError(f"cannot parse table meta file {path}: {e}", "write valid YAML") from None
        if not isinstance(data, dict):
            raise BadInputError(f"table meta file {path} must hold a mapping", "write columns: [...] at the top")
        return cls.build(data, where=path.name)

    def describe(self) -> str:
        """An aligned text table (column, kind, missing %, range or number of categories) for the console."""
        rows = [("column", "kind", "missing", "values")]
        for c in self.columns:
            missing = f"{100 * (c.missing_fraction or 0):.1f}%"
            rows.append((c.name, c.kind, missing, _describe_values(c)))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths, strict=True)) + "  " + r[3] for r in rows
        ).rstrip()


def _describe_values(c: ColumnMeta) -> str:
    if c.kind in ("categorical", "boolean"):
        cats = c.categories or []
        shown = ", ".join(cats[:4]) + (", …" if len(cats) > 4 else "")
        return f"{len(cats)} categories ({shown})"
    if c.min is None or c.max is None:
        return ""
    if c.kind == "datetime":
        lo, hi = (pd.Timestamp(v, unit="s") for v in (c.min, c.max))
        return f"{lo} … {hi}"
    return f"{c.min:g} … {c.max:g}"


def unknown_column(name: str, names: list[str]) -> BadInputError:
    """A BadInputError for a column name the table does not have, naming the closest."""
    guess = closest(name, names)
    hint = (f"did you mean '{guess}'? " if guess else "") + "columns: " + ", ".join(names[:30])
    return BadInputError(f"unknown column '{name}'", hint)


# --- reading ----------------------------------------------------------------------------------------


def read_table(path: str | Path, encoding: str | None = None, missing_values: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV (delimiter sniffed among ``, ; tab |``), TSV or Parquet file.

    Strings are stripped of surrounding whitespace, ``missing_values`` (default
    :data:`DEFAULT_MISSING_VALUES`) become missing, and columns whose present values are all numbers
    become int64/float64 (strings with leading zeros, like ``"007"``, stay strings). Text files are read
    as UTF-8 unless ``encoding`` is given. Raises BadInputError for a missing, empty, header-only,
    non-UTF-8 or unsupported file.
    """
    path = Path(path)
    tokens = DEFAULT_MISSING_VALUES if missing_values is None else missing_values
    if not path.is_file():
        raise BadInputError(f"table file not found: {path}", "check the path")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise BadInputError(
            f"cannot read '{path.name}': unknown table format '{suffix or '(no suffix)'}'",
            "use a .csv, .tsv or .parquet file",
        )
    if path.stat().st_size == 0:
        raise BadInputError(f"table file {path} is empty", "give a file with a header line and rows")
    if SUFFIXES[suffix] == "parquet":
        df = _read_parquet(path)
    else:
        df = _read_text(path, _decode(path, encoding), SUFFIXES[suffix])
    if len(df) == 0:
        raise BadInputError(f"table file {path} has a header but no rows", "give a file with at least one row")
    df.columns = [str(c).strip() for c in df.columns]
    return clean_table(df, tokens)


def _decode(path: Path, encoding: str | None) -> str:
    data = path.read_bytes()
    try:
        return data.decode(encoding or "utf-8-sig")
    except LookupError:
        raise BadInputError(f"unknown text encoding '{encoding}'", "use e.g. utf-8, latin-1 or cp1252") from None
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        byte = data[e.start]
        if encoding:
            raise BadInputError(
                f"{path} cannot be decoded as {encoding}: byte 0x{byte:02x} on line {line}", "check the encoding"
            ) from None
        raise BadInputError(
            f"{path} is not UTF-8: byte 0x{byte:02x} on line {line} (offset {e.start})",
            "give the file's encoding, e.g. --encoding latin-1",
        ) from None


def _sniff_delimiter(text: str) -> str:
    sample = text[:65536]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        header = sample.split("\n", 1)[0]
        counts = {d: header.count(d) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _read_text(path: Path, text: str, delimiter: str | None) -> pd.DataFrame:
    if not text.strip():
        raise BadInputError(f"table file {path} is empty", "give a file with a header line and rows")
    sep = delimiter or _sniff_delimiter(text)
    try:
        return pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=True
        )
    except pd.errors.EmptyDataError:
        raise BadInputError(f"table file {path} is empty", "give a file with a header line and rows") from None
    except pd.errors.ParserError as e:
        raise BadInputError(
            f"cannot parse {path}: {e}", "check that every row has as many fields as the header"
        ) from None


def _read_parquet(path: Path) -> pd.DataFrame:
    from genlab.core.optional import require

    require("pyarrow", "tabular")
    try:
        return pd.read_parquet(path, engine="pyarrow")
    except Exception as e:  # pyarrow raises its own ArrowInvalid/OSError family
        raise BadInputError(f"cannot read {path} as Parquet: {e}", "check that the file is a Parquet table") from None


def is_text_column(s: pd.Series) -> bool:
    """True for columns holding Python objects or strings (object, str or category dtype)."""
    return s.dtype == object or isinstance(s.dtype, (pd.StringDtype, pd.CategoricalDtype))


def clean_strings(s: pd.Series, tokens: list[str] | set[str]) -> pd.Series:
    """Object column with strings stripped and missing tokens (and NaN/NA) as None; non-strings kept."""
    values = s.astype(object).to_numpy()
    missing = pd.isna(values)
    tokens = set(tokens)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        if missing[i]:
            out[i] = None
        elif isinstance(v, str):
            v = v.strip()
            out[i] = None if v in tokens else v
        else:
            out[i] = v
    return pd.Series(out, index=s.index, name=s.name, dtype=object)


def clean_table(df: pd.DataFrame, missing_values: list[str]) -> pd.DataFrame:
    """Strip strings, turn missing tokens into None, and make all-number text columns numeric."""
    out = {}
    for name in df.columns:
        s = df[name]
        if is_text_column(s):
            s = clean_strings(s, missing_values)
            s = _numeric_if_all_numbers(s)
        out[name] = s
    return pd.DataFrame(out, index=df.index)


def _numeric_if_all_numbers(s: pd.Series) -> pd.Series:
    present = s.dropna()
    if len(present) == 0 or not all(isinstance(v, str) for v in present):
        return s
    if _has_leading_zeros(present):
        return s  # codes with leading zeros ("007") stay strings
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.isna().any() or not np.isfinite(numbers.to_numpy(dtype=float)).all():
        return s
    out = pd.to_numeric(s, errors="coerce")
    if out.notna().all() and (out == out.round()).all() and out.abs().max() < 2**53:
        return out.astype("int64")
    return out.astype("float64")


# --- values and coercion ----------------------------------------------------------------------------


def _has_leading_zeros(strings: pd.Series) -> bool:
    return bool(strings.str.match(r"^[+-]?0\d").any())


def category_string(v: Any) -> str | None:
    """The canonical string of a categorical value: integral numbers without ``.0``, None for missing."""
    if v is None or (not isinstance(v, (list, tuple, np.ndarray)) and pd.isna(v)):
        return None
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return str(int(v)) if float(v).is_integer() and abs(v) < 2**53 else repr(float(v))
    return str(v).strip()


def _fail(name: str, bad: pd.Series, what: str, hint: str) -> BadInputError:
    values = ", ".join(repr(v) for v in pd.unique(bad.astype(object))[:5])
    return BadInputError(f"column '{name}' is {what} but has {len(bad)} other values, e.g. {values}", hint)


def as_float(s: pd.Series, name: str) -> pd.Series:
    """Numbers as float64 with NaN; strings that are not numbers raise BadInputError."""
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return s.astype("float64")
    if pd.api.types.is_datetime64_any_dtype(s):
        raise BadInputError(f"column '{name}' holds dates, not numbers", "set the column's kind to datetime")
    out = pd.to_numeric(s.astype(object), errors="coerce").astype("float64")
    bad = s[out.isna() & s.notna()]
    if len(bad):
        raise _fail(name, bad, "numeric", MIXED_FIX)
    return out


def as_integer(s: pd.Series, name: str) -> pd.Series:
    """Integral numbers as float64 with NaN; fractions raise BadInputError."""
    out = as_float(s, name)
    bad = s[out.notna() & (out != out.round())]
    if len(bad):
        raise _fail(name, bad, "integer", "set the column's kind to numerical")
    return out


def as_datetime(s: pd.Series, name: str, fmt: str | None) -> pd.Series:
    """Dates as timezone-free datetime64[ns] (converted to UTC when they carry a zone)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s
    else:
        text = s.astype(object).where(s.notna(), None)
        out = pd.to_datetime(text, format=fmt or "mixed", errors="coerce", utc=_has_zone(fmt))
        bad = s[out.isna() & s.notna()]
        if len(bad):
            raise _fail(name, bad, f"a date column (format {fmt})", MIXED_FIX)
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out.astype("datetime64[ns]")


def _has_zone(fmt: str | None) -> bool:
    return fmt is not None and ("%z" in fmt or "%Z" in fmt)


def boolean_pair(values: list[str]) -> tuple[str, str] | None:
    """The (false, true) spelling pair that ``values`` (lower-cased) spell, both present, or None."""
    lowered = {str(v).lower() for v in values}
    for pair in BOOLEAN_PAIRS:
        if lowered == set(pair):
            return pair
    return None


def as_boolean(s: pd.Series, name: str) -> pd.Series:
    """Booleans as bool, or pandas "boolean" when values are missing; other spellings raise BadInputError."""
    if pd.api.types.is_bool_dtype(s) and not s.isna().any():
        return s.astype(bool)
    truth = {"true": True, "yes": True, "y": True, "t": True, "1": True}
    truth.update({"false": False, "no": False, "n": False, "f": False, "0": False})
    keys = s.map(lambda v: None if pd.isna(v) else (category_string(v) or "").lower())
    out = keys.map(truth)
    bad = s[out.isna() & s.notna()]
    if len(bad):
        raise _fail(name, bad, "boolean", "set the column's kind to categorical")
    if out.isna().any():
        return out.astype("boolean")
    return out.astype(bool)


def as_strings(s: pd.Series) -> pd.Series:
    """Canonical strings (:func:`category_string`) in an object column, None for missing."""
    if is_text_column(s):
        values = s.astype(object)
        mask = values.isna()
        out = values.map(lambda v: v if isinstance(v, str) else category_string(v))
        return out.where(~mask, None).astype(object)
    return pd.Series([category_string(v) for v in s.to_numpy()], index=s.index, name=s.name, dtype=object)


def datetime_seconds(s: pd.Series) -> np.ndarray:
    """datetime64 values as float seconds since 1970-01-01 (NaN for NaT)."""
    ns = s.to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64")
    ns[s.isna().to_numpy()] = np.nan
    return ns / 1e9


# --- detection --------------------------------------------------------------------------------------


def _id_like(name: str) -> bool:
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower()
    return any(w in ID_WORDS for w in re.split(r"[^a-z0-9]+", words))


def _guess_numeric_kind(name: str, v: pd.Series) -> str:
    n, distinct = len(v), v.nunique()
    if distinct == 2 and set(v.unique()) <= {0, 1}:
        return "boolean"
    if not (v == v.round()).all():
        return "numerical"
    dense = v.max() - v.min() + 1 <= 1.1 * n  # row numbers, serial codes
    if distinct == n and n >= MIN_IDENTIFIER_ROWS and (_id_like(name) or dense):
        return "identifier"
    if distinct <= MAX_CATEGORICAL_INTEGERS and n >= 2 * distinct:
        return "categorical"
    return "integer"


def _guess_datetime_format(v: pd.Series) -> tuple[str | None, float]:
    """The strftime format parsing most values of ``v`` (strings) and the fraction it parses."""
    from pandas.tseries.api import guess_datetime_format

    sample = v.sample(min(len(v), 2000), random_state=0) if len(v) > 2000 else v
    if sample.map(lambda x: any(ch.isdigit() for ch in x)).mean() < 0.95:
        return None, 0.0
    formats: dict[str, None] = {}  # in order of preference: month-first guesses before day-first ones
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when a day-first format is guessed without dayfirst
        for dayfirst in (False, True):
            for text in pd.unique(sample)[:20]:
                fmt = guess_datetime_format(text, dayfirst=dayfirst)
                if fmt:
                    formats[fmt] = None
        best, best_fraction = None, 0.0
        for fmt in formats:  # ties keep the earlier format
            parsed = pd.to_datetime(sample, format=fmt, errors="coerce", utc=_has_zone(fmt))
            if parsed.notna().mean() > best_fraction:
                best, best_fraction = fmt, float(parsed.notna().mean())
    return best, best_fraction


def _is_free_text(v: pd.Series) -> bool:
    if len(v) < 10 or v.nunique() < 0.5 * len(v):
        return False
    return v.str.len().median() >= 50 or v.str.count(r"\s+").median() >= 3


def _guess_text_kind(name: str, v: pd.Series, max_categories: int) -> tuple[str, str | None]:
    """(kind, datetime format) of a column of present strings; refuses mixed types and free text."""
    distinct = v.nunique()
    if distinct <= 2 * len(BOOLEAN_PAIRS[0]) and boolean_pair(list(v.unique())):  # any letter case
        return "boolean", None
    numbers = pd.to_numeric(v, errors="coerce")
    if not _has_leading_zeros(v):
        if numbers.notna().all():
            return _guess_numeric_kind(name, numbers.astype("float64")), None
        if numbers.notna().mean() >= 0.8:
            raise _fail(name, v[numbers.isna()], "mostly numbers", MIXED_FIX)
    fmt, fraction = _guess_datetime_format(v)
    if fmt and fraction >= 0.95:
        return "datetime", fmt
    if _is_free_text(v):
        raise BadInputError(
            f"column '{name}' looks like free text ({distinct} distinct values, e.g. {v.iloc[0][:60]!r})",
            "drop the column, or declare its kind (identifier or categorical) in the meta file",
        )
    n = len(v)
    if (distinct == n and n >= MIN_IDENTIFIER_ROWS) or (_id_like(name) and distinct >= 0.95 * n and n > 1):
        return "identifier", None
    if distinct > max_categories:
        raise BadInputError(
            f"column '{name}' has {distinct} distinct values, more than max_categories={max_categories}",
            "drop the column, or set its kind to identifier in the meta file",
        )
    return "categorical", None


def _guess_kind(name: str, s: pd.Series, max_categories: int) -> tuple[str, str | None]:
    present = s.dropna()
    if pd.api.types.is_bool_dtype(s) or (len(present) and all(isinstance(x, (bool, np.bool_)) for x in present)):
        return "boolean", None
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime", None
    if pd.api.types.is_numeric_dtype(s):
        return _guess_numeric_kind(name, present.astype("float64")), None
    strings = present.map(lambda x: x if isinstance(x, str) else category_string(x))
    return _guess_text_kind(name, strings, max_categories)


def coerce_column(s: pd.Series, column: ColumnMeta) -> pd.Series:
    """Coerce one (cleaned) column to the canonical dtype of its kind; misfits raise BadInputError."""
    kind, name = column.kind, column.name
    if kind == "numerical":
        return as_float(s, name)
    if kind == "integer":
        return as_integer(s, name)
    if kind == "datetime":
        return as_datetime(s, name, column.datetime_format)
    if kind == "boolean":
        return as_boolean(s, name)
    return as_strings(s)


def _sorted_categories(values: pd.Series) -> list[str]:
    cats = [str(c) for c in pd.unique(values.dropna())]
    try:
        return sorted(cats, key=float)
    except ValueError:
        return sorted(cats)


def _measure(raw: pd.Series, s: pd.Series, column: ColumnMeta) -> ColumnMeta:
    """Fill range, categories and missing fraction of ``column`` from its coerced values ``s`` (booleans:
    the spellings of the cleaned values ``raw``)."""
    values: dict[str, Any] = {"missing_fraction": float(s.isna().mean())}
    if column.kind in ("numerical", "integer"):
        values.update(min=float(s.min()), max=float(s.max()))
    elif column.kind == "datetime":
        seconds = datetime_seconds(s)
        values.update(min=float(np.nanmin(seconds)), max=float(np.nanmax(seconds)))
    elif column.kind == "categorical":
        values["categories"] = _sorted_categories(s)
    elif column.kind == "boolean":
        values["categories"] = _sorted_categories(as_strings(raw))
    given = {k: getattr(column, k) for k in column.model_fields_set}
    return ColumnMeta.build({**column.to_dict(), **values, **given})


def _check_names(names: list[str], df_names: list[str], where: str) -> None:
    for name in names:
        if name not in df_names:
            err = unknown_column(name, df_names)
            raise BadInputError(f"{where}: {err.message}", err.hint)


def detect_meta(
    df: pd.DataFrame,
    max_categories: int = 1000,
    overrides: dict[str, str] | None = None,
    meta: TableMeta | None = None,
) -> TableMeta:
    """Detect the kind of every column of ``df`` and measure it (module docstring for the rules).

    ``meta`` (a user-edited meta file, possibly naming only some columns) and ``overrides`` (column →
    kind) win over detection for the columns they name; the meta's ``missing_values`` and
    ``constraints`` are used. Raises BadInputError for all-missing columns, mixed types, free text,
    too many categories and unknown column names.
    """
    if df.shape[1] == 0 or len(df) == 0:
        raise BadInputError("the table has no rows or no columns", "give a table with a header and rows")
    df = df.rename(columns=str)
    tokens = meta.missing_values if meta is not None else list(DEFAULT_MISSING_VALUES)
    given = {c.name: c for c in (meta.columns if meta is not None else [])}
    _check_names(list(given), list(df.columns), "table meta")
    for name, kind in (overrides or {}).items():
        _check_names([name], list(df.columns), "kind overrides")
        if kind not in COLUMN_KINDS:
            guess = closest(str(kind), COLUMN_KINDS)
            hint = (f"did you mean '{guess}'? " if guess else "") + "kinds: " + ", ".join(COLUMN_KINDS)
            raise BadInputError(f"unknown column kind '{kind}' for column '{name}'", hint)
        base = given[name].to_dict() if name in given else {"name": name}
        given[name] = ColumnMeta.build({**{k: v for k, v in base.items() if v is not None}, "kind": kind})
    columns = []
    for name in df.columns:
        s = clean_strings(df[name], tokens) if is_text_column(df[name]) else df[name]
        if s.isna().all():
            raise BadInputError(f"column '{name}' has no values (all missing)", "drop the column")
        column = given.get(name)
        if column is None:
            kind, fmt = _guess_kind(name, s, max_categories)
            column = ColumnMeta(name=name, kind=kind, datetime_format=fmt)
        elif column.kind == "datetime" and column.datetime_format is None and is_text_column(s):
            column = column.model_copy(update={"datetime_format": _guess_datetime_format(s.dropna().astype(str))[0]})
        columns.append(_measure(s, coerce_column(s, column), column))
    constraints = list(meta.constraints) if meta is not None else []
    result = TableMeta(columns=columns, constraints=constraints, missing_values=list(tokens))
    if constraints:
        from genlab.tabular.constraints import ConstraintSet

        ConstraintSet.from_meta(result).check_against(result)
    return result


# --- preparing and writing --------------------------------------------------------------------------


def prepare_table(df: pd.DataFrame, meta: TableMeta) -> pd.DataFrame:
    """``df`` with the columns of ``meta`` in its order, coerced to the canonical dtypes of their kinds.

    Raises BadInputError for a column missing from ``df`` or not in ``meta``, and for values that do not
    fit their column's kind (a word in a numerical column), naming the column and the values.
    """
    df = df.rename(columns=str)
    names = meta.names()
    _check_names(names, list(df.columns), "the table lacks a column of the meta")
    extra = [c for c in df.columns if c not in names]
    if extra:
        raise BadInputError(
            f"column '{extra[0]}' is not in the table meta", "drop it from the table, or detect the meta again"
        )
    out = {}
    for column in meta.columns:
        s = df[column.name]
        if is_text_column(s):
            s = clean_strings(s, meta.missing_values)
        out[column.name] = coerce_column(s, column)
    return pd.DataFrame(out, index=df.index)


def _for_file(s: pd.Series, column: ColumnMeta) -> pd.Series:
    """A column as it is written: dates in their format, integers without ``.0``, booleans as spelled."""
    if column.kind == "datetime" and column.datetime_format and pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.strftime(column.datetime_format).astype(object).where(s.notna(), None)
    if column.kind == "integer" and pd.api.types.is_numeric_dtype(s):
        return s.round().astype("Int64")
    if column.kind == "boolean" and column.categories and len(column.categories) == 2:
        pair = boolean_pair(column.categories)
        if pair is not None and pd.api.types.is_bool_dtype(s):
            spelled = {p.lower(): p for p in column.categories}
            false, true = spelled[pair[0]], spelled[pair[1]]
            return s.astype(object).map(lambda v: None if pd.isna(v) else (true if v else false))
    return s


def write_table(df: pd.DataFrame, path: str | Path, meta: TableMeta | None = None) -> None:
    """Write ``df`` as CSV, TSV or Parquet (by suffix), atomically (a temporary file renamed onto ``path``).

    With ``meta``, datetimes are written in their column's ``datetime_format``, integer columns without a
    decimal point and booleans in the spelling of the data.
    """
    path = Path(path)
    kind = SUFFIXES.get(path.suffix.lower(), "unknown")
    if kind == "unknown":
        raise BadInputError(f"cannot write '{path.name}': unknown table format", "use a .csv, .tsv or .parquet file")
    if meta is not None:
        known = set(meta.names())
        df = pd.DataFrame(
            {c: (_for_file(df[c], meta.column(c)) if c in known else df[c]) for c in df.columns}, index=df.index
        )
    if kind == "parquet":
        atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False, engine="pyarrow"))
    else:
        atomic_write(path, lambda tmp: df.to_csv(tmp, index=False, sep=kind or ",", lineterminator="\n"))
