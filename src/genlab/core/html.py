"""Self-contained HTML reports: a page style, tables, inline matplotlib figures, and the output that carries a
report as an HTML page and as JSON numbers (a synthetic-data report, a model explanation)."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any

from genlab.core.errors import BadInputError
from genlab.core.io import atomic_write_text
from genlab.core.pipeline import Output

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222}
body{padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ddd;padding:.3em .7em;text-align:left}
th{background:#f4f6f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:flex;flex-wrap:wrap;gap:.5em}.grid img{width:340px}img{max-width:100%}
.note{color:#666;font-size:.9em}pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.8em}
"""


def fmt(value: Any) -> str:
    """A cell: floats to 4 decimals, None/NaN as n/a, everything else escaped."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else html.escape(str(value))


def table(header: list[str], rows: list[list[Any]]) -> str:
    """An HTML table; float cells right-aligned."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{fmt(c)}</td>' if isinstance(c, float) else f"<td>{fmt(c)}</td>" for c in row)
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def figure(width: float, height: float):
    """A matplotlib figure (Agg canvas, no pyplot state), ``width`` × ``height`` inches at 100 dpi."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from genlab.core.plots import use_font_fallback

    use_font_fallback()  # column names and labels may be Chinese
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def img(fig, alt: str) -> str:
    """A figure as an inline PNG ``<img>``."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return png_img(buf.getvalue(), alt)


def png_img(data: bytes, alt: str, width: int | None = None) -> str:
    """PNG bytes as an inline ``<img>`` (``width`` in CSS pixels; pixel art stays sharp)."""
    encoded = base64.b64encode(data).decode("ascii")
    style = f' style="width:{width}px;image-rendering:pixelated"' if width else ""
    return f'<img alt="{html.escape(alt, quote=True)}"{style} src="data:image/png;base64,{encoded}">'


def page(title: str, body: str) -> str:
    """A whole page: title, style, body."""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


class ReportOutput(Output):
    """A report: ``report`` (the numbers, JSON) and ``html`` (the page with the figures)."""

    formats = {"html": "text/html", "json": "application/json"}
    suffix = ".html"

    def __init__(self, report: dict[str, Any], html: str):
        self.report, self.html = report, html

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        fmt = "json" if path.suffix.lower() == ".json" else "html"
        if path.suffix.lower() not in (".json", ".html", ".htm"):
            raise BadInputError(f"cannot write a report as '{path.suffix}'", "use .html or .json")
        atomic_write_text(path, self.encode(fmt).decode("utf-8"))
        return path

    def encode(self, format: str | None = None) -> bytes:
        fmt = self.check_format(format)
        if fmt == "json":
            return (json.dumps(self.report, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        return self.html.encode("utf-8")
