"""Hyper-parameter search on Optuna: ``genlab tune`` (search spaces in YAML, samplers, pruning, shared storage)
and ``genlab tune report``. Guide: docs/tuning.md."""

from genlab.tune.report import load_study, write_report
from genlab.tune.space import Param, SearchSpace, load_space, parse_space
from genlab.tune.study import Objective, TrainingObjective, make_pruner, make_sampler, run_study, storage_url, tune

__all__ = ["Objective", "Param", "SearchSpace", "TrainingObjective", "load_space", "load_study", "make_pruner",
           "make_sampler", "parse_space", "run_study", "storage_url", "tune", "write_report"]  # fmt: skip
