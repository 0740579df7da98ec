"""Graphs: graph I/O and orderings, message-passing layers, graph generators and their MMD evaluation."""

from genlab.graph import (  # noqa: F401  (registers datasets, node classifiers, graph generators and their tasks)
    baselines,
    datasets,
    graphrnn,
    graphvae,
    node,
    node_task,
    task,
)
