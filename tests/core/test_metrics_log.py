"""metrics.csv: columns that grow, resumes that drop redone rows, and stop signals at awkward moments."""

import pytest

from genlab.core import metrics_log
from genlab.core.metrics_log import MetricsCSV, read_rows


def test_new_columns_widen_the_header_and_keep_earlier_rows(tmp_path):
    log = MetricsCSV(tmp_path / "metrics.csv")
    log.append({"step": 1, "loss": 0.5})
    log.append({"step": 1, "val_loss": 0.7})
    log.append({"step": 2, "loss": 0.4})
    rows = read_rows(tmp_path / "metrics.csv")
    assert [r["step"] for r in rows] == ["1", "1", "2"]
    assert rows[0] == {"step": "1", "loss": "0.5", "val_loss": ""} and rows[1]["val_loss"] == "0.7"


def test_resume_drops_rows_after_the_checkpoint(tmp_path):
    log = MetricsCSV(tmp_path / "metrics.csv")
    for step in (10, 20, 30):
        log.append({"step": step, "loss": 1 / step})
    MetricsCSV(tmp_path / "metrics.csv", resume_step=20).append({"step": 30, "loss": 0.01})
    assert [(r["step"], r["loss"]) for r in read_rows(tmp_path / "metrics.csv")] == [
        ("10", "0.1"), ("20", "0.05"), ("30", "0.01")]  # fmt: skip


def test_a_stop_signal_during_the_header_rewrite_leaves_a_readable_resumable_file(tmp_path, monkeypatch):
    """The signal lands while a new column is being added: the next append (the row the stop writes) and a
    resume must still match cells to columns."""
    path = tmp_path / "metrics.csv"
    log = MetricsCSV(path)
    log.append({"step": 10, "loss": 0.5})

    def interrupted(target, write):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(metrics_log, "atomic_write", interrupted)
        with pytest.raises(KeyboardInterrupt):
            log.append({"step": 10, "val_loss": 0.7})
    log.append({"step": 20, "loss": 0.4})  # what the stop handler writes
    rows = read_rows(path)
    assert [(r["step"], r["loss"]) for r in rows] == [("10", "0.5"), ("20", "0.4")]
    MetricsCSV(path, resume_step=20).append({"step": 30, "loss": 0.3, "val_loss": 0.6})
    assert [r["step"] for r in read_rows(path)] == ["10", "20", "30"]


def test_a_line_with_more_cells_than_the_header_is_left_out(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,loss\n10,0.5\n20,0.4,0.9\n30,0.3\n")
    assert [r["step"] for r in read_rows(path)] == ["10", "30"]
    MetricsCSV(path, resume_step=30).append({"step": 40, "loss": 0.2})
    assert [r["step"] for r in read_rows(path)] == ["10", "30", "40"]
