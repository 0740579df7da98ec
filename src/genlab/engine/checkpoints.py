"""Resume checkpoints of a run: the last few kept, a damaged newest one skipped for the one before.

``checkpoints/`` holds ``step-0000500.ckpt``, ``step-0001000.ckpt``, … (the newest ``keep``) and
``last.ckpt``, a hard link to the newest (a copy where the file system has no hard links). Every
file is written to a temporary name, flushed to disk and renamed, so a kill leaves whole files; a
file damaged anyway (a full disk, a copy cut short, a bad sector) is reported on resume, renamed
``*.damaged`` and the newest good one before it is used.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from genlab.core.errors import CheckpointError
from genlab.core.io import atomic_write, fsync_path

LAST_NAME = "last.ckpt"
_STEP = re.compile(r"^step-(\d+)\.ckpt$")


class DamagedCheckpoint(Exception):
    """A checkpoint file that cannot be resumed from; the message says why, in a user's words."""


def read_iteration(path: str | Path) -> int:
    """The training iteration stored in checkpoint ``path``; :class:`DamagedCheckpoint` when it
    cannot be read (loaded with ``weights_only=True``: nothing in it is executed)."""
    import torch

    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise DamagedCheckpoint("is empty (0 bytes)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # truncated zip, random bytes, a pickle of other objects: torch's wording varies
        raise DamagedCheckpoint(f"cannot be read ({size} bytes): it is truncated or not a checkpoint") from None
    if not isinstance(state, dict) or "state_dict" not in state or not isinstance(state.get("genlab"), dict):
        raise DamagedCheckpoint("is not a genlab training checkpoint (no model state or iteration in it)")
    return int(state["genlab"].get("iteration", 0))


class CheckpointFiles:
    """The checkpoint files of one run directory's ``checkpoints/`` folder, keeping the newest ``keep``."""

    def __init__(self, directory: str | Path, keep: int = 3):
        self.directory, self.keep = Path(directory), keep

    @property
    def last(self) -> Path:
        return self.directory / LAST_NAME

    def path_for(self, iteration: int) -> Path:
        """Where the checkpoint of ``iteration`` is written."""
        return self.directory / f"step-{iteration:07d}.ckpt"

    def steps(self) -> list[Path]:
        """The ``step-*.ckpt`` files, newest (highest iteration) first."""
        found = [(int(m.group(1)), p) for p in self.directory.glob("step-*.ckpt") if (m := _STEP.match(p.name))]
        return [p for _, p in sorted(found, reverse=True)]

    def commit(self, path: Path) -> None:
        """Point ``last.ckpt`` at the freshly written ``path`` (atomically), then drop the oldest files."""
        tmp = self.directory / f".{LAST_NAME}.{secrets.token_hex(4)}.tmp"
        try:
            os.link(path, tmp)
            os.replace(tmp, self.last)
            fsync_path(self.directory, directory=True)
        except OSError:  # no hard links here: a copy
            tmp.unlink(missing_ok=True)
            atomic_write(self.last, lambda t: shutil.copyfile(path, t))
        for old in self.steps()[self.keep :]:
            old.unlink(missing_ok=True)

    def candidates(self) -> list[Path]:
        """Checkpoints to resume from, best first: the step files by iteration, then ``last.ckpt`` when
        it is a file of its own (runs written before step files, or a copy)."""
        steps = self.steps()
        last = self.last
        if last.is_file() and not any(_same_file(last, s) for s in steps):
            steps.append(last)
        return steps

    def label(self, path: Path) -> str:
        """How a checkpoint is named in messages: ``checkpoints/last.ckpt (step-0000500.ckpt)``."""
        name = f"{self.directory.name}/{path.name}"
        if path != self.last and _same_file(path, self.last):
            return f"{self.directory.name}/{LAST_NAME} ({path.name})"
        return name

    def choose(self, warn: Callable[[str], None], set_aside: bool = True) -> tuple[Path, int] | None:
        """The newest checkpoint that loads and its iteration; None when there is none at all.

        Damaged ones are reported with ``warn`` and (``set_aside``) renamed ``*.damaged``;
        :class:`CheckpointError` when every checkpoint is damaged (they are then left as they are).
        """
        candidates = self.candidates()
        damaged: list[tuple[Path, str]] = []
        for path in candidates:
            try:
                iteration = read_iteration(path)
            except DamagedCheckpoint as e:
                damaged.append((path, f"{self.label(path)} {e}"))
                continue
            except OSError as e:
                damaged.append((path, f"{self.label(path)} cannot be opened ({e.strerror or e})"))
                continue
            for bad, problem in damaged:
                warn(f"{problem}; resuming from {self.label(path)} (iteration {iteration}) instead")
                if set_aside:
                    self._set_aside(bad)
            return path, iteration
        if not candidates:
            return None
        raise CheckpointError(
            f"no usable checkpoint to resume {self.directory.parent}: " + "; ".join(p for _, p in damaged),
            "start a new run with another --name (or delete this run's folder to train it from scratch)",
        )

    def _set_aside(self, path: Path) -> None:
        names = [path] + ([self.last] if path != self.last and _same_file(path, self.last) else [])
        for p in names:
            with contextlib.suppress(OSError):
                p.rename(p.with_name(p.name + ".damaged"))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
