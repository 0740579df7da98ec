"""The benchmarks are a package of command-line clients of genlab: each starts, and shares one results format."""

import importlib
import json

import pytest

from benchmarks import common

BENCHMARKS = ["image_generation", "text_generation", "vae_likelihood", "diffusion", "reliability"]


@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_benchmark_has_a_main_whose_help_works(name, capsys):
    module = importlib.import_module(f"benchmarks.{name}")
    with pytest.raises(SystemExit) as e:
        module.main(["--help"])
    assert e.value.code == 0
    usage = capsys.readouterr().out
    assert f"python -m benchmarks.{name}" in usage
    for option in ("--quick", "--threads", "--out-dir"):
        assert option in usage


def test_merge_rows_replaces_rows_with_the_same_key_and_keeps_the_others(tmp_path):
    key = lambda r: (r["model"], r["budget_minutes"])  # noqa: E731
    old = [
        {"model": "vae", "budget_minutes": 10, "fid": 30.0, "command": "python benchmarks/image_generation.py"},
        {"model": "vae", "budget_minutes": 30, "fid": 20.0, "command": "python benchmarks/image_generation.py"},
        {"model": "dcgan", "budget_minutes": 10, "fid": 25.0, "command": "python benchmarks/image_generation.py"},
    ]
    path = common.results_path("bench", tmp_path)
    path.write_text(json.dumps({"generated_at": "2026-01-01T00:00:00+00:00", "results": old}))
    new = [{"model": "vae", "budget_minutes": 10, "fid": 12.0}, {"model": "ddpm", "budget_minutes": 10, "fid": 9.0}]
    assert common.merge_rows(path, new, key) == [old[1], old[2], *new]  # earlier rows keep their recorded command
    assert common.merge_rows(tmp_path / "absent.json", new, key) == new


def test_rows_are_stamped_with_the_command_and_machine():
    command = common.command_line("benchmarks.diffusion", ["--quick", "--model", "runs/a b"])
    assert command == "python -m benchmarks.diffusion --quick --model 'runs/a b'"
    (row,) = common.stamp([{"fid": 1.0, "model": "ddpm", "dataset": "mnist", "budget_minutes": None}], command)
    assert list(row)[:4] == ["model", "dataset", "budget_minutes", "command"] and row["command"] == command
    assert row["fid"] == 1.0 and row["torch_threads"] >= 1 and row["cpu"]


def test_best_time_takes_the_fastest_of_the_repeats():
    calls = []
    seconds = common.best_time(lambda: calls.append("run"), 3, warmup=lambda: calls.append("warm-up"))
    assert calls == ["warm-up", "run", "run", "run"] and 0 <= seconds < 1
