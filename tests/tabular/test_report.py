from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest

from genlab.core.errors import BadInputError
from genlab.tabular.report import build_report, render_html, write_report

NASTY = "<b>&col\"'"
KINDS = {"id": "identifier", "x": "numerical", "y": "integer", "when": "datetime", "c": "categorical", NASTY: "boolean"}


def _table(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "x": x,
            "y": np.round(3 * x + rng.normal(size=n)),
            "when": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
            "c": rng.choice(["<script>", "b", "c"], n),
            NASTY: x + rng.normal(0, 0.5, n) > 0,
        }
    )


@pytest.fixture(scope="module")
def tables():
    return _table(0, 160), _table(1, 160), _table(2, 120)


@pytest.fixture(scope="module")
def full_report(tables):
    real, synth, holdout = tables
    return build_report(real, synth, KINDS, holdout=holdout, target="c", quasi=["x", "c"], sensitive=NASTY, seed=1)


def test_report_sections_and_numbers(full_report):
    assert set(full_report) == {"quality", "efficacy", "privacy", "summary", "protocol"}
    summary = full_report["summary"]
    assert summary["quality"] == full_report["quality"]["quality"]
    assert summary["ml_efficacy"] == full_report["efficacy"]["ml_efficacy"]
    assert summary["mia_auroc"] == full_report["privacy"]["membership_inference"]["mia_auroc"]
    assert summary["attribute_risk"] == full_report["privacy"]["attribute_inference"]["risk"]
    assert full_report["efficacy"]["protocol"]["seed"] == 1
    for section in ("dcr", "nndr", "membership_inference", "attribute_inference"):
        assert "distance" in full_report["privacy"][section]["protocol"]
    json.dumps(full_report, allow_nan=False)  # strict JSON: no NaN, no tuple keys


def test_report_without_holdout_has_quality_only(tables):
    real, synth, _ = tables
    report = build_report(real, synth, KINDS)
    assert "privacy" not in report and "efficacy" not in report
    assert set(report["summary"]) == {"quality", "column_shapes", "column_pair_trends"}
    page = render_html(report, real, synth, KINDS)
    assert 'id="column-shapes"' in page and 'id="privacy"' not in page and 'id="efficacy"' not in page


def test_options_need_a_holdout(tables):
    real, synth, holdout = tables
    with pytest.raises(BadInputError, match="holdout"):
        build_report(real, synth, KINDS, target="c")
    with pytest.raises(BadInputError, match="holdout"):
        build_report(real, synth, KINDS, quasi=["x"], sensitive="c")
    with pytest.raises(BadInputError, match="both"):
        build_report(real, synth, KINDS, holdout=holdout, quasi=["x"])


def test_html_page(full_report, tables):
    real, synth, _ = tables
    page = render_html(full_report, real, synth, KINDS)
    for anchor in ("summary", "column-shapes", "pair-trends", "correlations", "efficacy", "privacy", "protocol"):
        assert f'id="{anchor}"' in page
    assert f"{full_report['summary']['quality']:.4f}" in page
    assert f"{full_report['summary']['mia_auroc']:.4f}" in page
    assert "membership inference AUROC" in page and "0.5 = no leak" in page
    # user strings are escaped everywhere (column names, category values in the protocol, the positive class)
    assert NASTY not in page and "<script>" not in page
    assert "&lt;b&gt;&amp;col&quot;&#x27;" in page
    # figures are inline PNGs: 5 marginals, the pair matrix, the two correlation matrices
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 5 + 1 + 1
    assert all(base64.b64decode(img).startswith(b"\x89PNG") for img in images)
    assert "<link" not in page and "<script" not in page  # self-contained


def test_write_report(tmp_path, full_report, tables):
    real, synth, _ = tables
    path = write_report(tmp_path / "report.json", full_report)
    assert json.loads(path.read_text()) == full_report
    page = render_html(full_report, real, synth, KINDS)
    assert write_report(tmp_path / "out" / "report.html", full_report, page).read_text() == page
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    with pytest.raises(BadInputError, match="no HTML"):
        write_report(tmp_path / "r.html", full_report)
    with pytest.raises(BadInputError, match=".csv"):
        write_report(tmp_path / "r.csv", full_report)
