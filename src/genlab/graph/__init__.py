"""Graphs: graph I/O and orderings, message-passing layers, graph generators and their MMD evaluation."""
