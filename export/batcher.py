"""Cross-request batching for the server: requests from many clients share one model call.

Requests wait in a bounded queue; one worker thread takes the first waiting request, gathers more
until the next one would take the batch past ``max_tokens`` words or ``max_wait_ms`` have passed
since it began, runs the model once over all their sentences and hands every request its own rows.
A request larger than ``max_tokens`` on its own runs alone, so it never delays small ones it would
have shared a batch with.  A full queue refuses at once (the server answers 503), so overload shows
up as refusals instead of growing latency.  Inference runs on the worker thread, off the event loop.

The worker survives everything a request can do to it: a cancelled request (a client that gave up)
is skipped, an error in the model call fails only that batch's requests, and an error in the
metrics callback is counted, not raised.  :attr:`Batcher.alive` says whether the worker runs (the
server's ``/health`` reports it); :meth:`Batcher.close` never blocks on a full queue and fails every
request still waiting, so none is left hanging.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field

__all__ = ["Batcher", "BatcherClosed", "QueueFull"]


class QueueFull(Exception):
    """The batcher's queue is full: try again later."""


class BatcherClosed(Exception):
    """The batcher was closed (the server is shutting down) before the request ran."""


@dataclass
class _Job:
    words: list[list[str]]
    future: Future = field(default_factory=Future)
    queued: float = field(default_factory=time.perf_counter)

    @property
    def size(self) -> int:
        return sum(len(w) for w in self.words)


def _settle(future: Future, result=None, error: BaseException | None = None) -> None:
    """Give a request its answer unless it was cancelled meanwhile (never raises)."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass


class Batcher:
    """``Batcher(run).submit(word_lists)`` -> a Future of ``run(word_lists)``'s rows for those lists.

    ``run`` maps a list of sentences (word lists) to one result per sentence, in order; it is called
    from one thread only.  ``on_batch(sentences, requests, seconds)`` is told of every model call.
    """

    def __init__(self, run, max_tokens: int = 8192, max_wait_ms: float = 5.0, max_queue: int = 1024,
                 on_batch=None):
        self.run = run
        self.max_tokens = max_tokens
        self.max_wait = max_wait_ms / 1000
        self.on_batch = on_batch
        self.callback_errors = 0
        self.jobs: queue.Queue[_Job | None] = queue.Queue(max_queue)
        self._held: _Job | None = None  # a job that did not fit the last batch: it starts the next
        self._closed = threading.Event()
        self._worker = threading.Thread(target=self._loop, name="xner-batcher", daemon=True)
        self._worker.start()

    @property
    def alive(self) -> bool:
        return self._worker.is_alive() and not self._closed.is_set()

    def submit(self, words: list[list[str]]) -> Future:
        if self._closed.is_set():
            raise BatcherClosed("the server is shutting down")
        job = _Job(words)
        try:
            self.jobs.put_nowait(job)
        except queue.Full:
            raise QueueFull(f"the request queue is full ({self.jobs.maxsize} waiting)") from None
        return job.future

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker after the batch it runs; every request still queued fails with
        :class:`BatcherClosed`.  Never blocks on a full queue."""
        self._closed.set()
        try:
            self.jobs.put_nowait(None)  # wakes a worker waiting for work
        except queue.Full:
            pass  # the worker sees the flag after its batch
        self._worker.join(timeout=timeout)
        self._drain()

    def _drain(self) -> None:
        err = BatcherClosed("the server shut down before this request ran")
        if self._held is not None:
            _settle(self._held.future, error=err)
            self._held = None
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                _settle(job.future, error=err)

    def _next(self, timeout: float | None) -> _Job | None:
        """The next job that has not been cancelled; None for the stop mark; raises queue.Empty."""
        while True:
            if self._held is not None:  # already marked running when it was first taken
                job, self._held = self._held, None
                return job
            else:
                job = self.jobs.get(timeout=timeout) if timeout is None or timeout > 0 else self.jobs.get_nowait()
            if job is None or job.future.set_running_or_notify_cancel():
                return job

    def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        batch, tokens = [first], first.size
        deadline = time.perf_counter() + self.max_wait
        while tokens < self.max_tokens:
            try:
                job = self._next(max(deadline - time.perf_counter(), 0))
            except queue.Empty:
                break
            if job is None:
                return batch, True
            if tokens + job.size > self.max_tokens:  # it starts the next batch instead
                self._held = job
                break
            batch.append(job)
            tokens += job.size
        return batch, False

    def _loop(self) -> None:
        while not self._closed.is_set():
            try:
                first = self._next(None)
            except queue.Empty:  # pragma: no cover - a blocking get does not time out
                continue
            if first is None or self._closed.is_set():
                if first is not None:
                    self._held = first
                return
            batch, stop = self._gather(first)
            sentences = [w for job in batch for w in job.words]
            t0 = time.perf_counter()
            try:
                rows = self.run(sentences)
            except BaseException as e:  # every waiting request learns of the failure
                for job in batch:
                    _settle(job.future, error=e)
            else:
                k = 0
                for job in batch:
                    _settle(job.future, rows[k : k + len(job.words)])
                    k += len(job.words)
                if self.on_batch is not None:
                    try:
                        self.on_batch(len(sentences), len(batch), time.perf_counter() - t0)
                    except Exception:  # metrics must never stop serving
                        self.callback_errors += 1
            if stop:
                return
