"""``metrics.csv`` of a run: one row per logged step, columns grow as new metrics appear."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from genlab.core.io import atomic_write


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """All rows of a metrics CSV ([] when it does not exist).

    A line with more cells than the header (a row torn by a stop signal and continued by the next append) is
    left out: its cells cannot be matched to columns."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if None not in r]


class MetricsCSV:
    """Append-mostly CSV writer; rewrites the file atomically when a new column appears."""

    def __init__(self, path: str | Path, resume_step: int | None = None):
        self.path = Path(path)
        # A new run starts empty; a resumed one drops rows logged after its checkpoint (they are redone).
        rows = [] if resume_step is None else [r for r in read_rows(self.path) if _int(r.get("step")) <= resume_step]
        self.header: list[str] = list(rows[0].keys()) if rows else []
        self._rewrite(rows)

    def append(self, row: dict[str, Any]) -> None:
        new = [k for k in row if k not in self.header]
        if new:
            # The wider header is kept only once the file has it: a stop signal during the rewrite must not
            # leave later appends writing more cells than the file's header names.
            header = self.header + new
            self._rewrite([*read_rows(self.path), row], header)
            self.header = header
            return
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, fieldnames=self.header).writerow(row)

    def has_row(self, step: int, keys: Iterable[str]) -> bool:
        """Whether the file holds a row for ``step`` with a value under every one of ``keys``."""
        keys = list(keys)
        return any(
            _int(r.get("step")) == step and all(r.get(k) not in (None, "") for k in keys) for r in read_rows(self.path)
        )

    def _rewrite(self, rows: list[dict[str, Any]], header: list[str] | None = None) -> None:
        header = self.header if header is None else header

        def write(tmp: str) -> None:
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                w = csv.DictWriter(f, fieldnames=header, restval="")
                if header:
                    w.writeheader()
                w.writerows(rows)

        atomic_write(self.path, write)


def _int(v: Any) -> int:
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return 0
