"""The ``tabular-synthesis`` task: a table in, a generator of synthetic rows out.

``genlab synth fit patients.csv --model tvae --max-minutes 5 --name pts`` (or ``genlab train tabular-synthesis
--data patients.csv …``) reads the table, detects the column types (shown; a metadata file edited by the user
overrides them, ``--meta meta.yaml``), encodes it the way the chosen model reads numbers (mode-specific
normalisation for TVAE/CTGAN, quantile-normal scores for TabDDPM and the copula) and trains. The fitted
encoding travels in the model's config, so ``genlab synth sample RUN`` writes rows in the table's own columns
and types.

Loading is two-step: :meth:`TabularTask.load_data` reads and types the table; the encoding is fitted in
:meth:`TabularTask.fill_model_config`, once the model (and so its encoding) is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pydantic import Field
from torch.utils.data import Dataset

from genlab.core.config import Config
from genlab.core.data import DataInfo, parse_source
from genlab.core.errors import BadInputError, ConfigError, DataError
from genlab.core.registry import DATASETS, TASKS
from genlab.core.task import Task
from genlab.tabular.base import TASK, TabularModel
from genlab.tabular.pipelines import TabularSamplePipeline

PREVIEW_ROWS = 200  # rows of the sample table written during and after training


class TabularDataConfig(Config):
    """Which table to learn and how to read it."""

    source: str = Field(..., description="a CSV/TSV/Parquet file, or a dataset: adult, builtin:breast-cancer, …")
    data_dir: str | None = Field(None, description="folder of standard datasets (adult)")
    meta: str | None = Field(
        None, description="metadata YAML (column kinds, constraints, missing-value tokens) overriding detection"
    )
    file_encoding: str | None = Field(None, description="text encoding of a CSV that is not UTF-8 (latin-1, cp1252)")
    val_fraction: float = Field(
        0.0, ge=0, lt=0.5, description="rows held out for validation losses and for `synth score --threshold auto`"
    )
    max_rows: int | None = Field(None, ge=10, description="train on a random subset of at most this many rows")
    max_categories: int = Field(1000, ge=2, description="a column with more distinct values is refused (or an id)")
    max_modes: int = Field(10, ge=1, le=50, description="mixture modes per numerical column (mode encoding)")
    split_seed: int = Field(0, description="seed of the row subset and the validation split")


class TableDataset(Dataset):
    """Rows of a typed table; :meth:`encode` turns them into the float rows the neural models train on."""

    def __init__(self, table: pd.DataFrame):
        self.table = table.reset_index(drop=True)
        self.encoded: torch.Tensor | None = None

    def encode(self, transformer) -> None:
        self.encoded = torch.from_numpy(np.ascontiguousarray(transformer.transform(self.table), dtype=np.float32))

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, index: int) -> torch.Tensor:
        if self.encoded is None:
            raise RuntimeError("the table is not encoded yet (TabularTask.fill_model_config encodes it)")
        return self.encoded[index]


@dataclass
class TabularDataInfo(DataInfo):
    """What was loaded: source, rows, the column metadata and the encoding fitted for the model."""

    source: str
    skipped: list[str]
    rows: int
    val_rows: int
    meta: dict[str, Any]
    target: str | None = None
    encoded_width: int = 0
    config: dict[str, Any] = field(default_factory=dict)  # the data config, to rebuild the validation rows
    train: TableDataset | None = field(default=None, repr=False, metadata={"saved": False})
    val: TableDataset | None = field(default=None, repr=False, metadata={"saved": False})
    model_class: type | None = field(default=None, repr=False, metadata={"saved": False})


def read_source(cfg: TabularDataConfig) -> tuple[pd.DataFrame, str | None]:
    """The raw table of ``cfg.source`` and its usual target column (None for a user file)."""
    from genlab.tabular.table import read_table

    name, split = parse_source(cfg.source)
    if name in DATASETS and DATASETS.get(name).modality == "tabular":
        spec = DATASETS.get(name)
        table = spec(split, data_dir=cfg.data_dir) if spec.splits else spec()
        return table, spec.extras.get("target")
    path = Path(cfg.source).expanduser()
    if not path.exists():
        tabular = ", ".join(DATASETS.names(modality="tabular"))
        raise BadInputError(f"no such file or dataset: {cfg.source}", f"give a CSV/Parquet file or one of: {tabular}")
    return read_table(path, encoding=cfg.file_encoding), None


def load_table(cfg: TabularDataConfig):
    """The typed table of ``cfg`` and its metadata (detected, then overridden by ``cfg.meta``)."""
    from genlab.tabular.table import TableMeta, detect_meta, prepare_table

    raw, target = read_source(cfg)
    user_meta = TableMeta.load(cfg.meta) if cfg.meta else None
    meta = detect_meta(raw, max_categories=cfg.max_categories, meta=user_meta)
    return prepare_table(raw, meta), meta, target


def split_rows(table: pd.DataFrame, cfg: TabularDataConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training and validation rows of ``table``: at most ``cfg.max_rows`` rows (a seeded subset), of which
    a seeded share ``cfg.val_fraction`` is held out (the validation part is empty when it is 0)."""
    rng = np.random.default_rng(cfg.split_seed)
    if cfg.max_rows is not None and len(table) > cfg.max_rows:
        table = table.iloc[np.sort(rng.choice(len(table), cfg.max_rows, replace=False))]
    n_val = int(round(len(table) * cfg.val_fraction))
    order = rng.permutation(len(table))
    return table.iloc[np.sort(order[n_val:])], table.iloc[np.sort(order[:n_val])]


def validation_rows(data_config: dict[str, Any] | None) -> pd.DataFrame:
    """The validation rows (typed, in the table's columns) of the data a model was trained on, from its
    recorded data config; raises :class:`DataError` when it records none, holds none or the data is gone."""
    if not data_config:
        raise DataError("the model records no data config (it was saved outside a run, or by an older genlab)")
    cfg = TabularDataConfig.build(data_config, where="data")
    if cfg.val_fraction <= 0:
        raise DataError("the run has no validation rows (data.val_fraction=0)")
    try:
        table, _, _ = load_table(cfg)
    except BadInputError as e:
        raise DataError(f"its training table cannot be read again: {e.message}") from None
    val = split_rows(table, cfg)[1].reset_index(drop=True)
    if not len(val):
        raise DataError(f"the run's validation share ({cfg.val_fraction}) of its table holds no rows")
    return val


class TabularTask(Task):
    name = TASK
    modality = "tabular"
    description = "synthetic tables that keep the statistics of a real one (CSV/Parquet)"
    data_config_class = TabularDataConfig
    default_model = "tvae"
    pipeline_class = TabularSamplePipeline
    command_group = "synth"
    cli_options = {
        "--meta": "data.meta",
        "--encoding": "data.file_encoding",
        "--max-rows": "data.max_rows",
        "--val-fraction": "data.val_fraction",
    }

    def load_data(self, data_cfg: TabularDataConfig):
        table, meta, target = load_table(data_cfg)
        train_rows, val_rows = split_rows(table, data_cfg)
        train = TableDataset(train_rows)
        val = TableDataset(val_rows) if len(val_rows) else None
        info = TabularDataInfo(
            data_cfg.source, [], len(train), len(val_rows), meta.to_dict(), target, config=data_cfg.to_dict(),
            train=train, val=val,
        )  # fmt: skip
        self._max_modes, self._seed, self._meta = data_cfg.max_modes, data_cfg.split_seed, meta
        self._preview = None
        return train, val, info

    def check_model_fits_data(self, model_cls, info: TabularDataInfo) -> None:
        info.model_class = model_cls  # the encoding is fitted for this model in fill_model_config

    def fill_model_config(self, values: dict[str, Any], info: TabularDataInfo) -> dict[str, Any]:
        from genlab.tabular.transform import TableTransformer

        model_cls = info.model_class or TabularModel
        from genlab.tabular.constraints import ConstraintSet

        for key in ("data_dim", "spans", "transformer", "constraints"):
            if key in values:
                raise ConfigError(f"model.{key} is set from the data", f"drop the override of model.{key}")
        transformer = TableTransformer().fit(
            info.train.table, self._meta, numerical=model_cls.numerical_encoding, max_modes=self._max_modes,
            seed=self._seed, spikes=model_cls.numerical_spikes,
        )  # fmt: skip
        for ds in (info.train, info.val):
            if ds is not None:
                ds.encode(transformer)
        info.encoded_width = transformer.output_dim
        filled = {
            **values,
            "data_dim": transformer.output_dim,
            "spans": [s.to_dict() for s in transformer.spans],
            "transformer": transformer.to_dict(),
        }
        if self._meta.constraints:  # fixed combinations record the ones the training rows have
            filled["constraints"] = ConstraintSet.from_meta(self._meta).fit(info.train.table).to_dict()
        # CTGAN samples its conditions by category frequency; stratified draws keep the training shares
        filled["category_counts"] = category_counts(info.train.encoded, transformer.spans)
        return filled

    def write_samples(self, model: TabularModel, stem: Path, seed: int) -> Path:
        """A CSV of synthetic rows (``PREVIEW_ROWS``) drawn with ``seed``, and beside it ``meta.yaml``: the column
        kinds and constraints the model was trained with (copy it, edit it, pass it back with ``--meta``)."""
        from genlab.tabular.table import write_table

        stem.parent.mkdir(parents=True, exist_ok=True)
        model.transformer.meta.save(stem.parent / "meta.yaml")
        table = model.sample_table(PREVIEW_ROWS, torch.Generator().manual_seed(seed))
        path = stem.with_suffix(".csv")
        write_table(table, path, model.transformer.meta)
        return path

    def describe_data(self, info: TabularDataInfo) -> str:
        from genlab.tabular.table import TableMeta

        meta = TableMeta.build(info.meta)
        val = f", {info.val_rows} held out for validation" if info.val_rows else ""
        return f"table {info.source}: {info.rows} rows{val}, {len(meta.columns)} columns\n{meta.describe()}"


def category_counts(encoded: torch.Tensor, spans) -> dict[str, list[int]]:
    """Rows per category of every categorical column (its ``category`` span), from encoded rows."""
    return {
        s.column: encoded[:, s.start : s.stop].sum(0).round().long().tolist()
        for s in spans
        if s.kind == "softmax" and s.role == "category"
    }


TASKS.register(TASK)(TabularTask())
