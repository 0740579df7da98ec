"""Piano-roll plots of pieces: one horizontal bar per note (time in beats, MIDI pitch), one colour per voice."""

from __future__ import annotations

from pathlib import Path

from genlab.core.errors import BadInputError
from genlab.core.io import atomic_write
from genlab.music.notes import Piece


def piano_roll(piece: Piece, path: str | Path, title: str | None = None) -> Path:
    """Draw ``piece`` as a piano roll PNG at ``path`` (written atomically); bar lines dotted, chord symbols on
    top. Returns the path."""
    if not piece.notes:
        raise BadInputError("the piece has no notes to draw")
    from matplotlib.figure import Figure  # the object API draws on the Agg canvas without pyplot's global state

    path = Path(path).expanduser()
    colours = [f"C{v % 10}" for v in range(piece.voices or 1)]
    width = min(24.0, max(6.0, piece.length / 4.0))
    fig = Figure(figsize=(width, 4), dpi=110)
    ax = fig.add_subplot()
    for v in range(piece.voices or 1):
        notes = piece.voice(v)
        if notes:
            for n in notes:
                ax.broken_barh([(n.start, n.duration)], (n.pitch - 0.4, 0.8), facecolors=colours[v],
                               alpha=0.4 + 0.6 * n.velocity / 127)  # fmt: skip
            ax.plot([], [], color=colours[v], lw=6, label=f"voice {v}")
    for b in range(piece.n_bars + 1):
        ax.axvline(b * piece.beats_per_bar, color="0.7", lw=0.6, ls=":")
    low, high = min(piece.pitches()), max(piece.pitches())
    for c in piece.chords:
        ax.text(c.start, high + 1.5, c.name.replace(":maj", "").replace(":", ""), fontsize=7, va="bottom")
    ax.set_ylim(low - 2, high + (4 if piece.chords else 2))
    ax.set_xlim(0, max(piece.length, piece.beats_per_bar))
    ax.set_xlabel("beats (quarter notes)")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title if title is not None else piece.title)
    if (piece.voices or 1) > 1:
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    return path
