"""``genlab tune report STUDY --out report.html``: a study on one page.

The page holds the trial counts by state, the best trials (with one objective: the ten best; with several: the
Pareto front) with their parameters and runs, the optimisation history (each trial's value and the best so far),
the parameter importances (Optuna's fANOVA evaluator, once enough trials are complete), the Pareto front as a
scatter for two objectives, and the failed trials with their errors. Plots are PNGs inside the HTML file.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from genlab.core.errors import BadInputError
from genlab.core.optional import require


def load_study(study: str, storage: str) -> Any:
    optuna = require("optuna", "tune", "genlab tune report")
    try:
        return optuna.load_study(study_name=study, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise BadInputError(
            f"no study '{study}' in {storage}", "studies there: " + (", ".join(names) or "none")
        ) from None


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def _history(study: Any, index: int, name: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [t for t in study.trials if t.values is not None]
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    xs, ys = [t.number for t in done], [t.values[index] for t in done]
    ax.scatter(xs, ys, s=14, label="trial")
    maximize = study.directions[index].name == "MAXIMIZE"
    best, curve = None, []
    for y in ys:
        best = y if best is None else (max(best, y) if maximize else min(best, y))
        curve.append(best)
    ax.step(xs, curve, where="post", color="C1", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(name)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def _pareto(study: Any, names: list[str]) -> str:
    import matplotlib.pyplot as plt

    done = [t for t in study.trials if t.values is not None]
    front = {t.number for t in study.best_trials}
    fig, ax = plt.subplots(figsize=(5, 4))
    for on_front, colour, label in ((False, "C0", "trial"), (True, "C3", "Pareto front")):
        pts = [t.values for t in done if (t.number in front) == on_front]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=16, color=colour, label=label)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def write_report(study: Any, out: str | Path, objective_names: list[str] | None = None) -> Path:
    """The HTML page of ``study`` at ``out``."""
    import optuna

    names = (
        objective_names or study.user_attrs.get("objectives") or [f"value {i}" for i in range(len(study.directions))]
    )
    states: dict[str, int] = {}
    for t in study.trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    parts = [f"<h1>study {html.escape(study.study_name)}</h1>",
             "<p>" + ", ".join(f"{n} {s}" for s, n in sorted(states.items())) + "</p>"]  # fmt: skip
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    keys = sorted({k for t in study.trials for k in t.params})
    multi = len(study.directions) > 1
    if complete:
        if multi:
            best, title = sorted(study.best_trials, key=lambda t: t.values), "Pareto front"
        else:
            reverse = study.direction.name == "MAXIMIZE"
            best, title = sorted(complete, key=lambda t: t.value, reverse=reverse)[:10], "best trials"
        rows = [[t.number, *t.values, *(t.params.get(k) for k in keys), t.user_attrs.get("run", "")] for t in best]
        parts += [f"<h2>{title}</h2>", _table(["trial", *names, *keys, "run"], rows)]
        parts.append("<h2>optimisation history</h2>")
        parts += [_history(study, i, n) for i, n in enumerate(names)]
        if multi and len(names) == 2:
            parts += ["<h2>Pareto front</h2>", _pareto(study, names)]
        try:
            importances = optuna.importance.get_param_importances(
                study, target=(lambda t: t.values[0]) if multi else None
            )
        except Exception as e:  # too few trials, a single value per parameter
            parts.append(f"<p>parameter importances: not available ({html.escape(str(e).splitlines()[0])})</p>")
        else:
            parts += ["<h2>parameter importances (fANOVA" + (f", {names[0]}" if multi else "") + ")</h2>",
                      _table(["parameter", "importance"], [[k, v] for k, v in importances.items()])]  # fmt: skip
    else:
        parts.append("<p>no complete trial yet</p>")
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    if failed:
        parts += ["<h2>failed trials</h2>",
                  _table(["trial", *keys, "error"], [[t.number, *(t.params.get(k) for k in keys),
                                                      t.user_attrs.get("error", "")] for t in failed])]  # fmt: skip
    style = ("body{font-family:sans-serif;margin:2em;max-width:70em} table{border-collapse:collapse;margin:.5em 0}"
             "td,th{border:1px solid #ccc;padding:.2em .5em;font-size:90%}")  # fmt: skip
    page = f"<!doctype html><meta charset='utf-8'><title>study {html.escape(study.study_name)}</title>"
    page += f"<style>{style}</style>" + "\n".join(parts)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
