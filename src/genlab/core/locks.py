"""One writer per run: an exclusive ``.lock`` file, and whether a recorded process still lives.

The lock is an ``fcntl.flock`` on ``<run>/.lock`` (the kernel drops it when its process dies, however
it dies); the file holds the PID, host and start time of its holder, for messages. Where ``flock`` is
missing (Windows) the file itself is the lock: created with ``O_EXCL``, and taken over when the
process it names is gone.
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from genlab.core.errors import BadInputError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_NAME = ".lock"


def process_start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, from ``/proc``); None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: fields after its last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])  # field 22 of proc(5): starttime
    except (IndexError, ValueError):
        return None


def process_record() -> dict[str, Any]:
    """PID, host, start time of this process: what status.json and the lock file record."""
    pid = os.getpid()
    return {
        "pid": pid,
        "host": socket.gethostname(),
        "pid_start": process_start_ticks(pid),
        "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def process_alive(record: dict[str, Any]) -> bool | None:
    """Whether the process described by ``record`` (:func:`process_record`) still runs.

    None when it cannot be told (another host, no PID). A PID reused by a process that started at
    another time is not the recorded process.
    """
    pid = record.get("pid")
    if not isinstance(pid, int) or pid <= 0 or record.get("host") != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    except OSError:
        return None
    started, recorded = process_start_ticks(pid), record.get("pid_start")
    return started is None or recorded is None or started == recorded  # else the PID was reused


def _describe(holder: dict[str, Any]) -> str:
    where = f" on {holder['host']}" if holder.get("host") and holder.get("host") != socket.gethostname() else ""
    since = f", since {holder['since']}" if holder.get("since") else ""
    return f"PID {holder.get('pid', '?')}{where}{since}"


class RunLock:
    """Exclusive lock of a run directory, taken with :meth:`acquire` and dropped with :meth:`release`.

    ``taken_over`` names the holder recorded by a lock whose process is gone (its lock was taken over).
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK_NAME
        self.fd: int | None = None
        self.taken_over: dict[str, Any] | None = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def read(self) -> dict[str, Any]:
        """The holder recorded in the lock file ({} when none can be read)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def acquire(self) -> None:
        """Take the lock or raise :class:`BadInputError` naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(20):  # the file may be replaced between open and flock: try again
            if self._try_acquire():
                return
            time.sleep(0.05)
        self._refuse(self.read())

    def _try_acquire(self) -> bool:
        if fcntl is None:
            return self._try_exclusive_create()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            self._refuse(self.read())
        try:
            same_file = os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            same_file = False
        if not same_file:  # the holder removed it while we waited: lock the new file
            os.close(fd)
            return False
        self._claim(fd)
        return True

    def _try_exclusive_create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            holder = self.read()
            if process_alive(holder) is not False:
                self._refuse(holder)
            self.path.unlink(missing_ok=True)  # stale: its process is gone
            self.taken_over = holder
            return False
        self._claim(fd)
        return True

    def _claim(self, fd: int) -> None:
        old, me = self.read(), os.getpid()
        if old and (old.get("pid"), old.get("pid_start")) != (me, process_start_ticks(me)):
            self.taken_over = old
        record = json.dumps(process_record()).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, record, 0)
        os.fsync(fd)
        self.fd = fd

    def _refuse(self, holder: dict[str, Any]) -> None:
        raise BadInputError(
            f"run {self.path.parent} is being written by another process ({_describe(holder)}): "
            "two trainings of one run would overwrite each other's checkpoints",
            "wait for it to finish, stop it (`kill -TERM "
            f"{holder.get('pid', 'PID')}` saves and exits), or choose another --name; if no such process "
            f"runs, delete {self.path}",
        )

    def release(self) -> None:
        """Drop the lock and remove the lock file (nothing when not held)."""
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)  # closing drops the flock
            self.fd = None
