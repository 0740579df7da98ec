"""Plots: Chinese text drawn with a fallback font."""

import pytest


def test_chinese_text_is_drawn_with_a_cjk_fallback_font(tmp_path):
    import warnings

    from genlab.core.plots import use_font_fallback

    found = use_font_fallback()
    if not found:
        pytest.skip("no CJK font installed (make setup installs fonts-wqy-microhei where apt is available)")
    assert use_font_fallback() == found  # idempotent
    from genlab.core.html import figure

    fig = figure(3, 2)
    fig.subplots().set_title("今天天气很好 – fine today")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)" for each box it draws
        fig.savefig(tmp_path / "zh.png")
    assert (tmp_path / "zh.png").stat().st_size > 0
