"""The benchmarks are a package of command-line clients of genlab: each starts, and shares one results format."""

import importlib
import json

import pytest
import torch

from benchmarks import common

BENCHMARKS = [
    "image_generation", "text_generation", "vae_likelihood", "diffusion", "reliability", "speed", "restoration",
    "tabular", "summarization", "dialogue", "gnn", "graphs", "molecule_optimization", "molecules", "music", "serving",
    "characters", "compression", "tuning", "applications", "threads", "tts", "image_recipes",
]  # fmt: skip


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
    assert row["commit"] == common.git_commit() and row["commit"]  # old and new rows are told apart
    (old,) = common.stamp([{"model": "ddpm", "commit": "abc1234"}], command)
    assert old["commit"] == "abc1234"  # a row measured at another commit keeps it


def test_best_time_takes_the_fastest_of_the_repeats():
    calls = []
    seconds = common.best_time(lambda: calls.append("run"), 3, warmup=lambda: calls.append("warm-up"))
    assert calls == ["warm-up", "run", "run", "run"] and 0 <= seconds < 1


def test_mfu_above_one_is_capped_and_flagged():
    assert common.mfu(50e9, 100.0) == {
        "model_gflops_per_s": 50.0,
        "mfu": 0.5,
        "mfu_capped": False,
        "matmul_peak_gflops": 100.0,
    }
    capped = common.mfu(150e9, 100.0)
    assert capped["mfu"] == 1.0 and capped["mfu_capped"] is True


def test_matmul_peak_uses_the_larger_of_start_and_end_and_flags_a_move():
    peak = common.MatmulPeak()
    peak.start, peak.end = 90.0, 100.0
    assert peak.gflops == 100.0 and not peak.moved  # 10 % apart: within the tolerance
    peak.start = 60.0
    assert peak.moved and common.mfu(80e9, peak)["peak_moved"] is True
    assert common.mfu(80e9, peak)["mfu"] == 0.8  # against the larger peak, not the disturbed one


def test_matmul_peak_is_measured_at_the_given_threads_and_restores_the_setting():
    import torch

    before = torch.get_num_threads()
    assert common.matmul_peak_gflops(sizes=(64,), repeats=2, threads=1) > 0
    assert torch.get_num_threads() == before


def test_speed_alternates_genlab_and_peer_after_the_warm_up():
    from benchmarks import speed

    calls = []
    contest = speed.Contest(
        model="m", peer_name="p", unit="images", units=10,
        genlab=lambda: calls.append("genlab"), peer=lambda: calls.append("peer"),
        warmup=lambda: calls.append("warm-up"),
    )  # fmt: skip
    ours, theirs = speed.interleaved(contest, pairs=3)
    assert calls == ["warm-up"] + ["genlab", "peer"] * 3 and len(ours) == len(theirs) == 3
    row = speed.measure(contest, pairs=2)
    assert row["pairs"] == 2 and row["ratio"] > 0 and row["genlab_per_s"] > 0 and row["peer_per_s"] > 0


def test_speed_profile_names_the_operators_where_the_time_goes():
    from benchmarks import speed

    net = torch.nn.Linear(64, 64)
    contest = speed.Contest(
        model="m", peer_name="p", unit="images", units=1,
        genlab=lambda: net(torch.randn(32, 64)).relu_(), peer=None, warmup=lambda: None,
    )  # fmt: skip
    (row,) = speed.profile(contest)
    assert row["who"] == "genlab" and row["total_ms"] > 0
    assert any("addmm" in op["op"] for op in row["ops"]) and 0 < sum(op["share"] for op in row["ops"]) <= 1.001


def test_speed_bf16_step_trains_like_float32():
    from benchmarks import speed

    torch.manual_seed(0)
    batches = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(3)]

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 1)

        def optimizer_groups(self):
            return [type("G", (), {"name": "model"})()]

        def training_losses(self, batch, group):
            x, y = batch
            return {"loss": torch.nn.functional.mse_loss(self.lin(x).float(), y)}

    def build():
        torch.manual_seed(0)
        model = Tiny()
        return model, torch.optim.SGD(model.parameters(), lr=0.1)

    out = speed.training_fidelity(build, batches, grad_clip=None, steps=20)
    assert out["fidelity_steps"] == 20 and abs(out["loss_fp32"] - out["loss_bf16"]) < 0.05 * out["loss_fp32"] + 0.01


def test_learning_curves_are_read_from_metrics_and_drawn_beside_the_ngram_lines(tmp_path):
    from benchmarks.text_generation import plot_curves, validation_curve

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text("step,epoch,time_s,loss,val_loss\n10,0,30,2.5,\n20,0,60,,2.1\n40,1,120,,1.9\n")
    assert validation_curve(run) == [[1.0, 2.1], [2.0, 1.9]]
    rows = [{"model": "ngram (Kneser-Ney, order 7)", "val_loss": 1.5165},
            {"model": "char-rnn", "val_loss": 1.8, "curve": validation_curve(run)}]  # fmt: skip
    assert plot_curves(rows, tmp_path / "curves.png").stat().st_size > 0
    assert plot_curves(rows[:1], tmp_path / "none.png") is None
