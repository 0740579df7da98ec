"""nanoGPT's character-level CPU recipe in plain PyTorch: the peer of genlab's GPT training step.

A reimplementation of the published recipe, not nanoGPT's code: the GPT-2 architecture
(Radford et al. 2019) as nanoGPT configures it for Shakespeare on a CPU — pre-LayerNorm
blocks, causal self-attention through ``F.scaled_dot_product_attention``, a 4× GELU MLP,
learned position embeddings, an output projection tied to the token embedding, no biases,
no dropout — trained by AdamW (weight decay on 2-D weights only, betas 0.9/0.99) with the
gradient norm clipped at 1. A training step is a plain loop: forward, backward, clip, step.

    model = RecipeGPT(RecipeConfig(vocab_size=65))
    optimizer = adamw(model)
    loss = train_step(model, optimizer, x, y)   # x, y: (B, T) token ids, y shifted by one
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class RecipeConfig:
    """nanoGPT's CPU Shakespeare recipe (README: ``--n_layer=4 --n_head=4 --n_embd=128 --block_size=64``)."""

    vocab_size: int = 65
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0


class LayerNorm(nn.Module):
    """LayerNorm with a weight and no bias (the recipe uses no biases)."""

    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, None, 1e-5)


class CausalSelfAttention(nn.Module):
    """Multi-head attention where each position sees itself and the positions before it."""

    def __init__(self, c: RecipeConfig):
        super().__init__()
        self.n_head = c.n_head
        self.qkv = nn.Linear(c.n_embd, 3 * c.n_embd, bias=False)
        self.proj = nn.Linear(c.n_embd, c.n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        # (B, T, C) -> (B, heads, T, C / heads)
        q, k, v = (z.view(b, t, self.n_head, d // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    """x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, c: RecipeConfig):
        super().__init__()
        self.ln1, self.ln2 = LayerNorm(c.n_embd), LayerNorm(c.n_embd)
        self.attn = CausalSelfAttention(c)
        self.fc = nn.Linear(c.n_embd, 4 * c.n_embd, bias=False)
        self.fc_proj = nn.Linear(4 * c.n_embd, c.n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.fc_proj(F.gelu(self.fc(self.ln2(x))))


class RecipeGPT(nn.Module):
    """Token + learned position embeddings → blocks → final LayerNorm → tied output projection."""

    def __init__(self, c: RecipeConfig):
        super().__init__()
        self.config = c
        self.tok_emb = nn.Embedding(c.vocab_size, c.n_embd)
        self.pos_emb = nn.Embedding(c.block_size, c.n_embd)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = LayerNorm(c.n_embd)
        self.head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # tied embeddings (Press & Wolf 2017)
        for name, p in self.named_parameters():
            if p.dim() == 2:  # GPT-2 initialisation; residual projections scaled by 1/sqrt(2 * layers)
                std = 0.02 / math.sqrt(2 * c.n_layer) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, mean=0.0, std=std)

    def forward(self, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy (nats per token) of ``targets`` (B, T) given ``ids`` (B, T)."""
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.tok_emb(ids) + self.pos_emb(pos)
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    def num_parameters(self, non_embedding: bool = True) -> int:
        """Parameters, without the position embedding by default (it costs no FLOPs)."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.pos_emb.weight.numel() if non_embedding else n

    def flops_per_token(self) -> float:
        """Training FLOPs per token, ``6N + 12 L C T`` (Kaplan et al. 2020; PaLM, appendix B)."""
        c = self.config
        return 6 * self.num_parameters() + 12 * c.n_layer * c.n_embd * c.block_size


def adamw(model: RecipeGPT) -> torch.optim.AdamW:
    """AdamW with weight decay on the 2-D weights (matmuls, embeddings) and none on LayerNorm gains."""
    c = model.config
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": c.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=c.lr, betas=c.betas)


def train_step(model: RecipeGPT, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> float:
    """One optimizer step on the batch (x, y); returns the loss before the step."""
    loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), model.config.grad_clip)
    optimizer.step()
    return float(loss.detach())
