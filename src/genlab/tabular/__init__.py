"""Tabular data: tables and their types, reversible encodings, synthetic-data models, quality and privacy reports,
anonymisation."""

from genlab.tabular import copula, ctgan, data, ddpm, pipelines, task, tvae  # noqa: F401  (registers models, data, task)
