"""The models a server offers: found under the given paths, named, loaded on first use, reloaded when retrained.

A path is a runs folder (``runs/<task>/<name>/model/``), one run, or one model directory. Each model is offered
under its run's name (``my-cgan``); two runs of one name in different tasks become ``<task>-<name>``. Names are
the only way a request picks a model: nothing a client sends is ever used as a path.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab.core.checkpoint import read_meta
from genlab.core.errors import BadInputError, GenlabError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SEARCH_DEPTH = 3  # runs/<task>/<name>/model: a runs folder is searched this deep for model directories


def model_dirs(path: Path) -> list[Path]:
    """Model directories at or under ``path`` (a model dir, a run dir, or a folder of runs), sorted."""
    if (path / "config.json").is_file() and (path / "model.safetensors").is_file():
        return [path]
    if (path / "model" / "config.json").is_file():
        return [path / "model"]
    found: list[Path] = []
    if not path.is_dir():
        return found
    frontier = [path]
    for _ in range(SEARCH_DEPTH):
        nxt = []
        for folder in frontier:
            for child in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
                if (child / "model" / "config.json").is_file():
                    found.append(child / "model")
                elif (child / "config.json").is_file() and (child / "model.safetensors").is_file():
                    found.append(child)
                else:
                    nxt.append(child)
        frontier = nxt
    return sorted(found)


def _run_name(model_dir: Path) -> str:
    return model_dir.parent.name if model_dir.name == "model" else model_dir.name


def _safe(name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "model"
    return name[:128] if NAME_RE.match(name) else f"m-{name}"[:128]


@dataclass
class Entry:
    """One served model: where it lives, what it is, and (once used) its loaded pipelines."""

    name: str
    path: Path
    meta: dict[str, Any]
    stamp: float
    pipelines: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    model: Any = None

    @property
    def task(self) -> str:
        return str(self.meta.get("task") or "")

    @property
    def registry_name(self) -> str:
        return str(self.meta.get("model") or "")


def _stamp(model_dir: Path) -> float:
    try:
        return max((model_dir / n).stat().st_mtime for n in ("config.json", "model.safetensors"))
    except OSError:
        return 0.0


class ModelStore:
    """The served models by name; :meth:`refresh` picks up new, changed and removed runs."""

    def __init__(self, paths: list[str | Path], reload_interval_s: float = 2.0):
        self.paths = [Path(p) for p in paths]
        self.reload_interval_s = reload_interval_s
        self.entries: dict[str, Entry] = {}
        self.skipped: dict[str, str] = {}  # model dir -> why it is not served
        self._lock = threading.Lock()
        self._checked = 0.0
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        """Rescan the paths (at most every ``reload_interval_s`` unless ``force``); a retrained run is reloaded
        on its next request, a removed one disappears."""
        now = time.monotonic()
        if not force and now - self._checked < self.reload_interval_s:
            return
        with self._lock:
            self._checked = now
            dirs = [d for p in self.paths for d in model_dirs(p)]
            metas: list[tuple[Path, dict]] = []
            skipped = {}
            for d in dirs:
                try:
                    meta = read_meta(d)
                except GenlabError as e:
                    skipped[str(d)] = e.message
                    continue
                metas.append((d, meta))
            counts: dict[str, int] = {}
            for d, _ in metas:
                counts[_run_name(d)] = counts.get(_run_name(d), 0) + 1
            entries: dict[str, Entry] = {}
            for d, meta in metas:
                base = _run_name(d)
                name = _safe(base if counts[base] == 1 else f"{meta.get('task') or d.parent.parent.name}-{base}")
                while name in entries:
                    name = f"{name}-2"
                old = self.entries.get(name)
                stamp = _stamp(d)
                if old is not None and old.path == d and old.stamp == stamp:
                    entries[name] = old
                else:
                    entries[name] = Entry(name, d, meta, stamp)
            self.entries, self.skipped = entries, skipped

    def names(self) -> list[str]:
        return sorted(self.entries)

    def get(self, name: str) -> Entry | None:
        """The entry called ``name`` (a rescan first when it is unknown), or None."""
        if not NAME_RE.match(name):
            return None
        entry = self.entries.get(name)
        if entry is None:
            self.refresh()
            entry = self.entries.get(name)
        return entry

    @staticmethod
    def pipeline(entry: Entry, verb: str | None) -> Any:
        """The loaded pipeline of ``entry`` answering ``verb`` (None: the task's default pipeline)."""
        from genlab.core.model import GenerativeModel
        from genlab.core.pipeline import pipeline_for
        from genlab.core.registry import TASKS

        key = verb or ""
        with entry.lock:
            if key in entry.pipelines:
                return entry.pipelines[key]
            if entry.model is None:
                entry.model = GenerativeModel.from_pretrained(entry.path, map_location="cpu")
            model = entry.model
            cls = TASKS.get(model.task).pipeline_class if verb is None else pipeline_for(model, verb)
            if not cls.served:
                raise BadInputError(f"`{cls.verb}` is a batch job, not served over HTTP",
                                    f"run it on the command line: genlab {cls.verb} RUN …")  # fmt: skip
            pipe = cls(model)
            entry.pipelines[key] = pipe
            return pipe

    @staticmethod
    def pipeline_classes(entry: Entry) -> list[type]:
        """The pipeline classes that can serve ``entry``'s model (loads the model)."""
        from genlab.core.pipeline import pipelines_for

        ModelStore.pipeline(entry, None)
        return pipelines_for(entry.model)
