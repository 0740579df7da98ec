"""Loss-curve plots from a run's ``metrics.csv``."""

from __future__ import annotations

from pathlib import Path

from genlab.core.metrics_log import read_rows

SKIP = {"step", "epoch", "time_s"}


def plot_losses(metrics_csv: str | Path, out_png: str | Path, title: str = "") -> Path | None:
    """Plot every metric column against ``step``; returns the PNG path (None when nothing to plot)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_rows(metrics_csv)
    columns = [k for k in (rows[0].keys() if rows else []) if k not in SKIP]
    if not columns:
        return None
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for col in columns:
        pts = [(float(r["step"]), float(r[col])) for r in rows if r.get(col) not in ("", None)]
        if pts:
            xs, ys = zip(*pts, strict=False)
            ax.plot(xs, ys, label=col, marker="o" if col.startswith("val_") else None, ms=3, lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png)
    plt.close(fig)
    return out_png
