"""Pictures of text-to-speech: attention alignments (text position against decoder step)."""

from __future__ import annotations

from pathlib import Path

import torch

from genlab.audio.plots import _figure, _save_png
from genlab.core.errors import BadInputError


def save_alignment_plot(alignments: list[torch.Tensor], path: str | Path, titles: list[str] | None = None) -> Path:
    """A PNG at ``path`` with one panel per alignment (decoder steps, symbols): decoder step on the x axis, input
    symbol on the y axis, weight as brightness. A converged attention is a bright line from the bottom left to
    the top right (the diagonal); returns ``path``."""
    if not alignments:
        raise BadInputError("no alignments to draw", "pass at least one (steps, symbols) matrix")
    titles = titles or [""] * len(alignments)
    fig, axes = _figure(1, len(alignments), (4.0, 3.0))
    for ax, attn, title in zip(axes.flat, alignments, titles, strict=True):
        image = ax.imshow(attn.detach().float().cpu().T.numpy(), origin="lower", aspect="auto", cmap="viridis",
                          vmin=0.0, vmax=1.0, interpolation="nearest")  # fmt: skip
        ax.set_xlabel("decoder step")
        ax.set_ylabel("input symbol")
        ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=axes, label="attention weight", shrink=0.8)
    return _save_png(fig, path)
