"""One report on a synthetic table: quality, ML efficacy and privacy, as JSON and as a self-contained HTML page.

:func:`build_report` runs :mod:`~genlab.tabular.quality` (always), :mod:`~genlab.tabular.efficacy` (with a
real holdout table and a target column) and :mod:`~genlab.tabular.privacy` (with a holdout table; the
attribute-inference attack also needs quasi-identifiers and a sensitive column). Each section keeps its
protocol (rows used, model, metric definitions, seed). :func:`render_html` draws the page: headline
numbers, per-column scores with the marginals, the pair-trend matrix, the real and synthetic correlation
matrices and the privacy numbers; figures are inline PNGs (matplotlib, Agg), so the file stands alone.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genlab.core.errors import BadInputError
from genlab.core.html import CSS
from genlab.core.html import figure as _figure
from genlab.core.html import fmt as _fmt
from genlab.core.html import img as _img
from genlab.core.html import table as _table
from genlab.core.io import atomic_write_json, atomic_write_text
from genlab.tabular.efficacy import ml_efficacy
from genlab.tabular.privacy import attribute_inference, dcr, membership_inference, nndr
from genlab.tabular.quality import CONTINUOUS, discrete_values, numeric_values, quality_report, subsample

MAX_PLOTTED_COLUMNS = 12
MAX_MATRIX_COLUMNS = 40
MAX_BARS = 20
PLOT_ROWS = 20_000
REAL_COLOUR, SYNTH_COLOUR = "#1f5fa8", "#e0822a"

PRIVACY_ROWS = [  # (key, label, what it says)
    ("dcr_median", "DCR median", "median distance of a synthetic row to its closest training row (0 = copies)"),
    (
        "dcr_holdout_median",
        "DCR median to holdout",
        "the same distance to unseen real rows; close to the DCR = no memorising",
    ),
    (
        "dcr_5th_percentile",
        "DCR 5th percentile",
        "the closest 5% of synthetic rows lie within this distance of a training row",
    ),
    (
        "share_closer_to_train",
        "share closer to train",
        "synthetic rows nearer the training than the holdout rows; 0.5 = no memorising",
    ),
    ("exact_matches", "exact matches", "fraction of synthetic rows identical to a training row"),
    ("nndr_median", "NNDR median", "nearest/second-nearest training distance; near 0 = rows sitting on one record"),
    (
        "mia_auroc",
        "membership inference AUROC",
        "a distance attack telling training rows from holdout rows; 0.5 = no leak",
    ),
    (
        "attribute_risk",
        "attribute inference risk",
        "attack accuracy (or error reduction) over the baseline guess; <= 0 = no leak",
    ),
]


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf as None, numpy scalars as Python numbers and tuples as lists (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _check_options(holdout, target, quasi, sensitive) -> None:
    if holdout is None and target is not None:
        raise BadInputError("ML efficacy needs a holdout table", "pass real rows the generator did not train on")
    if holdout is None and (quasi or sensitive):
        raise BadInputError(
            "the privacy section needs a holdout table", "pass real rows the generator did not train on"
        )
    if bool(quasi) != bool(sensitive):
        raise BadInputError(
            "attribute inference needs both quasi-identifiers and a sensitive column", "give both or neither"
        )


def build_report(
    real: pd.DataFrame,
    synth: pd.DataFrame,
    kinds: dict[str, str],
    holdout: pd.DataFrame | None = None,
    target: str | None = None,
    quasi: list[str] | None = None,
    sensitive: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The evaluation of ``synth`` against the real training table ``real`` (and a real ``holdout``).

    Returns a JSON-safe dict: ``summary`` (headline numbers), ``quality``, ``efficacy`` (with ``holdout`` and
    ``target``), ``privacy`` (with ``holdout``: ``dcr``, ``nndr``, ``membership_inference`` and, with
    ``quasi`` and ``sensitive``, ``attribute_inference``) and ``protocol``.
    """
    _check_options(holdout, target, quasi, sensitive)
    report: dict[str, Any] = {"quality": quality_report(real, synth, kinds, seed=seed)}
    summary = {k: report["quality"][k] for k in ("quality", "column_shapes", "column_pair_trends")}
    if target is not None:
        eff = ml_efficacy(real, holdout, target, kinds, synth=synth, seed=seed)
        report["efficacy"] = eff
        summary.update({"ml_efficacy": eff["ml_efficacy"], "ml_efficacy_real": eff["ml_efficacy_real"]})
    if holdout is not None:
        privacy = {
            "dcr": dcr(synth, real, holdout, kinds, seed=seed),
            "nndr": nndr(synth, real, kinds, seed=seed),
            "membership_inference": membership_inference(synth, real, holdout, kinds, seed=seed),
        }
        if quasi:
            privacy["attribute_inference"] = attribute_inference(synth, real, kinds, list(quasi), sensitive, seed=seed)
        report["privacy"] = privacy
        summary.update(_privacy_numbers(privacy))
    report["summary"] = summary
    report["protocol"] = {
        "seed": seed,
        "rows_real": len(real),
        "rows_synthetic": len(synth),
        "rows_holdout": None if holdout is None else len(holdout),
        "kinds": dict(kinds),
    }
    return json_safe(report)


def _privacy_numbers(privacy: dict[str, Any]) -> dict[str, Any]:
    numbers = {
        k: v for part in ("dcr", "nndr", "membership_inference") for k, v in privacy[part].items() if k != "protocol"
    }
    numbers.pop("nndr_5th_percentile", None)
    if "attribute_inference" in privacy:
        numbers["attribute_risk"] = privacy["attribute_inference"]["risk"]
    return numbers


# ----- HTML -----


def _marginal_plot(real: pd.Series, synth: pd.Series, name: str, kind: str, score: Any) -> str:
    fig = _figure(3.6, 2.6)
    ax = fig.add_subplot()
    if kind in CONTINUOUS:
        r, s = numeric_values(real, kind), numeric_values(synth, kind)
        if kind == "datetime":
            ns_per_year = 365.2425 * 86_400e9
            r, s = 1970 + r / ns_per_year, 1970 + s / ns_per_year
            ax.set_xlabel("year", fontsize=7)
        r, s = r[~np.isnan(r)], s[~np.isnan(s)]
        both = np.r_[r, s]
        bins = np.histogram_bin_edges(both, bins=30) if len(both) else 10
        ax.hist(r, bins=bins, density=True, alpha=0.55, color=REAL_COLOUR, label="real")
        ax.hist(s, bins=bins, density=True, alpha=0.55, color=SYNTH_COLOUR, label="synthetic")
    else:
        pr = discrete_values(real).value_counts(normalize=True)
        ps = discrete_values(synth).value_counts(normalize=True)
        cats = list(pr.index[:MAX_BARS]) + [c for c in ps.index if c not in pr.index][: max(0, MAX_BARS - len(pr))]
        x = np.arange(len(cats))
        ax.bar(x - 0.2, [pr.get(c, 0.0) for c in cats], 0.4, color=REAL_COLOUR, label="real")
        ax.bar(x + 0.2, [ps.get(c, 0.0) for c in cats], 0.4, color=SYNTH_COLOUR, label="synthetic")
        ax.set_xticks(x, [str(c)[:12] for c in cats], rotation=45, ha="right", fontsize=7)
    ax.set_title(f"{name[:40]}  (score {_fmt(score)})", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    return _img(fig, f"marginals of {name}")


def _matrix_plot(matrices: list[tuple[str, np.ndarray]], names: list[str], vmin: float, cmap: str) -> str:
    n = len(names)
    size = min(2.5 + 0.35 * n, 9.0)
    fig = _figure(size * len(matrices), size)
    for i, (title, matrix) in enumerate(matrices):
        ax = fig.add_subplot(1, len(matrices), i + 1)
        im = ax.imshow(np.ma.masked_invalid(matrix), vmin=vmin, vmax=1.0, cmap=cmap)
        labels = [str(c)[:16] for c in names]
        ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(n), labels, fontsize=7)
        ax.set_title(title, fontsize=9)
        if n <= 12:
            for (a, b), v in np.ndenumerate(matrix):
                if not np.isnan(v):
                    red, green, blue, _ = im.cmap(im.norm(v))
                    dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
                    ax.text(b, a, f"{v:.2f}", ha="center", va="center", fontsize=6, color="white" if dark else "black")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return _img(fig, " / ".join(t for t, _ in matrices))


def _pair_matrix(quality: dict[str, Any]) -> tuple[list[str], np.ndarray]:
    names = [d["column"] for d in quality["column_details"]][:MAX_MATRIX_COLUMNS]
    pos = {c: i for i, c in enumerate(names)}
    matrix = np.full((len(names), len(names)), np.nan)
    for d in quality["pair_details"]:
        a, b = pos.get(d["column_1"]), pos.get(d["column_2"])
        if a is not None and b is not None and d["score"] is not None:
            matrix[a, b] = matrix[b, a] = d["score"]
    return names, matrix


def _correlation_section(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]) -> str:
    names = [c for c, k in kinds.items() if k in CONTINUOUS][:MAX_MATRIX_COLUMNS]
    if len(names) < 2:
        return '<p class="note">Fewer than two continuous columns: no correlation matrix.</p>'
    mats = []
    for title, df in (("real", real), ("synthetic", synth)):
        numbers = pd.DataFrame({c: numeric_values(df[c], kinds[c]) for c in names})
        mats.append((f"Pearson correlation, {title}", numbers.corr().to_numpy()))
    return _matrix_plot(mats, names, vmin=-1.0, cmap="coolwarm")


def _quality_html(report: dict, real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]) -> str:
    quality = report["quality"]
    details = quality["column_details"]
    rows = [[d["column"], d["kind"], d["metric"], d["score"]] for d in details]
    worst = sorted(details, key=lambda d: (d["score"] is None, d["score"] if d["score"] is not None else 0.0))
    plots = "".join(
        _marginal_plot(real[d["column"]], synth[d["column"]], d["column"], d["kind"], d["score"])
        for d in worst[:MAX_PLOTTED_COLUMNS]
    )
    names, matrix = _pair_matrix(quality)
    pairs = _matrix_plot([("pair trend scores", matrix)], names, 0.0, "viridis") if len(names) >= 2 else ""
    counted = quality["protocol"]["pairs_counted"]
    return (
        '<h2 id="column-shapes">Column shapes</h2>'
        '<p class="note">KSComplement (continuous) and TVComplement (discrete); 1 = same marginal distribution.</p>'
        + _table(["column", "kind", "metric", "score"], rows)
        + f'<p class="note">Marginals of up to {MAX_PLOTTED_COLUMNS} columns, worst first.</p>'
        + f'<div class="grid">{plots}</div>'
        + '<h2 id="pair-trends">Column pair trends</h2>'
        + f'<p class="note">Correlation / contingency similarity of every pair; {counted} pair(s) related in the real '
        "table count in the average.</p>"
        + pairs
        + '<h2 id="correlations">Correlation matrices</h2>'
        + _correlation_section(real, synth, kinds)
    )


def _efficacy_html(eff: dict[str, Any]) -> str:
    rows = [
        ["task", eff["task"]],
        ["metric", eff["protocol"]["metric"]],
        ["trained on synthetic", eff["ml_efficacy"]],
        ["trained on real", eff["ml_efficacy_real"]],
    ]
    if eff["task"] == "classification":
        rows += [["accuracy, synthetic", eff["accuracy"]], ["accuracy, real", eff["accuracy_real"]]]
    rows.append(["model", eff["protocol"]["model"]])
    return (
        '<h2 id="efficacy">ML efficacy</h2><p class="note">Train on each table, test on the real holdout.</p>'
        + _table(["", "value"], rows)
    )


def _privacy_html(report: dict[str, Any]) -> str:
    summary = report["summary"]
    rows = [[label, summary[key], text] for key, label, text in PRIVACY_ROWS if key in summary]
    note = html.escape(report["privacy"]["dcr"]["protocol"]["distance"])
    return f'<h2 id="privacy">Privacy</h2><p class="note">Distance: {note}.</p>' + _table(
        ["metric", "value", "meaning"], rows
    )


def render_html(report: dict[str, Any], real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]) -> str:
    """A self-contained HTML page of ``report`` (from :func:`build_report`) with plots drawn from ``real``
    and ``synth`` (subsampled to 20,000 rows)."""
    seed = report.get("protocol", {}).get("seed", 0)
    real_p, synth_p = subsample(real, PLOT_ROWS, seed), subsample(synth, PLOT_ROWS, seed + 1)
    summary = [[k.replace("_", " "), v] for k, v in report["summary"].items()]
    parts = [
        '<h2 id="summary">Summary</h2>' + _table(["measure", "value"], summary),
        _quality_html(report, real_p, synth_p, kinds),
    ]
    if "efficacy" in report:
        parts.append(_efficacy_html(report["efficacy"]))
    if "privacy" in report:
        parts.append(_privacy_html(report))
    protocols = {"report": report.get("protocol", {}), "quality": report["quality"].get("protocol", {})}
    if "efficacy" in report:
        protocols["efficacy"] = report["efficacy"].get("protocol", {})
    for name, part in report.get("privacy", {}).items():
        protocols[f"privacy/{name}"] = part.get("protocol", {})
    protocol = html.escape(json.dumps(json_safe(protocols), indent=2))
    parts.append(f'<h2 id="protocol">Protocol</h2><pre>{protocol}</pre>')
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Synthetic data report</title>'
        f"<style>{CSS}</style></head><body><h1>Synthetic data report</h1>{''.join(parts)}</body></html>\n"
    )


def write_report(path: str | Path, report: dict[str, Any], html: str | None = None) -> Path:
    """Write ``report`` as JSON (``.json``) or the page ``html`` from :func:`render_html` (``.html``/``.htm``),
    atomically (a temporary file renamed into place)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        atomic_write_json(path, json_safe(report))
    elif suffix in (".html", ".htm"):
        if html is None:
            raise BadInputError(f"no HTML to write to {path}", "pass render_html(report, real, synth, kinds)")
        atomic_write_text(path, html)
    else:
        raise BadInputError(f"cannot write a report as '{suffix or path.name}'", "use a .json or .html file name")
    return path
