"""Stop signals: Ctrl-C (SIGINT), SIGTERM (``timeout``, docker, systemd, Slurm) and SIGHUP (the terminal
closed) all end a training the same way, by saving a checkpoint and the model first.

While training, the first such signal raises :class:`TrainingInterrupted`, a ``KeyboardInterrupt``:
Lightning then runs its interrupt path (the checkpoint callback saves) and the trainer exports the
model. While saving, later signals are noted and ignored, so a second Ctrl-C cannot cut a save
short (SIGKILL still does; every file is written atomically, so the previous ones stay whole).
A signal the process inherited as ignored (``nohup``, a background job) stays ignored.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

from genlab.core.console import console, is_rank_zero

#: The signals that stop a training cleanly; each process exit code is 128 + its number.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by a stop signal during training; ``signum`` is the signal's number."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """Context manager installing the stop-signal handlers (main thread only), restoring the previous
    ones on exit. ``received`` is the first stop signal (its number), None when none came."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.raising = True
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self  # signal handlers can only be set from the main thread
        for signum in STOP_SIGNALS:
            current = signal.getsignal(signum)
            if current is signal.SIG_IGN:
                continue
            self._previous[signum] = current
            signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    @property
    def name(self) -> str | None:
        """The name of the signal received (``SIGTERM``), None when none came."""
        return signal.Signals(self.received).name if self.received is not None else None

    def defer(self) -> None:
        """From now on a stop signal is only noted: what is being saved gets finished."""
        self.raising = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.received is None:
            self.received = signum
            if self.raising:
                raise TrainingInterrupted(signum)
            if is_rank_zero():
                console.print(f"\n{name}: finishing the export, then stopping")
            return
        if is_rank_zero():
            console.print(f"\n{name}: still saving the checkpoint and the model; SIGKILL stops at once")
