"""Outputs of the tabular pipelines: a table (CSV, Parquet, JSON lines); reports use ``core.html.ReportOutput``."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from genlab.core.errors import BadInputError
from genlab.core.io import atomic_write, atomic_write_text
from genlab.core.pipeline import Output

TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "json"}


class TableOutput(Output):
    """A table (``pandas.DataFrame``) with what made it (``info``); saved as .csv, .parquet or .json(l)."""

    formats = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet", "json": "application/x-ndjson"}
    suffix = ".csv"

    def __init__(self, table: pd.DataFrame, info: dict[str, Any] | None = None, meta=None):
        self.table, self.info, self.meta = table, dict(info or {}), meta

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.is_dir() or not path.suffix:
            path = path / f"table{self.suffix}"
        fmt = TABLE_SUFFIXES.get(path.suffix.lower())
        if fmt is None:
            raise BadInputError(f"cannot write a table as '{path.suffix}'", "use .csv, .parquet or .jsonl")
        if fmt in ("csv", "parquet"):  # dates in the table's own format
            from genlab.tabular.table import write_table

            write_table(self.table, path, self.meta)
        else:
            atomic_write(path, lambda tmp: self._write(tmp, fmt))
        return path

    def encode(self, format: str | None = None) -> bytes:
        fmt = self.check_format(format)
        buffer = io.BytesIO()
        self._write(buffer, fmt)
        return buffer.getvalue()

    def _write(self, target, fmt: str) -> None:
        if fmt == "csv":
            data = self.table.to_csv(index=False, date_format=None).encode("utf-8")
            _put(target, data)
        elif fmt == "parquet":
            self.table.to_parquet(target, index=False)
        else:
            _put(target, self.table.to_json(orient="records", lines=True, date_format="iso").encode("utf-8"))


def _put(target, data: bytes) -> None:
    if isinstance(target, (str, Path)):
        Path(target).write_bytes(data)
    else:
        target.write(data)


class AnonymizedOutput(TableOutput):
    """An anonymised table; ``save`` also writes ``<stem>.anonymization.json`` (what was generalised and
    suppressed) and, when the pseudonymisation key was generated, ``<stem>.key`` (owner-only permissions; keep
    it away from the table: whoever holds it can recompute the pseudonyms of known identifiers)."""

    def save(self, path: str | Path) -> Path:
        import os

        written = super().save(path)
        report = dict(self.info)
        key = report.pop("key", None)
        if key is not None and report.get("key_generated", True):
            key_path = written.with_suffix(".key")
            atomic_write_text(key_path, key + "\n")
            os.chmod(key_path, 0o600)
            report["key_file"] = str(key_path)
        atomic_write_text(
            written.with_suffix(".anonymization.json"), json.dumps(report, indent=2, ensure_ascii=False, default=str)
        )
        return written


class ScoreOutput(TableOutput):
    """Scored rows: the input table plus ``anomaly_score`` (negative log-likelihood, nats) and ``anomalous``
    (0/1 at the threshold); ``info`` holds the threshold, its rule and, with labels, AUROC, AUPR and F1.
    ``save`` also writes ``<stem>.anomaly.json`` (``info``) beside the table."""

    def save(self, path: str | Path) -> Path:
        written = super().save(path)
        atomic_write_text(
            written.with_suffix(".anomaly.json"), json.dumps(self.info, indent=2, ensure_ascii=False, default=str)
        )
        return written
