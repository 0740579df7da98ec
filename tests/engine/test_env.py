import json
import re

import torch

from genlab.__about__ import __version__
from genlab.core.runs import Run
from genlab.engine.env import git_commit, write_env


def test_write_env_records_versions_seed_device_and_commit(tmp_path):
    run = Run.create(tmp_path, "image-generation", "env")
    write_env(run, seed=7, device="cpu")
    env = json.loads(run.env_path.read_text())
    assert env["genlab"] == __version__ and env["torch"] == torch.__version__
    assert (env["seed"], env["device"]) == (7, "cpu") and env["torch_threads"] == torch.get_num_threads()
    assert env["git_commit"] == git_commit()
    assert {"created", "python", "lightning", "numpy", "platform", "processor", "cpu_count", "command"} <= set(env)


def test_git_commit_is_a_full_hash_or_none():
    commit = git_commit()
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}", commit)


def test_a_resume_keeps_the_first_record_and_lists_its_own(tmp_path):
    run = Run.create(tmp_path, "image-generation", "env")
    write_env(run, seed=7, device="cpu")
    first = json.loads(run.env_path.read_text())
    first["git_commit"] = "0" * 40  # as if the run had started at another commit
    run.env_path.write_text(json.dumps(first))
    write_env(run, seed=7, device="cpu", resumed=True)
    write_env(run, seed=7, device="cpu", resumed=True)
    env = json.loads(run.env_path.read_text())
    assert env["git_commit"] == "0" * 40 and env["created"] == first["created"]
    assert len(env["resumes"]) == 2 and env["resumes"][-1]["git_commit"] == git_commit()
    assert "resumes" not in env["resumes"][0]


def test_a_resume_over_an_unreadable_record_writes_a_fresh_one(tmp_path):
    run = Run.create(tmp_path, "image-generation", "env")
    run.env_path.write_text("{not json")
    write_env(run, seed=3, device="cpu", resumed=True)
    env = json.loads(run.env_path.read_text())
    assert env["seed"] == 3 and "resumes" not in env
