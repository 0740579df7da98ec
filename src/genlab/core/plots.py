"""Loss-curve plots from a run's ``metrics.csv``."""

from __future__ import annotations

import functools
from pathlib import Path

from genlab.core.metrics_log import read_rows

SKIP = {"step", "epoch", "time_s"}
#: Fonts with Chinese glyphs, tried in order when the default font (DejaVu Sans) lacks a character: matplotlib
#: falls back glyph by glyph along the families of ``font.family``. ``make setup`` installs WenQuanYi Micro Hei
#: (apt ``fonts-wqy-microhei``, 5 MB; Apache-2.0 or GPLv3 with the font exception) where it can; a font file
#: installed after matplotlib built its font cache is added from its usual path.
CJK_FONTS = {
    "WenQuanYi Micro Hei": "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "Noto Sans CJK SC": "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "Noto Sans SC": "",
    "Source Han Sans SC": "",
    "PingFang SC": "",
    "Microsoft YaHei": "",
    "SimHei": "",
}


@functools.cache
def use_font_fallback() -> list[str]:
    """Let every genlab plot draw Chinese text (Mandarin sentences, poem titles) with an installed CJK font
    instead of empty boxes; returns the fallback fonts found (none: the boxes stay, nothing fails). Runs once per
    process: every plotting function calls it."""
    from matplotlib import font_manager, rcParams

    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name, path in CJK_FONTS.items():
        if name not in installed and path and Path(path).is_file():
            font_manager.fontManager.addfont(path)
            installed.add(name)
    found = [name for name in CJK_FONTS if name in installed]
    family = list(rcParams["font.family"])  # explicit families after the generic one: matplotlib falls back
    rcParams["font.family"] = [*family, *(f for f in found if f not in family)]  # along them glyph by glyph
    return found


def plot_losses(metrics_csv: str | Path, out_png: str | Path, title: str = "") -> Path | None:
    """Plot every metric column against ``step``; returns the PNG path (None when nothing to plot)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    use_font_fallback()

    rows = read_rows(metrics_csv)
    columns = [k for k in (rows[0].keys() if rows else []) if k not in SKIP]
    if not columns:
        return None
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for col in columns:
        _curve(ax, rows, col, col)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, out_png)


def plot_runs(metrics_csvs: dict[str, str | Path], out_png: str | Path, max_panels: int = 4) -> Path | None:
    """Runs' loss curves overlaid: one panel per loss column the runs share (at most ``max_panels``, training
    losses before validation ones), one line per run (``metrics_csvs``: label -> metrics.csv). None when the
    runs share no loss column."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    use_font_fallback()

    tables = {label: read_rows(path) for label, path in metrics_csvs.items()}
    shared = None
    for rows in tables.values():
        columns = {k for r in rows for k, v in r.items() if k not in SKIP and v not in ("", None)}
        shared = columns if shared is None else shared & columns
    panels = sorted(shared or (), key=lambda c: (c.startswith("val_"), c))[:max_panels]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), dpi=110, squeeze=False)
    for ax, col in zip(axes[0], panels, strict=True):
        for label, rows in tables.items():
            _curve(ax, rows, col, label)
        ax.set_xlabel("step")
        ax.set_title(col, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    return _save(fig, out_png)


def _curve(ax, rows: list[dict], col: str, label: str) -> None:
    """Column ``col`` of metrics rows against ``step`` (validation columns with markers: they are sparse)."""
    pts = [(float(r["step"]), float(r[col])) for r in rows if r.get(col) not in ("", None)]
    if pts:
        xs, ys = zip(*pts, strict=False)
        ax.plot(xs, ys, label=label, lw=1, marker="o" if col.startswith("val_") else None, ms=3)


def _save(fig, out_png: str | Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png)
    plt.close(fig)
    return out_png
