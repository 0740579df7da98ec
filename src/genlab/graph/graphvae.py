"""GraphVAE (Simonovsky & Komodakis 2018, "GraphVAE: Towards Generation of Small Graphs Using Variational
Autoencoders"): one latent vector per graph, decoded at once into a probabilistic graph of ``k = max_nodes``
node slots.

* Encoder: graph convolutions (Kipf & Welling 2017, ``H' = ReLU(D^-½ (A + I) D^-½ H W)``) over one-hot node
  degrees, a gated sum over the nodes (Li et al. 2016) and a linear map to the mean and log-variance of
  ``q(z | G)``.
* Decoder: an MLP from ``z`` to the logits of the ``k (k - 1) / 2`` edges and of the ``k`` node slots being used
  (the diagonal ``Ã_aa`` of the paper). The graphs here are unlabelled, so there are no node or edge feature
  heads (the paper's ``F̃`` and ``Ẽ``).
* Graph matching, as in the paper (§3.3): the input graph's nodes are matched to the decoded slots by
  max-pooling matching (Cho et al. 2014) over the affinity
  ``S((i, j), (a, b)) = A_ij Ã_ab Ã_aa Ã_bb`` for ``i ≠ j, a ≠ b`` and ``S((i, i), (a, a)) = A_ii Ã_aa s_ia``,
  where the node similarity ``s_ia = 1 / (1 + |d_i - d̃_a|)`` compares node degrees (the unlabelled graphs here
  have no node features; with a constant feature a uniform start is a fixed point of the max-pooling and the
  matching learns nothing), starting from ``x = s`` and iterating
  ``x_ia ← x_ia S((i,i),(a,a)) + Σ_{j ∈ N(i)} max_{b ≠ a} x_jb S((i,j),(a,b))`` (normalised), then
  rounding ``x`` to a permutation with the Hungarian algorithm. The reconstruction loss is the binary
  cross-entropy of the decoded edges and slots against the input graph permuted by that matching; no gradient
  flows through the matching itself.

Loss: reconstruction (sum over edges and slots, nats per graph) + ``kl_weight`` × KL(q(z | G) ‖ N(0, I)).
Sampling: ``z ~ N(0, I)``, each slot kept with probability ``Ã_aa``, each edge between kept slots drawn with
probability ``Ã_ab``. The matching costs O(k³) per iteration and graph here (vectorised), so graphs are
limited to :attr:`GraphVAE.node_limit` nodes, as the paper limits itself to small graphs.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.core.model import OptimizerSpec, register_model
from genlab.graph.base import GraphGenerativeModel, GraphModelConfig


class GraphVAEConfig(GraphModelConfig):
    """Sizes of the encoder and decoder, the matching and the loss."""

    latent_dim: int = Field(32, ge=1, le=1024, description="size of the graph-level latent z")
    encoder_dims: list[int] = Field([64, 64], min_length=1, description="widths of the graph convolutions")
    decoder_dims: list[int] = Field([128, 256, 512], min_length=1, description="widths of the decoder MLP")
    matching_iterations: int = Field(50, ge=1, le=1000, description="max-pooling matching iterations")
    kl_weight: float = Field(1.0, ge=0, description="weight of the KL term (1: the ELBO)")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    schedule: Literal["constant", "cosine"] = Field("cosine", description="learning rate over the run (cosine: to 0)")


def max_pooling_matching(
    adj: torch.Tensor, nodes: torch.Tensor, edge_prob: torch.Tensor, node_prob: torch.Tensor, iterations: int
) -> torch.Tensor:
    """The slot of every input node: (B, K) long, ``slot[b, i]`` for input node ``i`` (padding nodes too).

    ``adj`` (B, K, K) and ``nodes`` (B, K) are the input graphs (0/1); ``edge_prob`` (B, K, K) and ``node_prob``
    (B, K) the decoded probabilities. Max-pooling matching (module docstring), then the Hungarian algorithm.
    """
    from scipy.optimize import linear_sum_assignment

    b, k, _ = adj.shape
    off = 1.0 - torch.eye(k, device=adj.device)
    pair = edge_prob * node_prob[:, :, None] * node_prob[:, None, :] * off  # (B, K_a, K_b): Ã_ab Ã_aa Ã_bb
    adj = adj * off
    # (B, K_i, K_a): A_ii Ã_aa times the similarity of the degrees d_i and d̃_a = Σ_b Ã_ab (the node feature)
    degree_gap = (adj.sum(-1)[:, :, None] - (edge_prob * off).sum(-1)[:, None, :]).abs()
    node_affinity = nodes[:, :, None] * node_prob[:, None, :] / (1.0 + degree_gap)
    x = node_affinity / node_affinity.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]
    for _ in range(iterations):
        # best[b, j, a] = max over b' of x[j, b'] · S((., j), (a, b'))
        best = (x[:, :, None, :] * pair[:, None, :, :]).amax(-1)  # (B, K_j, K_a)
        x = x * node_affinity + adj @ best  # Σ_j A_ij best[j, a]
        x = x / x.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]
    slots = torch.empty(b, k, dtype=torch.long)
    scores = x.detach().cpu().numpy()
    for g in range(b):
        rows, cols = linear_sum_assignment(-scores[g])
        slots[g, torch.from_numpy(rows)] = torch.from_numpy(cols)
    return slots.to(adj.device)


def permute_to_slots(adj: torch.Tensor, nodes: torch.Tensor, slots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The input graphs moved to their slots: ``A'[slot_i, slot_j] = A_ij`` (B, K, K) and ``e'[slot_i] = e_i``."""
    perm = F.one_hot(slots, adj.shape[1]).to(adj.dtype)  # (B, K_i, K_a)
    return perm.transpose(1, 2) @ adj @ perm, (perm * nodes[:, :, None]).sum(1)


@register_model("graph/graphvae")
class GraphVAE(GraphGenerativeModel):
    """Graph-level VAE with an MLP decoder of the whole adjacency and graph-matched loss (module docstring)."""

    config_class = GraphVAEConfig
    description: ClassVar[str] = "GraphVAE: graph-level latent, MLP decoder, max-pooling graph matching"
    node_limit: ClassVar[int | None] = 64
    config: GraphVAEConfig

    def __init__(self, config: GraphVAEConfig):
        super().__init__(config)
        c = config
        k = max(c.max_nodes, 1)
        dims = [k, *c.encoder_dims]
        self.convs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.gate = nn.Linear(dims[-1], dims[-1])
        self.readout = nn.Linear(dims[-1], dims[-1])
        self.to_latent = nn.Linear(dims[-1], 2 * c.latent_dim)
        layers: list[nn.Module] = []
        width = c.latent_dim
        for d in c.decoder_dims:
            layers += [nn.Linear(width, d), nn.ReLU()]
            width = d
        self.decoder = nn.Sequential(*layers)
        self.edge_out = nn.Linear(width, k * (k - 1) // 2)
        self.node_out = nn.Linear(width, k)
        self.register_buffer("upper", torch.triu_indices(k, k, 1), persistent=False)

    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        return [OptimizerSpec("model", list(self.parameters()), c.lr, schedule=c.schedule)]

    # --- encoder / decoder -------------------------------------------------------------
    def encode(self, adj: torch.Tensor, nodes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance (B, latent_dim) of q(z | G) for adjacency (B, K, K) and node masks (B, K)."""
        k = adj.shape[1]
        deg = adj.sum(-1)
        h = F.one_hot(deg.long().clamp_max(k - 1), k).float() * nodes[..., None]  # (B, K, K): one-hot degrees
        a_hat = adj + torch.diag_embed(nodes)
        norm = a_hat.sum(-1).clamp_min(1).rsqrt()
        a_hat = norm[:, :, None] * a_hat * norm[:, None, :]
        for conv in self.convs:
            h = F.relu(a_hat @ conv(h))
        pooled = (torch.sigmoid(self.gate(h)) * torch.tanh(self.readout(h)) * nodes[..., None]).sum(1)
        mu, logvar = self.to_latent(pooled).chunk(2, -1)
        return mu, logvar.clamp(-10, 10)

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Edge logits (B, K, K) (symmetric, zero diagonal) and slot logits (B, K) of latents z (B, latent_dim)."""
        k = max(self.config.max_nodes, 1)
        h = self.decoder(z)
        upper = self.edge_out(h)
        edges = torch.zeros(z.shape[0], k, k, device=z.device, dtype=upper.dtype)
        edges[:, self.upper[0], self.upper[1]] = upper
        return edges + edges.transpose(1, 2), self.node_out(h)

    # --- training ------------------------------------------------------------------------
    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """``loss`` = reconstruction under the graph matching + kl_weight · KL, both in nats per graph."""
        batch = self.check_batch(batch)
        adj, n_nodes = batch["adj"].float(), batch["n_nodes"].long()
        k = adj.shape[1]
        nodes = (torch.arange(k, device=adj.device)[None, :] < n_nodes[:, None]).float()
        mu, logvar = self.encode(adj, nodes)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        edge_logits, node_logits = self.decode(z)
        with torch.no_grad():
            slots = max_pooling_matching(
                adj, nodes, torch.sigmoid(edge_logits), torch.sigmoid(node_logits), self.config.matching_iterations
            )
        target_adj, target_nodes = permute_to_slots(adj, nodes, slots)
        iu = self.upper
        edge_nll = F.binary_cross_entropy_with_logits(
            edge_logits[:, iu[0], iu[1]], target_adj[:, iu[0], iu[1]], reduction="none"
        ).sum(1)
        node_nll = F.binary_cross_entropy_with_logits(node_logits, target_nodes, reduction="none").sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        recon = (edge_nll + node_nll).mean()
        return {"loss": recon + self.config.kl_weight * kl.mean(), "recon": recon, "kl": kl.mean()}

    # --- generation --------------------------------------------------------------------------
    @torch.no_grad()
    def generate_adjacency(self, n: int, generator: torch.Generator | None = None) -> list[np.ndarray]:
        c = self.config
        k = max(c.max_nodes, 1)
        z = torch.randn(n, c.latent_dim, generator=generator).to(self.device)
        edge_logits, node_logits = self.decode(z)
        node_prob = torch.sigmoid(node_logits).cpu()
        keep = torch.rand(n, k, generator=generator) < node_prob
        empty = ~keep.any(1)  # a graph has at least one node: its most probable slot
        keep[empty, node_prob[empty].argmax(1)] = True
        keep = keep.numpy()
        upper = torch.rand(n, k, k, generator=generator).triu(1)
        drawn = (upper + upper.transpose(1, 2)) < torch.sigmoid(edge_logits).cpu()
        drawn &= ~torch.eye(k, dtype=torch.bool)
        drawn = drawn.numpy().astype(np.uint8)
        return [drawn[i][np.ix_(keep[i], keep[i])] for i in range(n)]
