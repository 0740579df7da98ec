"""Monotonic alignment search: the most likely hard alignment of input symbols to mel frames.

A non-autoregressive acoustic model needs to know how many frames each input symbol lasts. Glow-TTS (Kim et al.
2020) finds it without an external aligner: given the log-likelihood ``log_p[l, f]`` of frame ``f`` under symbol
``l``, take the alignment ``A`` that maximises ``Σ_f log_p[A(f), f]`` over the paths that are

* monotonic: ``A(f + 1) ∈ {A(f), A(f) + 1}`` (symbols are read in order, none skipped),
* surjective: ``A(0) = 0`` and ``A(F − 1) = L − 1`` (every symbol gets at least one frame, every frame one symbol).

Dynamic programming (their Algorithm 1) finds it in ``O(L·F)``: the best score of a path that ends at symbol
``l`` on frame ``f`` is

    Q[l, f] = max(Q[l − 1, f − 1], Q[l, f − 1]) + log_p[l, f],   Q[0, 0] = log_p[0, 0],   Q[l > 0, 0] = −∞,

and the path is read back from ``(L − 1, F − 1)``, stepping to the symbol the maximum came from. Frames run one
after another (each column depends on the previous one); the batch and the symbol axis are vectorised. The search
runs in NumPy on the CPU, where a step over a (B, L) column costs microseconds (a GPU would launch kernels for
each of the F steps); it gives no gradient, the alignment being a target the model is trained towards.

Reference:
    J. Kim, S. Kim, J. Kong and S. Yoon, "Glow-TTS: A Generative Flow for Text-to-Speech via Monotonic Alignment
    Search", NeurIPS 2020.
"""

from __future__ import annotations

import numpy as np
import torch

from genlab.core.errors import BadInputError


@torch.no_grad()
def monotonic_alignment_search(
    log_p: torch.Tensor, id_lengths: torch.Tensor, mel_lengths: torch.Tensor
) -> torch.Tensor:
    """The best monotonic, surjective 0/1 alignment (B, L, F) of ``log_p`` (B, L, F), the log-likelihood of each
    frame under each symbol. Only ``log_p[b, :id_lengths[b], :mel_lengths[b]]`` is read; the alignment is 0
    elsewhere. Raises :class:`BadInputError` when a mel has fewer frames than its symbol sequence has symbols."""
    if log_p.dim() != 3:
        raise BadInputError(f"log_p must be (batch, symbols, frames), got shape {tuple(log_p.shape)}")
    batch, n_symbols, n_frames = log_p.shape
    ids = torch.as_tensor(id_lengths).long().cpu().numpy()
    frames = torch.as_tensor(mel_lengths).long().cpu().numpy()
    if ids.shape != (batch,) or frames.shape != (batch,):
        raise BadInputError(f"need one symbol and one frame count per utterance ({batch}), got {ids.shape}, "
                            f"{frames.shape}")  # fmt: skip
    if (ids < 1).any() or (ids > n_symbols).any() or (frames > n_frames).any():
        raise BadInputError("lengths out of range", f"id lengths in 1..{n_symbols}, mel lengths ≤ {n_frames}")
    short = np.nonzero(frames < ids)[0]
    if len(short):
        b = int(short[0])
        raise BadInputError(
            f"utterance {b} has {int(frames[b])} mel frames for {int(ids[b])} symbols: every symbol needs a frame",
            "drop utterances whose audio is too short for their text (or use a shorter hop)",
        )
    scores = log_p.detach().float().cpu().numpy()
    came_down = np.zeros((batch, n_symbols, n_frames), dtype=bool)  # the path reached (l, f) from (l - 1, f - 1)
    q = np.full((batch, n_symbols), -np.inf, dtype=np.float32)
    q[:, 0] = scores[:, 0, 0]
    for f in range(1, n_frames):
        from_above = np.concatenate([np.full((batch, 1), -np.inf, dtype=np.float32), q[:, :-1]], axis=1)
        came_down[:, :, f] = from_above > q
        q = np.maximum(from_above, q) + scores[:, :, f]
    # Read the path back from (L_b - 1, F_b - 1); frames past F_b leave the path alone.
    path = np.zeros((batch, n_symbols, n_frames), dtype=np.float32)
    rows = np.arange(batch)
    symbol = ids - 1
    for f in range(n_frames - 1, -1, -1):
        active = f < frames
        path[rows[active], symbol[active], f] = 1.0
        symbol = symbol - (active & came_down[rows, symbol, f])
    return torch.from_numpy(path).to(device=log_p.device, dtype=log_p.dtype)


def durations(alignment: torch.Tensor) -> torch.Tensor:
    """Frames (B, L) given to each symbol by a 0/1 alignment (B, L, F)."""
    return alignment.sum(-1).round().long()
