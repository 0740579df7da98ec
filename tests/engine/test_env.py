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
