"""``make demo`` end to end with a few seconds of training: every file it announces exists."""

from PIL import Image

from genlab import demo


def test_demo_writes_grid_walk_and_loss_curve(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENLAB_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("GENLAB_DEMO_MINUTES", "0.05")
    assert demo.main() == 0
    run = tmp_path / "image-generation" / "demo-cvae"
    grid = Image.open(run / "samples" / "digits-0-to-9.png")
    assert grid.size[0] == grid.size[1]  # 10 rows of 10 digits
    assert (run / "samples" / "walk-7.png").is_file() and (run / "model" / "model.safetensors").is_file()
    assert str(run / "samples" / "digits-0-to-9.png") in capsys.readouterr().out.replace("\n", "")
