"""Graphs: graph I/O and orderings, message-passing layers, graph generators and their MMD evaluation."""

from genlab.graph import datasets, node, node_task  # noqa: F401  (registers datasets, node classifiers, their task)
