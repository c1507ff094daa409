"""The bridge between the window and cloud assist: sends run on their own serial worker (a
slow or dead endpoint must never hold up the local model or the UI), results come back as Qt
signals on the UI thread.

The worker runs CloudAssist.process_due() on a timer (entries waiting for a retry) and right
after an entry is queued or approved (kick()). A "Test connection" runs on a thread of its
own, so it answers even while a send waits for a slow endpoint.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QTimer, Signal

from agent.worker import Job, SerialWorker
from app.background import run_in_background
from memory.db import Database
from memory.settings import Settings
from sync.service import CloudAssist

# Retries are due 30 s at the earliest (sync.queue.BACKOFF_S): a tick every 15 s finds them.
TICK_MS = 15_000


class CloudQueue(QObject):
    processed = Signal(object)  # list[OutboxRecord]: the entries one pass sent, re-queued or failed
    answered = Signal(object)  # OutboxRecord: a reply arrived and was stored
    status_changed = Signal(str)  # the status bar's text ("Offline — local only" / "Cloud assist on: …")

    def __init__(self, db: Database, settings: Settings, assist: CloudAssist | None = None,
                 parent: QObject | None = None, tick_ms: int = TICK_MS):
        super().__init__(parent)
        self.settings = settings
        # The assistant (on the model worker) and this queue read the window's current
        # settings through this callable: a changed endpoint applies to the next send.
        self.assist = assist or CloudAssist(db, lambda: self.settings)
        self._worker = SerialWorker("cloud")
        self._cancel = threading.Event()
        self._pass_pending = False  # a process_due pass is queued or running: don't stack more
        self._again = False
        self._lock = threading.Lock()
        self._closed = False
        self.timer = QTimer(self, interval=tick_ms)
        self.timer.timeout.connect(self.kick)
        self.timer.start()

    # --- what can leave -------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self.assist.enabled

    def status_text(self) -> str:
        return self.assist.status_text()

    def apply_settings(self, settings: Settings) -> None:
        self.settings = settings
        self.status_changed.emit(self.status_text())
        self.kick()  # entries waiting for this endpoint may go now

    # --- sending ---------------------------------------------------------------------------

    def kick(self) -> Job | None:
        """Send what is due, on the cloud worker; returns the job (None if one is pending)."""
        if self._closed or not self.assist.enabled:
            return None
        with self._lock:
            if self._pass_pending:
                self._again = True  # the pass may have read the outbox already: once more after it
                return None
            self._pass_pending = True
            self._again = False

        def work(_job: Job) -> None:
            while True:
                try:
                    finished = self.assist.process_due(self._cancel)
                except BaseException:
                    with self._lock:
                        self._pass_pending = False
                    raise
                if finished:
                    self.processed.emit(finished)
                    for record in finished:
                        if record.status == "sent":
                            self.answered.emit(record)
                with self._lock:
                    if not self._again or self._closed:
                        self._pass_pending = False
                        return
                    self._again = False

        return self._worker.submit(work, name="cloud-send")

    def approve(self, entry_id: int):
        record = self.assist.approve(entry_id)
        self.kick()
        return record

    def decline(self, entry_id: int):
        return self.assist.decline(entry_id)

    def retry(self, entry_id: int):
        record = self.assist.retry(entry_id)
        self.kick()
        return record

    def delete(self, entry_id: int) -> bool:
        return self.assist.delete(entry_id)

    # --- testing the endpoint --------------------------------------------------------------

    def test_connection(self, settings: Settings, on_done, on_error, api_key: str | None = None):
        """Try the dialog's endpoint (saved or not) off the UI thread; `on_done(text)` or
        `on_error(exc)` run on the UI thread. `api_key`: one typed but not yet saved."""
        def work() -> str:
            return self.assist.test_connection(settings, api_key=api_key)

        return run_in_background(self, work, on_done, on_error)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until the jobs submitted so far are done (tests, screenshots; never the UI)."""
        return self._worker.submit(lambda _job: None, name="barrier").wait(timeout)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.timer.stop()
        self._cancel.set()
        self._worker.cancel_all()
        # A send stuck on a slow endpoint must not hold the closing window for its whole
        # timeout: its lease runs out and the entry is claimed again on the next start.
        done = self._worker.submit(lambda _job: self.assist.close(), name="close")
        done.wait(1.0)
        self._worker.shutdown(timeout=0.5)
