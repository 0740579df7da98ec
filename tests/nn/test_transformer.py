"""The shared transformer block: causality, bidirectional mode, KV cache equivalence, rotary positions."""

import pytest
import torch

from genlab.core.errors import ConfigError
from genlab.nn.transformer import RotaryEmbedding, Transformer, apply_rotary


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a busy machine they cost a lot."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def stack(causal=True, layers=2, dim=32, heads=4, bias=False):
    torch.manual_seed(0)
    return Transformer(layers, dim, heads, bias=bias, causal=causal).eval()


def test_output_shape_and_causality():
    net = stack()
    x = torch.randn(2, 10, 32)
    y = net(x)
    assert y.shape == (2, 10, 32)
    x2 = x.clone()
    x2[:, 7:] = torch.randn(2, 3, 32)  # change the future
    y2 = net(x2)
    assert torch.allclose(y[:, :7], y2[:, :7], atol=1e-5)
    assert not torch.allclose(y[:, 7:], y2[:, 7:], atol=1e-3)


def test_bidirectional_block_sees_the_future():
    net = stack(causal=False)
    x = torch.randn(1, 6, 32)
    x2 = x.clone()
    x2[:, 5] = torch.randn(32)
    assert not torch.allclose(net(x)[:, 0], net(x2)[:, 0], atol=1e-4)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("chunks", [[12], [1] * 12, [5, 1, 4, 2]])
def test_kv_cache_gives_the_same_features_as_a_full_pass(chunks, bias):
    net = stack(bias=bias)
    x = torch.randn(3, 12, 32)
    full = net(x)
    cache = net.new_cache(3, 16, x)
    outs, start = [], 0
    for size in chunks:
        outs.append(net(x[:, start : start + size], cache))
        start += size
    assert cache.length == 12
    assert torch.allclose(torch.cat(outs, dim=1), full, atol=1e-5)


def test_cache_slides_when_full_and_keeps_relative_positions():
    net = stack(layers=1)  # one layer: cached keys depend only on their own token, so a window pass must match
    x = torch.randn(1, 10, 32)
    cache = net.new_cache(1, 4, x)
    for t in range(10):
        last = net(x[:, t : t + 1], cache)
    assert cache.length == 4 and cache.offset == 6
    # The last position attends to the 4 most recent ones; rotary makes their absolute positions irrelevant.
    window = net(x[:, 6:10])[:, -1:]
    assert torch.allclose(last, window, atol=1e-5)


def test_rotary_scores_depend_only_on_relative_position():
    rope = RotaryEmbedding(8)
    rotations = rope.tables(40, torch.device("cpu"))
    q, k = torch.randn(1, 1, 8), torch.randn(1, 1, 8)  # (B, T, D)

    def score(i, j):
        return float((apply_rotary(q, rotations[i : i + 1]) * apply_rotary(k, rotations[j : j + 1])).sum())

    assert score(5, 2) == pytest.approx(score(33, 30), abs=1e-4)
    assert score(5, 2) != pytest.approx(score(5, 4), abs=1e-3)
    assert torch.allclose(apply_rotary(q, rotations[:1]), q)  # position 0 is not rotated
    assert float(apply_rotary(q, rotations[7:8]).norm()) == pytest.approx(float(q.norm()), rel=1e-5)  # keeps norms


def test_bad_sizes_raise_config_errors():
    with pytest.raises(ConfigError, match="divisible"):
        Transformer(1, 30, 4)
    with pytest.raises(ConfigError, match="even"):
        RotaryEmbedding(7)


def test_rotation_matrix_matches_the_complex_rotation():
    rope = RotaryEmbedding(8)
    x = torch.randn(3, 8)
    rotations = rope.tables(RotaryEmbedding.MATRIX_CACHE_POSITIONS + 10, torch.device("cpu"))
    for position in (0, 1, 17, 299, RotaryEmbedding.MATRIX_CACHE_POSITIONS + 5):  # cached and built on the fly
        expected = apply_rotary(x[None], rotations[position : position + 1].expand(3, -1))[0]
        assert torch.allclose(x @ rope.matrix(position, torch.device("cpu")), expected, atol=1e-5)


def test_one_token_steps_take_the_fast_path_only_in_inference():
    net = stack()
    x = torch.randn(2, 6, 32)
    cache = net.new_cache(2, 8, x)
    net(x[:, :5], cache)
    net.train()  # dropout is 0, so training mode must give the same numbers through the general path
    general = net(x[:, 5:], cache)
    cache.length -= 1
    net.eval()
    fast = net(x[:, 5:], cache)
    assert torch.allclose(general, fast, atol=1e-5)


def test_rotary_table_grown_while_sampling_still_trains():
    """A table grown under inference_mode (a sample written mid-run) is rebuilt for the next training step."""
    rope = RotaryEmbedding(8)
    rope.tables(16, torch.device("cpu"))  # training made the table first
    with torch.inference_mode():
        rope.tables(1000, torch.device("cpu"))  # a long sample grew it
    x = torch.randn(1, 16, 1, 8, requires_grad=True)
    apply_rotary(x, rope.tables(16, torch.device("cpu"))).sum().backward()
    assert x.grad is not None
