"""Encoder–decoder blocks: cross-attention, source padding masks, the bidirectional encoder, the decoder cache."""

import pytest
import torch

from genlab.nn.transformer import CrossAttention, Transformer, TransformerDecoder, padding_mask


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pair(dim=32, heads=4, layers=2):
    torch.manual_seed(0)
    encoder = Transformer(layers, dim, heads, causal=False).eval()
    decoder = TransformerDecoder(layers, dim, heads).eval()
    return encoder, decoder


def test_padding_mask_marks_the_real_positions():
    mask = padding_mask(torch.tensor([2, 4]), 4)
    assert mask.shape == (2, 1, 1, 4)
    assert mask[:, 0, 0].tolist() == [[True, True, False, False], [True, True, True, True]]


def test_the_encoder_is_not_causal():
    encoder, _ = pair()
    x = torch.randn(1, 6, 32)
    x2 = x.clone()
    x2[:, 5] = torch.randn(32)  # change the last source token: the first positions see it
    with torch.no_grad():
        assert not torch.allclose(encoder(x)[:, 0], encoder(x2)[:, 0], atol=1e-4)


def test_source_padding_changes_nothing_for_the_real_tokens():
    encoder, decoder = pair()
    src = torch.randn(1, 5, 32)
    tgt = torch.randn(1, 4, 32)
    padded = torch.cat([src, torch.randn(1, 3, 32) * 5], dim=1)  # three junk positions after the source
    mask = padding_mask(torch.tensor([5]), 8)
    with torch.no_grad():
        plain_memory = encoder(src)
        padded_memory = encoder(padded, attn_mask=mask)
        torch.testing.assert_close(padded_memory[:, :5], plain_memory, atol=1e-5, rtol=1e-5)
        out_plain = decoder(tgt, plain_memory)
        out_padded = decoder(tgt, padded_memory, mask)
    torch.testing.assert_close(out_padded, out_plain, atol=1e-5, rtol=1e-5)


def test_the_decoder_is_causal_and_reads_the_source():
    encoder, decoder = pair()
    memory = encoder(torch.randn(1, 5, 32))
    tgt = torch.randn(1, 6, 32)
    tgt2 = tgt.clone()
    tgt2[:, 4:] = torch.randn(1, 2, 32)
    with torch.no_grad():
        y, y2 = decoder(tgt, memory), decoder(tgt2, memory)
        other = decoder(tgt, encoder(torch.randn(1, 5, 32)))
    torch.testing.assert_close(y[:, :4], y2[:, :4], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(y[:, 4:], y2[:, 4:], atol=1e-4)
    assert not torch.allclose(y, other, atol=1e-4)


def test_cached_decoding_step_by_step_equals_the_full_forward():
    encoder, decoder = pair()
    lengths = torch.tensor([5, 3])
    mask = padding_mask(lengths, 5)
    with torch.no_grad():
        memory = encoder(torch.randn(2, 5, 32), attn_mask=mask)
        tgt = torch.randn(2, 7, 32)
        full = decoder(tgt, memory, mask)
        cache = decoder.new_cache(memory, mask, capacity=16)
        first = decoder(tgt[:, :3], cache=cache)  # a prompt of three positions, then one at a time
        steps = [first] + [decoder(tgt[:, t : t + 1], cache=cache) for t in range(3, 7)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    assert cache.self_attn.length == 7


def test_a_cache_of_one_source_expands_and_reorders_for_beams():
    encoder, decoder = pair()
    with torch.no_grad():
        memory = encoder(torch.randn(1, 4, 32))
        tgt = torch.randn(1, 3, 32)
        full = decoder(tgt, memory)
        cache = decoder.new_cache(memory, None, capacity=8, batch=3)
        decoder(tgt[:, :2].expand(3, -1, -1), cache=cache)
        cache.reorder(torch.tensor([2, 0, 0]))
        last = decoder(tgt[:, 2:].expand(3, -1, -1), cache=cache)
    for row in range(3):
        torch.testing.assert_close(last[row], full[0, 2:], atol=1e-5, rtol=1e-5)


def test_cross_attention_ignores_masked_source_positions():
    torch.manual_seed(0)
    attn = CrossAttention(16, 2).eval()
    x, memory = torch.randn(1, 3, 16), torch.randn(1, 4, 16)
    changed = memory.clone()
    changed[:, 3] = 100.0
    mask = padding_mask(torch.tensor([3]), 4)
    with torch.no_grad():
        a = attn(x, *attn.memory_kv(memory), mask)
        b = attn(x, *attn.memory_kv(changed), mask)
    torch.testing.assert_close(a, b)
