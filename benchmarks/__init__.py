"""genlab's benchmarks: each module trains and evaluates through the public API with fixed budgets.

Run one as ``python -m benchmarks.<task>`` from the repository root (``make bench`` runs all);
each writes ``benchmarks/results/<task>.json`` (see :mod:`benchmarks.common`).
"""
