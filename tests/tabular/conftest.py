"""Tabular tests run torch on one thread: tiny tensors gain nothing from intra-op threads, and on a busy
machine they cost a lot (a hundredfold on two shared cores)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
