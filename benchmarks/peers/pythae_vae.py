"""Pythae's ``VAE`` with its default MLP encoder and decoder: the peer of genlab's ``image/vae`` training step.

Pythae (Chadebec et al. 2022) is optional — ``pip install pythae==0.1.2`` (the ``dev`` extra); every
function here raises ``ImportError`` without it. Its default networks for 28×28 images are
784 → 512 → (μ, log σ²) of size 16 and 16 → 512 → 784 with a sigmoid (829,232 parameters).
A step is what Pythae's ``BaseTrainer`` does per batch: the model's ``loss``, ``zero_grad``,
``backward``, ``Adam.step``.
"""

from __future__ import annotations

from typing import Any

import torch


def build(latent_dim: int = 16, reconstruction_loss: str = "bce", lr: float = 1e-4) -> tuple[Any, Any]:
    """Pythae's MNIST VAE (input (1, 28, 28), default MLP networks) and its Adam optimizer."""
    from pythae.models import VAE, VAEConfig

    config = VAEConfig(input_dim=(1, 28, 28), latent_dim=latent_dim, reconstruction_loss=reconstruction_loss)
    model = VAE(model_config=config).train()
    return model, torch.optim.Adam(model.parameters(), lr=lr)


def train_step(model: Any, optimizer: torch.optim.Optimizer, images01: torch.Tensor, dataset_size: int) -> float:
    """One optimizer step on ``images01`` (B, 1, 28, 28) in [0, 1], as ``BaseTrainer.train_step`` does it."""
    output = model({"data": images01}, epoch=1, dataset_size=dataset_size, uses_ddp=False)
    optimizer.zero_grad()
    output.loss.backward()
    optimizer.step()
    return float(output.loss.detach())
