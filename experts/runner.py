"""Running experts off the caller's thread: one serial queue per expert, a time limit per
call, cancellation, and every failure turned into an ExpertError the user can read."""

from __future__ import annotations

import threading
import time
from typing import Any

from agent.worker import SerialWorker
from experts.base import ExpertError, ExpertResult
from experts.registry import ExpertRegistry


class ExpertRunner:
    def __init__(self, registry: ExpertRegistry):
        self.registry = registry
        self._workers: dict[str, SerialWorker] = {}
        self._lock = threading.Lock()

    def _worker(self, name: str) -> SerialWorker:
        with self._lock:
            if name not in self._workers:
                self._workers[name] = SerialWorker(f"expert-{name}")
            return self._workers[name]

    def run(self, name: str, args: dict[str, Any], *, cancel: threading.Event | None = None,
            timeout_s: float | None = None) -> ExpertResult:
        expert = self.registry.get(name)
        limit = timeout_s or expert.timeout_s
        job = self._worker(name).submit(lambda _job: expert(**args), name=name)
        deadline = time.monotonic() + limit
        while not job.wait(0.05):
            if cancel is not None and cancel.is_set():
                job.cancel()
                raise ExpertError(f"{name} was stopped.")
            if time.monotonic() > deadline:
                # Native code can't be interrupted; the worker finishes it in the background
                # and the next call on this expert queues behind it.
                job.cancel()
                raise ExpertError(f"{name} took longer than {limit:.0f} s and was abandoned.")
        if job.error is not None:
            if isinstance(job.error, ExpertError):
                raise job.error
            raise ExpertError(f"{name} failed: {type(job.error).__name__}: {job.error}") from job.error
        return job.result

    def call(self, name: str, fn, timeout_s: float | None = None) -> Any:
        """Run `fn(expert)` on the expert's own queue (enrolment, say) and return its result."""
        expert = self.registry.get(name)
        return self._worker(name).call(lambda _job: fn(expert), timeout=timeout_s or expert.timeout_s)

    def close(self) -> None:
        for name, worker in list(self._workers.items()):
            worker.call(lambda _job, n=name: self.registry.get(n).close(), timeout=10)
            worker.shutdown(timeout=5)
        self._workers.clear()
        self.registry.close()
