"""One worker thread per served model, with dynamic batching and a bounded queue shared by all models.

A request becomes a :class:`Job` on its model's queue. The worker takes the oldest job and, when its pipeline
can batch it (:meth:`Pipeline.batch_key`) and other requests for the model are waiting, waits up to
``max_wait_ms`` for more jobs with the same key (at most ``max_batch``) and answers them with one
:meth:`Pipeline.run_batch` call; anything else runs alone, in order. A lone request never waits.
A model is used by one thread at a time, so torch's own threads do the parallel work. When the jobs waiting
across all models reach ``max_queue`` a new request is refused (the server answers 503 with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from genlab.serve.metrics import BATCH_BUCKETS, Metrics

_STOP = object()
_END = object()  # the end of a stream


class QueueFull(Exception):
    """Too many requests are waiting."""


@dataclass(eq=False)
class Job:
    """One request for one pipeline: ``future`` gets the Output (or the exception); a streaming job puts its
    pieces on ``pieces`` (an asyncio queue of the request's loop) and ends it with ``_END``."""

    pipe: Any
    request: Any
    stream: bool = False
    loop: asyncio.AbstractEventLoop | None = None
    pieces: asyncio.Queue | None = None
    future: Future = field(default_factory=Future)
    cancelled: bool = False
    queued_at: float = field(default_factory=time.perf_counter)

    def put(self, item: Any) -> None:
        assert self.loop is not None and self.pieces is not None
        self.loop.call_soon_threadsafe(self.pieces.put_nowait, item)


class Gate:
    """The count of jobs waiting or running across every model, bounded by ``limit``."""

    def __init__(self, limit: int):
        self.limit, self.count = limit, 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            if self.count >= self.limit:
                raise QueueFull
            self.count += 1

    def leave(self) -> None:
        with self._lock:
            self.count -= 1


class ModelWorker:
    """The thread answering one model's jobs."""

    def __init__(self, name: str, gate: Gate, metrics: Metrics, max_batch: int, max_wait_ms: float):
        self.name, self.gate, self.metrics = name, gate, metrics
        self.max_batch, self.max_wait = max_batch, max_wait_ms / 1000
        self.queue: queue.Queue = queue.Queue()
        self.pending: deque[Job] = deque()  # taken from the queue while batching, not matching the batch
        self.outstanding = 0  # this model's jobs submitted and not yet done
        self._count = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name=f"genlab-serve-{name}", daemon=True)
        self.thread.start()

    def submit(self, job: Job) -> Job:
        """Queue ``job``; raises :class:`QueueFull` when the shared limit is reached."""
        self.gate.enter()
        with self._count:
            self.outstanding += 1
        self.queue.put(job)
        return job

    def stop(self, wait: bool = True, timeout: float | None = None) -> None:
        """Finish the queued jobs, then end the thread."""
        self.queue.put(_STOP)
        if wait:
            self.thread.join(timeout)

    # ------------------------------------------------------------------ the thread
    def _next(self, timeout: float | None) -> Any:
        if self.pending:
            return self.pending.popleft()
        return self.queue.get(timeout=timeout) if timeout is not None else self.queue.get()

    def _loop(self) -> None:
        stopping = False
        while True:
            if stopping and not self.pending and self.queue.empty():
                return
            try:
                job = self._next(0.05 if stopping else None)
            except queue.Empty:
                continue
            if job is _STOP:
                stopping = True
                continue
            if job.cancelled:
                self._done(job)
                continue
            batch = [job] + (self._gather(job) if not job.stream else [])
            if job.stream:
                self._stream(job)
            else:
                self._run(batch)

    def _gather(self, first: Job) -> list[Job]:
        """Jobs that batch with ``first``, waiting up to ``max_wait`` for them."""
        try:
            key = first.pipe.batch_key(first.request)
        except Exception:
            key = None
        if key is None or self.max_batch <= 1 or self.outstanding <= 1:
            return []  # nothing to batch with: a lone request does not wait
        more: list[Job] = []
        skipped: list[Any] = []
        deadline = time.perf_counter() + self.max_wait
        while len(more) + 1 < self.max_batch:
            left = deadline - time.perf_counter()
            try:
                job = self.pending.popleft() if self.pending else self.queue.get(timeout=max(left, 0.0))
            except queue.Empty:
                break
            if job is _STOP or job.cancelled or job.stream or job.pipe is not first.pipe:
                skipped.append(job)
            else:
                try:
                    same = job.pipe.batch_key(job.request) == key
                except Exception:
                    same = False
                (more if same else skipped).append(job)
            if left <= 0 and not self.pending and self.queue.empty():
                break
        self.pending.extendleft(reversed(skipped))
        return more

    def _run(self, batch: list[Job]) -> None:
        self.metrics.observe("genlab_batch_size", len(batch), BATCH_BUCKETS, model=self.name)
        pipe = batch[0].pipe
        if len(batch) == 1:
            try:
                out = pipe.run(batch[0].request)
            except Exception as e:
                self._finish(batch[0], error=e)
                return
            self._finish(batch[0], result=out)
            return
        try:
            outputs = pipe.run_batch([j.request for j in batch])
        except Exception:  # one bad request must not fail the others: answer each alone
            for job in batch:
                self._run([job])
            return
        for job, out in zip(batch, outputs, strict=True):
            self._finish(job, result=out)

    def _stream(self, job: Job) -> None:
        try:
            for piece in job.pipe.stream_request(job.request):
                if job.cancelled:
                    break
                job.put(piece)
        except Exception as e:
            job.put(e)
        finally:
            job.put(_END)
            self._finish(job, result=None)

    def _finish(self, job: Job, result: Any = None, error: BaseException | None = None) -> None:
        if not job.future.done():
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(result)
        self._done(job)

    def _done(self, job: Job) -> None:
        self.gate.leave()
        with self._count:
            self.outstanding -= 1
        if job.cancelled and not job.future.done():
            job.future.cancel()


END_OF_STREAM = _END
