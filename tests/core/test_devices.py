"""CPU settings that genlab scopes to a block: subnormal flushing."""

import pytest
import torch

from genlab.core.devices import flush_denormals


def test_flush_denormals_zeroes_subnormals_inside_the_block_only():
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU has no flush-to-zero mode")
    subnormal = torch.tensor([1e-39], dtype=torch.float32)
    with flush_denormals():
        assert (subnormal * 1.0).item() == 0.0
    assert (subnormal * 1.0).item() == pytest.approx(1e-39, rel=1e-3)
