"""A toy modality that exists only in the test suite: 1-D numbers.

It is found through the ``genlab.modalities`` entry point a test declares, and registers a
task (``toy-numbers``), a dataset (``builtin:toy-normal``), a model (``toy/gaussian``),
pipelines (``toy/sample``, verb ``sample``, saving CSV; ``toy/shift``, verb ``shift``, a
file-to-file pipeline with positional arguments) and a metric (``toy/mean_error``) — without
any file under ``src/`` naming it.
"""

from tests.toy_modality import modality  # noqa: F401  (registers everything)
