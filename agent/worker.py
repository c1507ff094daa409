"""One serial worker per model: llama.cpp is not thread-safe, so each model gets one thread
and a queue of cancellable jobs (Vorta's jobs manager, without Qt so the CLI uses it too)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any


class Job:
    def __init__(self, fn: Callable[[Job], Any], name: str = ""):
        self.fn = fn
        self.name = name
        self.cancelled = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self._done = threading.Event()

    def cancel(self) -> None:
        self.cancelled.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)


class SerialWorker:
    def __init__(self, name: str = "model"):
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._pending: list[Job] = []
        self._lock = threading.Lock()
        # Daemon: a model stuck in native code must not keep a closing app alive.
        self._thread = threading.Thread(target=self._loop, name=f"hearth-{name}", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[Job], Any], name: str = "") -> Job:
        job = Job(fn, name)
        with self._lock:
            self._pending.append(job)
        self._queue.put(job)
        return job

    def call(self, fn: Callable[[Job], Any], timeout: float | None = None) -> Any:
        """Run `fn` on the worker and wait for its result (for code that is already off the UI)."""
        job = self.submit(fn)
        job.wait(timeout)
        if job.error is not None:
            raise job.error
        return job.result

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                if not job.cancelled.is_set():
                    job.result = job.fn(job)
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the job
                job.error = exc
            finally:
                with self._lock:
                    self._pending.remove(job)
                job._done.set()

    def cancel_all(self) -> None:
        with self._lock:
            for job in self._pending:
                job.cancel()

    def shutdown(self, timeout: float | None = 5.0) -> bool:
        """Cancel what is queued or running and stop the thread. False if it did not stop in time."""
        self.cancel_all()
        self._queue.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()
