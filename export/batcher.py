"""Cross-request batching for the server: requests from many clients share one model call.

Requests wait in a bounded queue; one worker thread takes the first waiting request, gathers more
until the batch holds ``max_tokens`` words or ``max_wait_ms`` have passed since it began, runs the
model once over all their sentences and hands every request its own rows.  A full queue refuses
at once (the server answers 503), so overload shows up as refusals instead of growing latency.
Inference runs on the worker thread, off the server's event loop.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

__all__ = ["Batcher", "QueueFull"]


class QueueFull(Exception):
    """The batcher's queue is full: try again later."""


@dataclass
class _Job:
    words: list[list[str]]
    future: Future = field(default_factory=Future)
    queued: float = field(default_factory=time.perf_counter)

    @property
    def size(self) -> int:
        return sum(len(w) for w in self.words)


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
        self.jobs: queue.Queue[_Job | None] = queue.Queue(max_queue)
        self._worker = threading.Thread(target=self._loop, name="xner-batcher", daemon=True)
        self._worker.start()

    def submit(self, words: list[list[str]]) -> Future:
        job = _Job(words)
        try:
            self.jobs.put_nowait(job)
        except queue.Full:
            raise QueueFull(f"the request queue is full ({self.jobs.maxsize} waiting)") from None
        return job.future

    def close(self) -> None:
        self.jobs.put(None)
        self._worker.join(timeout=10)

    def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        batch, tokens = [first], first.size
        deadline = time.perf_counter() + self.max_wait
        while tokens < self.max_tokens:
            left = deadline - time.perf_counter()
            try:
                job = self.jobs.get(timeout=max(left, 0)) if left > 0 else self.jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return batch, True
            batch.append(job)
            tokens += job.size
        return batch, False

    def _loop(self) -> None:
        while True:
            first = self.jobs.get()
            if first is None:
                return
            batch, stop = self._gather(first)
            sentences = [w for job in batch for w in job.words]
            t0 = time.perf_counter()
            try:
                rows = self.run(sentences)
            except BaseException as e:  # every waiting request learns of the failure
                for job in batch:
                    job.future.set_exception(e)
            else:
                k = 0
                for job in batch:
                    job.future.set_result(rows[k : k + len(job.words)])
                    k += len(job.words)
                if self.on_batch is not None:
                    self.on_batch(len(sentences), len(batch), time.perf_counter() - t0)
            if stop:
                return
