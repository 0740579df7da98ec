"""Synthetic tables from Python: the same steps as ``genlab synth fit|sample|report``.

>>> import genlab.synth
>>> model = genlab.synth.fit(df, model="tvae", max_minutes=5)            # df: a pandas.DataFrame or a CSV path
>>> fake = model.sample(1000, condition="sex=Female,age>60", seed=0)     # a pandas.DataFrame
>>> report = model.report(real=df, holdout=holdout_df, target="disease")  # a dict; model.report_html(...) the page
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd

from genlab.api import load, train
from genlab.core.runs import runs_root

TASK = "tabular-synthesis"


class Synthesizer:
    """A fitted tabular model: ``sample`` rows, ``report`` on them; ``run`` is its run directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.pipeline = load(path)
        self.model = self.pipeline.model

    def sample(
        self,
        n: int,
        condition: str | None = None,
        seed: int | None = None,
        max_draws: int = 100,
        stratify: str | None = None,
    ) -> pd.DataFrame:
        """``n`` synthetic rows meeting ``condition`` (``"sex=Female,age>60"``; None: any); ``stratify``: a
        categorical column whose training shares the rows keep exactly."""
        table, _ = self.pipeline.sample(n, seed, condition, max_draws, stratify)
        return table

    def _report(self, real, holdout=None, target=None, quasi=None, sensitive=None, n=None, seed=0, stratify=None):
        from genlab.tabular.pipelines import TabularReportPipeline

        pipe = TabularReportPipeline(self.model)
        return pipe.report(real, holdout, target, quasi, sensitive, n, seed, stratify=stratify)

    def report(
        self, real, holdout=None, target=None, quasi=None, sensitive=None, n=None, seed=0, stratify=None
    ) -> dict[str, Any]:
        """Fidelity (SDMetrics' quality), ML efficacy (with ``holdout`` and ``target``) and privacy (with
        ``holdout``) of ``n`` synthetic rows against ``real`` (DataFrames or file paths), as a dict; ``stratify``
        draws the rows keeping that column's training shares."""
        return self._report(real, holdout, target, quasi, sensitive, n, seed, stratify).report

    def report_html(
        self, real, holdout=None, target=None, quasi=None, sensitive=None, n=None, seed=0, stratify=None
    ) -> str:
        """The same report as one self-contained HTML page with its figures."""
        return self._report(real, holdout, target, quasi, sensitive, n, seed, stratify).html


def fit(
    data: pd.DataFrame | str | Path,
    model: str = "tvae",
    name: str | None = None,
    *,
    max_minutes: float | None = None,
    epochs: int | None = None,
    runs_dir: str | Path | None = None,
    meta: str | Path | None = None,
    **train_options: Any,
) -> Synthesizer:
    """Fit ``model`` (tvae, ctgan, tab-ddpm, copula, marginals) on a table and return it as a :class:`Synthesizer`.

    ``data``: a DataFrame (kept as a Parquet file under the runs folder, so the same call resumes), a
    CSV/Parquet path or a dataset name (``builtin:diabetes``). Keyword arguments set ``train.*`` fields.
    """
    source = str(data)
    if isinstance(data, pd.DataFrame):
        folder = runs_root(runs_dir) / TASK / ".tables"
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(pd.util.hash_pandas_object(data, index=False).values.tobytes()).hexdigest()[:16]
        path = folder / f"table-{digest}.parquet"
        if not path.is_file():
            data.to_parquet(path, index=False)
        source = str(path)
    data_options = {"meta": str(meta)} if meta else None
    result = train(
        TASK, model, source, name, max_minutes=max_minutes, epochs=epochs, runs_dir=runs_dir,
        data_options=data_options, **train_options,
    )  # fmt: skip
    return Synthesizer(result.run.path)


def load_synthesizer(path: str | Path) -> Synthesizer:
    """A fitted run (or model directory) as a :class:`Synthesizer`."""
    return Synthesizer(path)
