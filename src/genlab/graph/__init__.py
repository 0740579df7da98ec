"""Graphs: graph I/O and orderings, message-passing layers, graph generators and their MMD evaluation."""

from genlab.graph import datasets  # noqa: F401  (registers the built-in graph datasets)
