"""Making trained models smaller and faster: quantisation, pruning and distillation.

Each method reads a trained run and writes a new, normal run (its model, config, card and a ``compression.json``
report of size, one-thread latency and the task's quality metric against the original), which ``genlab sample``,
``genlab eval``, the server and the studio use like any other.
"""
