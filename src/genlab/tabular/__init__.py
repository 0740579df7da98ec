"""Tabular data: tables and their types, reversible encodings, synthetic-data models, quality and privacy reports."""
