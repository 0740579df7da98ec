"""A general pre-norm transformer block: causal or bidirectional, rotary positions, KV cache.

Shared by every sequence model in genlab (text GPTs now; music and SMILES models later).
Attention runs through :func:`torch.nn.functional.scaled_dot_product_attention`, which picks
the fastest kernel available on the device. Shapes: ``x`` is (B, T, C); attention heads
work on (B, H, T, D) with ``C = H * D``.

Rotary position embeddings (Su et al. 2021, "RoFormer") rotate queries and keys by an angle
proportional to their absolute position, so attention scores depend only on relative
offsets; a model therefore needs no learned position table, and a KV cache can slide.

Encoder–decoders (:class:`TransformerDecoder`, at the end) reuse the same attention, MLP, cache and
rotary code: a bidirectional :class:`Transformer` encodes the source, and decoder blocks add
cross-attention (:class:`CrossAttention`) over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.errors import ConfigError


class RotaryEmbedding(nn.Module):
    """Rotary position embeddings for heads of size ``head_dim`` (even), as unit complex numbers.

    Channel pairs (2i, 2i+1) of a query or key at position p are rotated by the angle
    ``p * base ** (-2i / head_dim)``: one complex multiplication per tensor.
    """

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ConfigError(f"rotary embeddings need an even head size, got {head_dim}", "change n_embd or n_head")
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self._cache: torch.Tensor | None = None
        self._matrices: torch.Tensor | None = None

    def tables(self, length: int, device: torch.device) -> torch.Tensor:
        """Complex rotations (length, head_dim // 2) for positions 0..length-1 (cached, grown on demand)."""
        stale = self._cache is not None and self._cache.is_inference() and not torch.is_inference_mode_enabled()
        if self._cache is None or len(self._cache) < length or self._cache.device != device or stale:
            # (grown during sampling under inference_mode, the table cannot enter training's autograd graph)
            size = max(length, 2 * (len(self._cache) if self._cache is not None else 0), 256)
            angles = torch.outer(torch.arange(size, device=device, dtype=torch.float32), self.inv_freq.to(device))
            self._cache = torch.polar(torch.ones_like(angles), angles)
        return self._cache[:length]

    #: Positions whose rotation matrices are cached (head_dim² floats each: 4 MB for head_dim 32).
    MATRIX_CACHE_POSITIONS = 1024

    def matrix(self, position: int, device: torch.device) -> torch.Tensor:
        """The rotation of one position as a real (head_dim, head_dim) matrix ``R``: ``x @ R`` rotates ``x``.

        One-token decoding steps use it because one small matmul costs a third of the complex
        multiplication's several kernel launches. Matrices of the first ``MATRIX_CACHE_POSITIONS``
        positions are cached; later ones (long generations past a sliding cache) are built per call.
        """
        if position >= self.MATRIX_CACHE_POSITIONS:
            return self._rotation_matrices(self.tables(position + 1, device)[position:])[0]
        if self._matrices is None or len(self._matrices) <= position or self._matrices.device != device:
            size = min(
                max(position + 1, 2 * (len(self._matrices) if self._matrices is not None else 0), 256),
                self.MATRIX_CACHE_POSITIONS,
            )
            self._matrices = self._rotation_matrices(self.tables(size, device))
        return self._matrices[position]

    @staticmethod
    def _rotation_matrices(rotations: torch.Tensor) -> torch.Tensor:
        """(N, D/2) complex rotations → (N, D, D) real matrices acting on row vectors."""
        n, half = rotations.shape
        idx = torch.arange(0, 2 * half, 2, device=rotations.device)
        mats = torch.zeros(n, 2 * half, 2 * half, device=rotations.device)
        # (x0, x1) -> (x0 cos - x1 sin, x0 sin + x1 cos) written as row-vector times matrix
        mats[:, idx, idx] = rotations.real
        mats[:, idx + 1, idx + 1] = rotations.real
        mats[:, idx + 1, idx] = -rotations.imag
        mats[:, idx, idx + 1] = rotations.imag
        return mats


def apply_rotary(x: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs of ``x`` (B, T, ..., D) by ``rotations`` (T, D/2), complex."""
    shape = (rotations.shape[0], *([1] * (x.ndim - 3)), rotations.shape[1])
    pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(pairs * rotations.view(shape)).flatten(-2).to(x.dtype)


@dataclass
class KVCache:
    """Keys and values of past positions for every layer, preallocated to ``capacity`` positions.

    ``offset`` is the absolute position of the first cached entry: when the cache is full it
    slides (drops its oldest ``keep`` entries), which rotary positions allow because scores
    depend only on relative offsets.
    """

    keys: list[torch.Tensor]  # per layer: (B, H, capacity, D)
    values: list[torch.Tensor]
    length: int = 0  # entries filled
    offset: int = 0  # absolute position of entry 0
    layer_params: list | None = None  # per-layer weights laid out for fast one-token steps (copied once per cache)

    @classmethod
    def empty(cls, n_layers: int, batch: int, n_heads: int, capacity: int, head_dim: int, like: torch.Tensor):
        """An empty cache for ``n_layers`` layers on the device/dtype of tensor ``like``."""
        shape = (batch, n_heads, capacity, head_dim)
        make = lambda: torch.zeros(shape, device=like.device, dtype=like.dtype)  # noqa: E731
        return cls([make() for _ in range(n_layers)], [make() for _ in range(n_layers)])

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2]

    @property
    def next_position(self) -> int:
        """Absolute position of the next token to be written."""
        return self.offset + self.length

    def make_room(self, new: int) -> None:
        """Drop the oldest entries so ``new`` more fit (a sliding window over the last ``capacity`` tokens)."""
        overflow = self.length + new - self.capacity
        if overflow <= 0:
            return
        if new > self.capacity:
            raise ValueError(f"cannot add {new} positions to a cache of capacity {self.capacity}")
        keep = self.length - overflow
        for buf in (*self.keys, *self.values):
            buf[:, :, :keep] = buf[:, :, overflow : self.length].clone()
        self.length, self.offset = keep, self.offset + overflow

    def reorder(self, index: torch.Tensor) -> None:
        """Select batch rows ``index`` (beam search keeps the surviving beams)."""
        self.keys = [k.index_select(0, index) for k in self.keys]
        self.values = [v.index_select(0, index) for v in self.values]


class SelfAttention(nn.Module):
    """Multi-head self-attention with rotary positions; causal or bidirectional; optional KV cache."""

    def __init__(self, dim: int, n_heads: int, dropout: float = 0.0, bias: bool = False, causal: bool = True):
        super().__init__()
        if dim % n_heads:
            raise ConfigError(f"embedding size {dim} is not divisible by {n_heads} heads", "pick n_embd = k * n_head")
        self.n_heads, self.head_dim, self.causal, self.dropout = n_heads, dim // n_heads, causal, dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        rope: torch.Tensor,
        cache: KVCache | None = None,
        layer: int = 0,
        attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``x`` (B, T, C) → (B, T, C). ``rope``: rotations of these T positions; ``cache`` extends in place."""
        b, t, c = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.n_heads, self.head_dim)
        qk = apply_rotary(qkv[:, :, :2], rope)  # queries and keys rotated in one go
        q, k = qk.permute(2, 0, 3, 1, 4)  # (B, T, 2, H, D) -> 2 × (B, H, T, D)
        v = qkv[:, :, 2].transpose(1, 2)
        past = 0
        if cache is not None:
            past = cache.length
            cache.keys[layer][:, :, past : past + t] = k
            cache.values[layer][:, :, past : past + t] = v
            k, v = cache.keys[layer][:, :, : past + t], cache.values[layer][:, :, : past + t]
        is_causal = False
        if self.causal and attn_mask is None:
            if past == 0:
                is_causal = t > 1
            elif t > 1:  # new queries see every cached key and the new keys up to themselves
                attn_mask = torch.ones(t, past + t, dtype=torch.bool, device=x.device).tril(diagonal=past)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0, is_causal=is_causal
        )
        y = y.transpose(1, 2).reshape(b, t, c)  # (B, H, T, D) -> (B, T, C)
        return self.resid_dropout(self.proj(y))

    def weights(self, x: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
        """The attention weights (B, H, T, T) :meth:`forward` applies to ``x`` (B, T, C), for inspection: row i is
        how query position i spreads over the key positions (softmax(q·kᵀ/√d), causal when the layer is)."""
        b, t, _ = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.n_heads, self.head_dim)
        q, k = apply_rotary(qkv[:, :, :2], rope).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        if self.causal:
            scores = scores.masked_fill(~torch.ones(t, t, dtype=torch.bool, device=x.device).tril(), float("-inf"))
        return scores.softmax(-1)

    def forward_past(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, past_k: torch.Tensor, past_v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Causal attention of ``x`` (B, T, C) after past keys/values (B, H, P, D), with no state: returns the
        output (B, T, C) and the keys and values of all P + T positions. Rotations as real ``cos``/``sin``
        (T, D/2) of positions P … P+T−1 (the graph an exporter traces: no complex numbers, no in-place cache)."""
        b, t, c = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.n_heads, self.head_dim)
        q, k = rotate_real(qkv[:, :, :2], cos, sin).permute(2, 0, 3, 1, 4)  # 2 × (B, H, T, D)
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, qkv[:, :, 2].transpose(1, 2)], dim=2)
        p = past_k.shape[2]
        seen = torch.arange(p + t, device=x.device)[None, :] <= (p + torch.arange(t, device=x.device))[:, None]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=seen)  # query j sees keys 0 … P+j
        return self.proj(y.transpose(1, 2).reshape(b, t, c)), k, v


def rotate_real(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """:func:`apply_rotary` in real arithmetic: channel pairs (x0, x1) of ``x`` (B, T, ..., D) become
    (x0·cos − x1·sin, x0·sin + x1·cos), with ``cos``/``sin`` (T, D/2)."""
    shape = (cos.shape[0], *([1] * (x.ndim - 3)), cos.shape[1])
    cos, sin = cos.view(shape), sin.view(shape)
    pairs = x.float().reshape(*x.shape[:-1], -1, 2)
    x0, x1 = pairs[..., 0], pairs[..., 1]
    return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).flatten(-2).to(x.dtype)


class MLP(nn.Module):
    """Position-wise feed-forward network: Linear → GELU → Linear."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0, bias: bool = False):
        super().__init__()
        self.fc = nn.Linear(dim, hidden, bias=bias)
        self.proj = nn.Linear(hidden, dim, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + attn(norm(x))`` then ``x + mlp(norm(x))`` (GPT-2 layout)."""

    def __init__(
        self,
        dim: int,
        n_heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        bias: bool = False,
        causal: bool = True,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, bias=bias)
        self.attn = SelfAttention(dim, n_heads, dropout, bias, causal)
        self.norm2 = nn.LayerNorm(dim, bias=bias)
        self.mlp = MLP(dim, int(mlp_ratio * dim), dropout, bias)

    def forward(self, x, rope, cache: KVCache | None = None, layer: int = 0, attn_mask=None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), rope, cache, layer, attn_mask)
        return x + self.mlp(self.norm2(x))


class Transformer(nn.Module):
    """A stack of :class:`TransformerBlock` with rotary positions and a final LayerNorm.

    ``forward(x, cache)`` maps embeddings (B, T, C) to features (B, T, C). With a cache the
    T new positions continue after the cached ones (generation one token at a time).
    """

    def __init__(
        self,
        n_layers: int,
        dim: int,
        n_heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        bias: bool = False,
        causal: bool = True,
    ):
        super().__init__()
        self.n_heads, self.head_dim = n_heads, dim // n_heads
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, n_heads, mlp_ratio, dropout, bias, causal) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(dim, bias=bias)
        self.rotary = RotaryEmbedding(self.head_dim)

    def new_cache(self, batch: int, capacity: int, like: torch.Tensor) -> KVCache:
        """An empty KV cache for ``batch`` sequences of up to ``capacity`` positions (then it slides)."""
        return KVCache.empty(len(self.blocks), batch, self.n_heads, capacity, self.head_dim, like)

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, attn_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        t = x.shape[1]
        if cache is not None and t == 1 and attn_mask is None and not self.training:
            if cache.layer_params is None:  # once per generation: attribute access is slow, transposed copies are fast
                cache.layer_params = [_decode_params(block) for block in self.blocks] if self._plain() else []
            if cache.layer_params:
                return self._decode_one(x, cache)
        start = 0
        if cache is not None:
            cache.make_room(t)
            start = cache.next_position
        rope = self.rotary.tables(start + t, x.device)[start:]
        for i, block in enumerate(self.blocks):
            x = block(x, rope, cache, i, attn_mask)
        if cache is not None:
            cache.length += t
        return self.norm(x)

    def attention_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights of every layer and head for embeddings ``x`` (B, T, C): (L, B, H, T, T)."""
        rope = self.rotary.tables(x.shape[1], x.device)
        maps = []
        for block in self.blocks:
            maps.append(block.attn.weights(block.norm1(x), rope))
            x = block(x, rope)
        return torch.stack(maps)

    def forward_past(
        self, x: torch.Tensor, past_keys: torch.Tensor, past_values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``forward`` with the cache as tensors in and out, no state (for export): embeddings ``x`` (B, T, C)
        after P past positions whose keys and values are ``past_keys``/``past_values`` (L, B, H, P, D; P may be 0)
        -> (features (B, T, C), keys and values (L, B, H, P+T, D)). Causal stacks only."""
        if not self.blocks[0].attn.causal:
            raise ValueError("forward_past needs a causal transformer")
        p, t = past_keys.shape[3], x.shape[1]
        positions = torch.arange(t, device=x.device, dtype=torch.float32) + p
        angles = torch.outer(positions, self.rotary.inv_freq)
        cos, sin = angles.cos(), angles.sin()
        keys, values = [], []
        for i, block in enumerate(self.blocks):
            y, k, v = block.attn.forward_past(block.norm1(x), cos, sin, past_keys[i], past_values[i])
            x = x + y
            x = x + block.mlp(block.norm2(x))
            keys.append(k)
            values.append(v)
        return self.norm(x), torch.stack(keys), torch.stack(values)

    def _plain(self) -> bool:
        """True when every block computes with float ``nn.Linear`` layers or dynamically quantised int8 ones: the
        fused one-token path reads their weights (or packed int8 weights); others take the general path."""
        return all(
            type(layer) is nn.Linear or _packed_int8(layer) is not None
            for b in self.blocks
            for layer in (b.attn.qkv, b.attn.proj, b.mlp.fc, b.mlp.proj)
        )

    def _decode_one(self, x: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """``forward`` for one new position with a cache, in inference: the same arithmetic in fewer kernels.

        A single-token step on a small model is bound by per-operation overhead, not FLOPs, so this
        path calls the functional ops directly (no module dispatch, no dropout), rotates queries
        and keys with one matmul, and writes keys and values straight into the cache. Tested to
        give the same features as the general path.
        """
        cache.make_room(1)
        rotation = self.rotary.matrix(cache.next_position, x.device)
        past, b, c = cache.length, x.shape[0], x.shape[-1]
        h, d = self.n_heads, self.head_dim
        x = x.view(b, c)  # one position: work on (B, C) rows, so residual adds fuse into addmm
        for i, (n1, eps1, qkv, proj, n2, eps2, fc, out) in enumerate(cache.layer_params):
            qkv = _linear(torch.layer_norm(x, (c,), *n1, eps1), *qkv)  # (B, 3C)
            # rotate queries and keys as (B*2*H, D) rows: one mm; narrow/select are cheaper than slicing syntax
            qk = torch.mm(qkv.narrow(1, 0, 2 * c).reshape(-1, d), rotation).view(b, 2, h, 1, d)
            keys, values = cache.keys[i], cache.values[i]
            keys.narrow(2, past, 1).copy_(qk.select(1, 1))
            values.narrow(2, past, 1).copy_(qkv.view(b, 3, h, 1, d).select(1, 2))
            y = F.scaled_dot_product_attention(
                qk.select(1, 0), keys.narrow(2, 0, past + 1), values.narrow(2, 0, past + 1)
            )
            x = _add_linear(x, y.view(b, c), *proj)
            u = _linear(torch.layer_norm(x, (c,), *n2, eps2), *fc)  # the MLP's pre-activation over sqrt(2)
            x = _add_linear(x, torch.addcmul(u, u, torch.erf(u)), *out)  # exact GELU, its 1/sqrt(2) in `out`
        cache.length += 1
        x = x.view(b, 1, c)
        return torch.layer_norm(x, (c,), self.norm.weight, self.norm.bias, self.norm.eps)


@dataclass(frozen=True)
class _Int8Linear:
    """A dynamically quantised int8 linear layer in the fused path: its packed weights (bias included), with the
    GELU factor applied to its input (``in_scale``) or output (``out_scale``) instead of folded into the weights."""

    packed: Any
    in_scale: float = 1.0
    out_scale: float = 1.0

    def __call__(self, inp: torch.Tensor) -> torch.Tensor:
        inp = inp if self.in_scale == 1.0 else inp * self.in_scale
        y = torch.ops.quantized.linear_dynamic(inp, self.packed, True)  # reduce_range, as the module computes
        return y if self.out_scale == 1.0 else y * self.out_scale


def _packed_int8(layer: nn.Module) -> Any:
    """The packed weights of a dynamically quantised int8 linear layer (``torch.ao``'s dynamic ``Linear``), or None."""
    packed = getattr(layer, "_packed_params", None)
    return (
        getattr(packed, "_packed_params", None)
        if packed is not None and getattr(packed, "dtype", None) == torch.qint8
        else None
    )


def _add_linear(x: torch.Tensor, inp: torch.Tensor, weight_t: Any, bias: torch.Tensor | None) -> torch.Tensor:
    """``x + inp @ weight_t (+ bias)`` for (B, C) rows: one ``addmm`` kernel instead of a matmul and an add."""
    if type(weight_t) is _Int8Linear:
        return x + weight_t(inp)
    return torch.addmm(x if bias is None else x + bias, inp, weight_t)


def _linear(inp: torch.Tensor, weight_t: Any, bias: torch.Tensor | None) -> torch.Tensor:
    """``inp @ weight_t (+ bias)`` for (B, C) rows, with the weight stored transposed."""
    if type(weight_t) is _Int8Linear:
        return weight_t(inp)
    return torch.mm(inp, weight_t) if bias is None else torch.addmm(bias, inp, weight_t)


def _transposed(weight: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``weight.t() * scale`` laid out contiguously: a (1, C) @ (C, N) product runs ~20% faster on it on a CPU."""
    return (weight.t() * scale).contiguous() if scale != 1.0 else weight.t().contiguous()


def _fused(layer: nn.Module, in_scale: float = 1.0, out_scale: float = 1.0) -> tuple[Any, torch.Tensor | None]:
    """(weight transposed × both scales, bias × out_scale) of a float layer; (:class:`_Int8Linear`, None) of int8."""
    packed = _packed_int8(layer)
    if packed is not None:
        return _Int8Linear(packed, in_scale, out_scale), None
    bias = layer.bias if layer.bias is None or out_scale == 1.0 else layer.bias * out_scale
    return _transposed(layer.weight, in_scale * out_scale), bias


def _decode_params(block: TransformerBlock) -> tuple:
    """The parameters :meth:`Transformer._decode_one` uses, in its order, as (weight transposed, bias) pairs
    (an int8 layer: its packed weights, see :class:`_Int8Linear`).

    Exact GELU is ``0.5 x (1 + erf(x / sqrt 2))``; with ``u = x / sqrt 2`` it is ``(u + u erf(u)) / sqrt 2``,
    two cheap kernels (one ``erf``, one ``addcmul``) instead of ATen's ``gelu``, which costs three
    times as much on a row of a few hundred values. Both factors ``1/sqrt 2`` are folded into the
    MLP's weights here, once per generation.
    """
    a, m = block.attn, block.mlp
    s = 1 / math.sqrt(2)
    return (
        (block.norm1.weight, block.norm1.bias),
        block.norm1.eps,
        _fused(a.qkv),
        _fused(a.proj),
        (block.norm2.weight, block.norm2.bias),
        block.norm2.eps,
        _fused(m.fc, out_scale=s),
        _fused(m.proj, in_scale=s),
    )


# --------------------------------------------------------------------------- encoder–decoder
# An encoder–decoder (Vaswani et al. 2017, "Attention Is All You Need", section 3.1) is built from the
# blocks above: the encoder is a bidirectional :class:`Transformer` (``causal=False``) whose attention
# reads a source padding mask (:func:`padding_mask`); each decoder block adds cross-attention between
# its causal self-attention and its MLP. Cross-attention carries no rotary rotation: the encoder output
# already encodes source positions, and a target position has no meaningful offset to a source one.


def padding_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """Attention mask (B, 1, 1, S), True where key ``s < lengths[b]``: every query sees the real keys only."""
    keep = torch.arange(max_length, device=lengths.device)[None, :] < lengths[:, None]  # (B, S)
    return keep[:, None, None, :]


class CrossAttention(nn.Module):
    """Multi-head attention of decoder queries (B, T, C) over encoder keys/values (B, S, C).

    :meth:`memory_kv` projects the encoder output once per source; :meth:`forward` then costs one
    query projection per decoder position, so a decoding step reuses the source's keys and values.
    """

    def __init__(self, dim: int, n_heads: int, dropout: float = 0.0, bias: bool = False):
        super().__init__()
        if dim % n_heads:
            raise ConfigError(f"embedding size {dim} is not divisible by {n_heads} heads", "pick d_model = k * n_head")
        self.n_heads, self.head_dim, self.dropout = n_heads, dim // n_heads, dropout
        self.q = nn.Linear(dim, dim, bias=bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)

    def memory_kv(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values (B, H, S, D) of the encoder output ``memory`` (B, S, C)."""
        b, s, _ = memory.shape
        kv = self.kv(memory).view(b, s, 2, self.n_heads, self.head_dim)
        k, v = kv.permute(2, 0, 3, 1, 4)  # (B, S, 2, H, D) -> 2 × (B, H, S, D)
        return k, v

    def forward(
        self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``x`` (B, T, C) → (B, T, C); ``mask`` (B, 1, 1, S) True where a source position is real."""
        b, t, c = x.shape
        q = self.q(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, D)
        y = F.scaled_dot_product_attention(
            q, keys, values, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(b, t, c)))


class DecoderBlock(nn.Module):
    """Pre-norm decoder block: causal self-attention, cross-attention over the source, MLP; each residual."""

    def __init__(self, dim: int, n_heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0, bias: bool = False):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, bias=bias)
        self.attn = SelfAttention(dim, n_heads, dropout, bias, causal=True)
        self.norm_cross = nn.LayerNorm(dim, bias=bias)
        self.cross = CrossAttention(dim, n_heads, dropout, bias)
        self.norm2 = nn.LayerNorm(dim, bias=bias)
        self.mlp = MLP(dim, int(mlp_ratio * dim), dropout, bias)

    def forward(self, x, rope, keys, values, mask=None, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), rope, cache, layer)
        x = x + self.cross(self.norm_cross(x), keys, values, mask)
        return x + self.mlp(self.norm2(x))


@dataclass
class DecoderCache:
    """Decoding state of a :class:`TransformerDecoder`: the self-attention :class:`KVCache`, which grows by
    one position per step, and the cross-attention keys/values of the source, computed once per source."""

    self_attn: KVCache
    cross_keys: list[torch.Tensor]  # per layer: (B, H, S, D)
    cross_values: list[torch.Tensor]
    mask: torch.Tensor | None = None  # (B, 1, 1, S) source padding mask

    def reorder(self, index: torch.Tensor) -> None:
        """Select batch rows ``index`` (beam search; also expands one source to several beams)."""
        self.self_attn.reorder(index)
        self.cross_keys = [k.index_select(0, index) for k in self.cross_keys]
        self.cross_values = [v.index_select(0, index) for v in self.cross_values]
        if self.mask is not None:
            self.mask = self.mask.index_select(0, index)


class TransformerDecoder(nn.Module):
    """A stack of :class:`DecoderBlock` with rotary positions (self-attention only) and a final LayerNorm.

    ``forward(x, memory, mask)`` maps target embeddings (B, T, C) to features (B, T, C) given the encoder
    output ``memory`` (B, S, C). With a :class:`DecoderCache` (from :meth:`new_cache`) the T new
    positions continue after the cached ones and the cached source keys/values are reused.
    """

    def __init__(
        self, n_layers: int, dim: int, n_heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0, bias: bool = False
    ):
        super().__init__()
        self.n_heads, self.head_dim = n_heads, dim // n_heads
        self.blocks = nn.ModuleList(DecoderBlock(dim, n_heads, mlp_ratio, dropout, bias) for _ in range(n_layers))
        self.norm = nn.LayerNorm(dim, bias=bias)
        self.rotary = RotaryEmbedding(self.head_dim)

    def memory_kv(self, memory: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Every layer's cross-attention keys and values of ``memory`` (B, S, C)."""
        pairs = [block.cross.memory_kv(memory) for block in self.blocks]
        return [k for k, _ in pairs], [v for _, v in pairs]

    def new_cache(
        self, memory: torch.Tensor, mask: torch.Tensor | None, capacity: int, batch: int | None = None
    ) -> DecoderCache:
        """A cache for decoding ``batch`` targets (default: one per source row) of up to ``capacity`` positions
        against ``memory`` (B, S, C); one source row is expanded to ``batch`` rows."""
        keys, values = self.memory_kv(memory)
        batch = batch or memory.shape[0]
        cache = DecoderCache(
            KVCache.empty(len(self.blocks), memory.shape[0], self.n_heads, capacity, self.head_dim, memory),
            keys, values, mask,
        )  # fmt: skip
        if batch != memory.shape[0]:
            if memory.shape[0] != 1:
                raise ValueError(f"cannot decode {batch} targets against {memory.shape[0]} sources")
            cache.reorder(torch.zeros(batch, dtype=torch.long, device=memory.device))
        return cache

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        cache: DecoderCache | None = None,
    ) -> torch.Tensor:
        t, start = x.shape[1], 0
        if cache is None:
            if memory is None:
                raise ValueError("the decoder needs the encoder output (memory) or a cache built from it")
            keys, values = self.memory_kv(memory)
            self_cache = None
        else:
            keys, values, mask, self_cache = cache.cross_keys, cache.cross_values, cache.mask, cache.self_attn
            self_cache.make_room(t)
            start = self_cache.next_position
        rope = self.rotary.tables(start + t, x.device)[start:]
        for i, block in enumerate(self.blocks):
            x = block(x, rope, keys[i], values[i], mask, self_cache, i)
        if self_cache is not None:
            self_cache.length += t
        return self.norm(x)
