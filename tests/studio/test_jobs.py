"""The Train tab's launcher: the same `genlab train` command, in the background, watched and cancelled."""

from __future__ import annotations

import sys
import time

import pytest

from genlab.core.errors import BadInputError
from genlab.studio import jobs
from genlab.studio.runs import runs_table

TINY = ["--max-steps", "10000000", "--batch-size", "16", "--no-progress", "--threads", "1",
        "--set", "data.image_size=8", "--set", "data.max_images=128", "--set", "model.latent_dim=2",
        "--set", "model.hidden_dims=[16]", "--set", "train.sample_every=0", "--set", "train.checkpoint_every=50",
        "--set", "train.log_every=1"]  # fmt: skip
# so many steps that the run is still going when it is cancelled (5000 took 12 s on a 2-core CPU, less than a
# loaded machine took to see the first loss and send the signal)


def test_train_command(tmp_path):
    cmd = jobs.train_command("image-generation", "vae", "builtin:digits", "run-1", tmp_path, 2.5)
    assert cmd[:4] == [sys.executable, "-m", "genlab", "train"]
    assert cmd[4:] == ["image-generation", "--model", "vae", "--data", "builtin:digits", "--name", "run-1",
                       "--runs-dir", str(tmp_path), "--max-minutes", "2.5"]  # fmt: skip
    with pytest.raises(BadInputError, match="not a name"):
        jobs.train_command("image-generation", "vae", "builtin:digits", "../escape", tmp_path)
    with pytest.raises(BadInputError, match="pick the data"):
        jobs.train_command("image-generation", "vae", "--set", "x", tmp_path)


@pytest.mark.slow  # starts a real `genlab train` process: its imports alone take several seconds here
def test_start_watch_and_cancel_a_tiny_training(tmp_path):
    from genlab.core.model import GenerativeModel
    from genlab.serve.store import ModelStore
    from genlab.studio.app import Studio

    runs = tmp_path / "runs"
    studio = Studio(ModelStore([runs]), runs, tmp_path / "work")
    job_id = studio.start_training("image-generation", "vae", "builtin:digits", "tiny", 1, TINY)
    job = studio.jobs[job_id]
    deadline = time.time() + 120
    progress = studio.job_progress(job_id)
    while not (progress["state"] == "running" and progress["losses"]):
        assert job.running, job.log_tail()
        assert time.time() < deadline, f"training did not start stepping:\n{job.log_tail()}"
        time.sleep(0.2)
        progress = studio.job_progress(job_id)
    assert int(progress["step"] or 0) >= 1 and "**running**" in jobs.format_progress(progress)
    with pytest.raises(BadInputError, match="training already"):
        studio.start_training("image-generation", "vae", "builtin:digits", "tiny", 1, TINY)
    assert studio.cancel_training(job_id)
    job.wait(timeout=120)
    final = studio.job_progress(job_id)
    assert final["state"] == "interrupted" and final["returncode"] is not None, final["log"]
    assert GenerativeModel.from_pretrained(runs / "image-generation" / "tiny" / "model") is not None
    assert runs_table(runs)["data"][0][:2] == ["image-generation/tiny", "interrupted"]  # a normal run
    assert studio.model_names() == ["tiny"]  # and the Generate tab offers it
    assert not studio.cancel_training(job_id)
