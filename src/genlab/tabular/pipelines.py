"""Tabular pipelines: ``sample`` (synthetic rows, with conditions), ``report`` (fidelity, utility, privacy),
``score`` (anomaly scores of rows: their negative log-likelihood under the model) and ``anonymize``
(k-anonymity; needs no model).

``genlab synth sample RUN --n 10000 --out synthetic.csv --seed 0 --condition "sex=Female,age>60"``;
``genlab synth report RUN --real patients.csv --holdout holdout.csv --target disease --out report.html``;
``genlab synth score RUN new-rows.csv --out scores.csv --threshold auto --target-fpr 0.05 --label-column label``;
``genlab anonymize patients.csv anon.csv --k 5 --quasi age,zip,sex --drop name,ssn``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from genlab.core.anomaly import ValidationScores, auto_or_number, threshold_at_fpr
from genlab.core.console import info as info_line
from genlab.core.errors import BadInputError, DataError
from genlab.core.html import ReportOutput
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.core.seeding import make_generator
from genlab.tabular.base import TASK
from genlab.tabular.output import AnonymizedOutput, ScoreOutput, TableOutput


def split_names(text: str | None) -> list[str]:
    """``"age, zip,sex"`` → ``["age", "zip", "sex"]`` (empty for None)."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def read_any(source, data_dir: str | None = None) -> tuple[pd.DataFrame, str]:
    """A raw table and what to call it in messages: ``source`` is a ``pandas.DataFrame``, a file or a dataset name."""
    from genlab.tabular.task import TabularDataConfig, read_source

    if isinstance(source, pd.DataFrame):
        return source, "the table"
    return read_source(TabularDataConfig(source=str(source), data_dir=data_dir))[0], str(source)


def model_columns(raw: pd.DataFrame, meta, name: str, hint: str, identifiers: bool = True) -> pd.DataFrame:
    """The columns of ``meta`` taken from ``raw``; a missing one raises BadInputError naming every missing column.
    With ``identifiers`` False, absent identifier columns (which no model reads) are filled with missing values."""
    kinds = meta.kinds()
    optional = set() if identifiers else {c for c, k in kinds.items() if k == "identifier"}
    missing = [c for c in meta.names() if c not in raw.columns and c not in optional]
    if missing:
        raise BadInputError(f"{name} lacks the model's column(s) {', '.join(missing)}", hint)
    return pd.DataFrame({c: raw[c] if c in raw.columns else None for c in meta.names()}, index=raw.index)


class SampleRequest(Request):
    n: int = Field(1000, ge=1, le=10_000_000, description="rows to generate")
    condition: str | None = Field(
        None, description='keep rows meeting these conditions, e.g. "sex=Female,age>60" (= != < <= > >=)'
    )
    max_draws: int = Field(100, ge=1, le=10_000, description="batches drawn at most to meet the condition")
    stratify: str | None = Field(
        None, description="a categorical column whose training shares the rows keep exactly (e.g. the label)"
    )


@register_pipeline("tabular/sample")
class TabularSamplePipeline(Pipeline):
    task: ClassVar[str] = TASK
    verb: ClassVar[str] = "sample"
    description: ClassVar[str] = "generate synthetic rows as a table (CSV/Parquet), optionally meeting conditions"
    request_class = SampleRequest
    output_class = TableOutput

    def default_filename(self, request: SampleRequest) -> str:
        return f"synthetic-n{request.n}-seed{request.seed}.csv"

    def constraints(self):
        """The table's constraints as fitted on the training rows (None when it has none)."""
        from genlab.tabular.constraints import ConstraintSet

        fitted = self.model.config.constraints
        return ConstraintSet.from_dict(fitted) if fitted else None

    def sample(
        self,
        n: int,
        seed: int | None = None,
        condition: str | None = None,
        max_draws: int = 100,
        stratify: str | None = None,
    ):
        """A ``pandas.DataFrame`` of ``n`` synthetic rows (and the drawing record)."""
        from genlab.tabular.sampling import draw_rows, parse_conditions

        conditions = parse_conditions(condition, self.model.transformer.meta)
        return draw_rows(self.model, n, seed, conditions, self.constraints(), max_draws=max_draws, stratify=stratify)

    def __call__(
        self,
        n: int = 1000,
        condition: str | None = None,
        seed: int | None = None,
        max_draws: int = 100,
        stratify: str | None = None,
    ):
        """``n`` synthetic rows as a ``pandas.DataFrame``: ``genlab.load(run)(n=500, seed=0)``."""
        request = self.request(n=n, condition=condition, seed=seed, max_draws=max_draws, stratify=stratify)
        return self.sample(request.n, request.seed, request.condition, request.max_draws, request.stratify)[0]

    def score(self, table, **options) -> ScoreOutput:
        """Anomaly scores of the rows of ``table`` (a ``pandas.DataFrame``, a file or a dataset name), flagged at a
        threshold: ``genlab.load(run).score(df, threshold="auto", target_fpr=0.05)`` (:class:`TabularScorePipeline`)."""
        if "_scorer" not in self.__dict__:  # one scorer per loaded model: it keeps the validation scores
            self._scorer = TabularScorePipeline(self.model)
        return self._scorer.score(table, **options)

    def run(self, request: SampleRequest) -> TableOutput:
        t0 = time.perf_counter()
        table, record = self.sample(request.n, request.seed, request.condition, request.max_draws, request.stratify)
        seconds = time.perf_counter() - t0
        info = {**record, "seconds": round(seconds, 3), "rows_per_s": round(len(table) / max(seconds, 1e-9), 1)}
        return TableOutput(table, info, self.model.transformer.meta)


class AugmentRequest(Request):
    column: str = Field(..., description="the label column: rows are drawn for each of its categories")
    per_class: int = Field(100, ge=1, le=1_000_000, description="rows drawn per category of --column")
    classes: str | None = Field(None, description="only these categories, comma-separated (default: all)")
    max_draws: int = Field(100, ge=1, le=10_000, description="batches drawn at most per category")


@register_pipeline("tabular/augment")
class TabularAugmentPipeline(TabularSamplePipeline):
    """``pipe.run(pipe.request(column="label", per_class=500))`` → a table with ``per_class`` rows of every
    category of ``column``: synthetic labelled rows to add to a small or imbalanced training table."""

    verb: ClassVar[str] = "augment"
    description: ClassVar[str] = "synthetic labelled rows: per_class rows for every category of a label column"
    request_class = AugmentRequest

    def default_filename(self, request: AugmentRequest) -> str:
        return f"augment-{request.column}-{request.per_class}.csv"

    def __call__(self, **options):
        return self.run(self.request(**options))

    def run(self, request: AugmentRequest) -> TableOutput:
        meta = self.model.transformer.meta
        column = meta.column(request.column) if request.column in meta.kinds() else None
        if column is None or column.kind not in ("categorical", "boolean"):
            found = [c for c, k in meta.kinds().items() if k in ("categorical", "boolean")]
            raise BadInputError(f"'{request.column}' is not a categorical column of the table",
                                "label columns here: " + (", ".join(found) or "none"))  # fmt: skip
        values = list(column.categories or [])
        if request.classes:
            wanted = [v.strip() for v in request.classes.split(",") if v.strip()]
            unknown = [v for v in wanted if v not in values]
            if unknown:
                raise BadInputError(f"{request.column} has no categories {unknown}", "categories: " + ", ".join(values))
            values = wanted
        parts, record = [], {"column": request.column, "per_class": request.per_class, "drawn": {}}
        for i, value in enumerate(values):
            seed = None if request.seed is None else request.seed + i
            table, info = self.sample(request.per_class, seed, f"{request.column}={value}", request.max_draws)
            parts.append(table)
            record["drawn"][value] = info.get("drawn")
        return TableOutput(pd.concat(parts, ignore_index=True), record, meta)


class ReportRequest(Request):
    real: str = Field(
        ...,
        description="the real table the model was trained on (CSV/Parquet or a dataset name)",
        json_schema_extra={"file": "table", "names": True},
    )
    holdout: str | None = Field(
        None,
        description="real rows the model never saw: enables ML efficacy and the privacy metrics",
        json_schema_extra={"file": "table", "names": True},
    )
    target: str | None = Field(None, description="column to predict for ML efficacy (needs --holdout)")
    quasi: str | None = Field(None, description="quasi-identifiers of the attribute-inference attack, e.g. age,sex")
    sensitive: str | None = Field(None, description="the attribute the attack tries to infer (needs --quasi)")
    n: int | None = Field(None, ge=10, le=1_000_000, description="synthetic rows to score (default: as many as real)")
    data_dir: str | None = Field(
        None, description="folder of standard datasets (for a dataset name)", json_schema_extra={"server": False}
    )
    seed: int | None = Field(0, description="seed of the synthetic rows and of the metrics' subsampling")
    stratify: str | None = Field(
        None, description="draw the synthetic rows keeping this categorical column's training shares (e.g. the target)"
    )


@register_pipeline("tabular/report")
class TabularReportPipeline(Pipeline):
    task: ClassVar[str] = TASK
    verb: ClassVar[str] = "report"
    description: ClassVar[str] = "score synthetic rows against the real table: fidelity, ML efficacy, privacy"
    request_class = ReportRequest
    output_class = ReportOutput

    def default_filename(self, request: ReportRequest) -> str:
        return "report.html"

    def read(self, source, data_dir: str | None = None):
        """A real table typed with the model's own metadata: a ``pandas.DataFrame``, a file or a dataset name."""
        from genlab.tabular.table import prepare_table

        raw, name = read_any(source, data_dir)
        meta = self.model.transformer.meta
        hint = "give the table the model was trained on (or its holdout, with the same columns)"
        return prepare_table(model_columns(raw, meta, name, hint), meta)

    def report(
        self, real, holdout=None, target=None, quasi=None, sensitive=None, n=None, seed=0, data_dir=None, stratify=None
    ):
        """Score ``n`` synthetic rows (default: as many as ``real`` has; ``stratify``: keeping that column's
        training shares) against ``real`` and ``holdout`` (DataFrames, files or dataset names); ``quasi`` a list
        or a comma-separated string."""
        from genlab.tabular.report import build_report, render_html
        from genlab.tabular.sampling import draw_rows

        if target and holdout is None:
            raise BadInputError(
                "--target needs --holdout", "ML efficacy trains on synthetic rows, tests on held-out ones"
            )
        real = self.read(real, data_dir)
        holdout = self.read(holdout, data_dir) if holdout is not None else None
        n = n or len(real)
        t0 = time.perf_counter()
        synth, _ = draw_rows(self.model, n, seed, stratify=stratify)
        seconds = time.perf_counter() - t0
        kinds = self.model.transformer.meta.kinds()
        quasi = (split_names(quasi) if isinstance(quasi, str) else list(quasi or [])) or None
        report = build_report(
            real, synth, kinds, holdout=holdout, target=target, quasi=quasi, sensitive=sensitive, seed=seed or 0
        )
        report["model"] = {
            "name": self.model.registry_name,
            "synthetic_rows": n,
            "sampling_rows_per_s": round(n / max(seconds, 1e-9), 1),
            "stratified_on": stratify,
            **({"privacy": self.meta["privacy"]} if "privacy" in self.meta else {}),
        }
        return ReportOutput(report, render_html(report, real, synth, kinds))

    def run(self, request: ReportRequest) -> ReportOutput:
        r = request
        return self.report(r.real, r.holdout, r.target, r.quasi, r.sensitive, r.n, r.seed, r.data_dir, r.stratify)


class AnonymizeRequest(Request):
    table: str = Field(
        ...,
        description="the table to anonymise (CSV/TSV/Parquet)",
        json_schema_extra={"file": "table", "positional": True},
    )
    k: int = Field(5, ge=2, le=10_000, description="every combination of quasi-identifiers is shared by ≥ k rows")
    quasi: str = Field(..., description="quasi-identifier columns, comma-separated (age,zip,sex)")
    drop: str | None = Field(None, description="columns to remove, comma-separated (name,ssn)")
    pseudonymize: str | None = Field(None, description="identifier columns replaced by keyed pseudonyms (HMAC-SHA256)")
    sensitive: str | None = Field(None, description="sensitive columns for l-diversity, comma-separated")
    l: int | None = Field(None, ge=2, description="l-diversity: ≥ l distinct sensitive values in every class")  # noqa: E741
    max_suppression: float = Field(0.05, ge=0, le=0.5, description="share of rows that may be removed")
    key: str | None = Field(None, description="pseudonymisation secret (default: a new random key, reported once)")
    encoding: str | None = Field(None, description="text encoding of a CSV that is not UTF-8")
    seed: int | None = Field(
        None, description="unused: anonymisation is deterministic", json_schema_extra={"cli": False}
    )


@register_pipeline("tabular/anonymize")
class AnonymizePipeline(Pipeline):
    task: ClassVar[str] = TASK
    verb: ClassVar[str] = "anonymize"
    description: ClassVar[str] = (
        "k-anonymise a table: generalise quasi-identifiers, suppress rare rows, pseudonymise ids"
    )
    request_class = AnonymizeRequest
    output_class = AnonymizedOutput
    positional_out = True
    model_free = True

    def default_filename(self, request: AnonymizeRequest) -> str:
        return f"{Path(request.table).stem}-k{request.k}.csv"

    def run(self, request: AnonymizeRequest) -> TableOutput:
        from genlab.tabular.anonymize import AnonymizeConfig, anonymize
        from genlab.tabular.table import read_table

        table = read_table(Path(request.table), encoding=request.encoding)
        config = AnonymizeConfig.build(
            {
                "k": request.k, "quasi": split_names(request.quasi), "drop": split_names(request.drop),
                "pseudonymize": split_names(request.pseudonymize), "sensitive": split_names(request.sensitive),
                "l": request.l, "max_suppression": request.max_suppression, "key": request.key,
            },
            where="anonymize",
        )  # fmt: skip
        result = anonymize(table, config)
        return AnonymizedOutput(result.table, result.report)


class ScoreRequest(Request):
    table: str = Field(
        ...,
        description="the rows to score (CSV/TSV/Parquet or a dataset name), in the columns the model was fitted on",
        json_schema_extra={"file": "table", "names": True, "positional": True},
    )
    threshold: str = Field(
        "auto", description="score threshold: a number, or auto (the run's validation rows at --target-fpr)"
    )
    target_fpr: float = Field(0.05, ge=0, lt=1, description="auto threshold: share of normal validation rows flagged")
    label_column: str | None = Field(
        None, description="a column marking anomalous rows (1/true = anomalous): AUROC, AUPR and F1 are reported"
    )
    samples: int = Field(16, ge=1, le=1024, description="tvae: importance samples per row (1: the negative ELBO)")
    data_dir: str | None = Field(
        None, description="folder of standard datasets (for a dataset name)", json_schema_extra={"server": False}
    )
    seed: int | None = Field(0, description="seed of TVAE's importance samples: the same seed gives the same scores")

    @field_validator("threshold")
    @classmethod
    def _auto_or_number(cls, value: str) -> str:
        return auto_or_number(value, "25")


def anomaly_labels(column: pd.Series, name: str) -> np.ndarray:
    """Booleans (n,) of a label column: 1/true/yes/anomalous → True, 0/false/no/normal → False; else BadInputError."""
    words = {"1": True, "true": True, "yes": True, "anomalous": True, "anomaly": True,
             "0": False, "false": False, "no": False, "normal": False}  # fmt: skip
    out, odd = [], []
    for value in column:
        key = str(value).strip().lower()
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and np.isfinite(value):
            key = {1: "1", 0: "0"}.get(value, key)
        if key in words:
            out.append(words[key])
        else:
            odd.append(value)
    if odd:
        shown = ", ".join(repr(v) for v in list(dict.fromkeys(map(str, odd)))[:5])
        raise BadInputError(
            f"label column '{name}' holds values that are not 1/0 or true/false: {shown}",
            "mark anomalous rows 1 (or true) and normal rows 0 (or false), with no missing labels",
        )
    return np.array(out, dtype=bool)


@register_pipeline("tabular/score")
class TabularScorePipeline(ValidationScores, Pipeline):
    """``pipe.score(df_or_path, threshold="auto")`` -> :class:`~genlab.tabular.output.ScoreOutput`: every row with
    its anomaly score (negative log-likelihood in nats under the model) and its verdict at a threshold."""

    task: ClassVar[str] = TASK
    verb: ClassVar[str] = "score"
    description: ClassVar[str] = "anomaly scores of table rows (negative log-likelihood), flagged at a threshold"
    request_class = ScoreRequest
    output_class = ScoreOutput

    @classmethod
    def hint_for(cls, model) -> str:
        if model.task != cls.task:
            return super().hint_for(model)
        from genlab.tabular.likelihood import scoring_models

        return "fit a model that can score rows: --model " + " | ".join(scoring_models())

    @classmethod
    def model_problem(cls, model) -> str | None:
        if not getattr(model, "can_score", False):
            return f"{model.registry_name} cannot score rows: it has no likelihood to evaluate"
        return None

    def default_filename(self, request: ScoreRequest) -> str:
        return "scores.csv"

    def scores(self, table: pd.DataFrame, samples: int = 16, seed: int | None = 0) -> np.ndarray:
        """Anomaly scores (n,) of typed rows in the model's columns (``TabularModel.score_rows``)."""
        return self.model.score_rows(table, samples=samples, generator=make_generator(0 if seed is None else seed))

    def threshold(self, request: ScoreRequest) -> tuple[float, dict[str, Any]]:
        """The threshold and how it was chosen (``auto``: on the run's validation rows at the target FPR)."""
        from genlab.tabular.task import validation_rows

        if request.threshold != "auto":
            return float(request.threshold), {"threshold_rule": "given"}

        def compute():
            try:
                val = validation_rows(self.model.provenance.data.get("config"))
            except DataError as e:
                raise BadInputError(
                    f"--threshold auto needs the run's validation rows: {e.message}",
                    "give a number (--threshold 25: scores are negative log-likelihoods in nats), or refit with "
                    "--val-fraction 0.1 on a table that is still there",
                ) from None
            return self.scores(val, request.samples, request.seed)

        scores = self.validation_scores((request.samples, request.seed), compute)
        info = {"threshold_rule": f"validation rows at FPR {request.target_fpr}", "n_validation": len(scores)}
        return threshold_at_fpr(scores, request.target_fpr), info

    def score(self, table, **options: Any) -> ScoreOutput:
        """Score ``table`` (a ``pandas.DataFrame``, a file or a dataset name); ``options`` are those of
        :class:`ScoreRequest` (threshold, target_fpr, label_column, samples, seed, data_dir)."""
        frame = table if isinstance(table, pd.DataFrame) else None
        request = self.request(table="<DataFrame>" if frame is not None else str(table), **options)
        return self._score(frame if frame is not None else request.table, request)

    def run(self, request: ScoreRequest) -> ScoreOutput:
        return self._score(request.table, request)

    def _score(self, source, request: ScoreRequest) -> ScoreOutput:
        from genlab.tabular.table import prepare_table, unknown_column

        raw, name = read_any(source, request.data_dir)
        meta = self.model.transformer.meta
        hint = "give rows in the columns of the table the model was fitted on (other columns are kept, unread)"
        rows = prepare_table(model_columns(raw, meta, name, hint, identifiers=False), meta)
        labels = None
        if request.label_column is not None:
            if request.label_column not in raw.columns:
                raise unknown_column(request.label_column, [str(c) for c in raw.columns])
            labels = anomaly_labels(raw[request.label_column], request.label_column)
        scores = self.scores(rows, request.samples, request.seed)
        threshold, info = self.threshold(request)
        flagged = scores > threshold
        record = {
            "model": self.model.registry_name, "score": "negative log-likelihood per row, nats", "rows": len(rows),
            "threshold": threshold, **info, "n_anomalous": int(flagged.sum()),
        }  # fmt: skip
        rule = info["threshold_rule"]
        message = f"{int(flagged.sum())} of {len(rows)} rows anomalous at threshold {threshold:.6g} ({rule})"
        if labels is not None:
            from genlab.core.anomaly import aupr, auroc, f1_at_threshold

            metrics = {"auroc": auroc(labels, scores), "aupr": aupr(labels, scores),
                       **f1_at_threshold(labels, scores, threshold)}  # fmt: skip
            record["metrics"] = {"label_column": request.label_column, "n_labelled_anomalous": int(labels.sum()),
                                 **metrics}  # fmt: skip
            message += f"; AUROC {metrics['auroc']:.4f}, AUPR {metrics['aupr']:.4f}, F1 {metrics['f1']:.4f}"
        info_line(message)
        table = raw.copy()
        table["anomaly_score"], table["anomalous"] = scores, flagged.astype(int)
        return ScoreOutput(table, record)
