"""The bridge between the window and the model worker: jobs go to the worker thread,
events come back as Qt signals delivered on the UI thread. Widgets never run model code."""

from __future__ import annotations

import itertools

from PySide6.QtCore import QObject, Signal

from agent.assistant import Assistant
from agent.context import MessageRejected
from agent.events import Failed, Notice
from agent.worker import Job, SerialWorker
from memory.settings import Settings


class ModelQueue(QObject):
    event = Signal(int, object)  # (run id, agent event)
    run_finished = Signal(int)
    busy_changed = Signal(bool)

    def __init__(self, assistant: Assistant, parent: QObject | None = None):
        super().__init__(parent)
        self.assistant = assistant
        self._worker = SerialWorker("llm")
        self._runs = itertools.count(1)
        self._current: Job | None = None
        self._active_run: int | None = None
        self._closed = False
        self.run_finished.connect(self._on_finished)

    @property
    def busy(self) -> bool:
        return self._active_run is not None

    def send(self, conversation_id: int, text: str, attachments: list | tuple = ()) -> int:
        run_id = next(self._runs)
        attachments = list(attachments)

        def work(job: Job) -> None:
            try:
                for ev in self.assistant.respond(conversation_id, text, job.cancelled,
                                                 attachments=attachments):
                    self.event.emit(run_id, ev)
            except MessageRejected as exc:
                self.event.emit(run_id, Failed(None, str(exc)))
            except Exception as exc:  # noqa: BLE001 - shown to the user; the app keeps running
                self.event.emit(run_id, Failed(None, f"Unexpected error: {exc}"))
            finally:
                self.run_finished.emit(run_id)

        self._current = self._worker.submit(work, name=f"answer-{run_id}")
        self._active_run = run_id
        self.busy_changed.emit(True)
        return run_id

    def _on_finished(self, run_id: int) -> None:
        if run_id == self._active_run:
            self._active_run = None
            self.busy_changed.emit(False)

    def warm_up(self) -> None:
        """Load the model in the background at start-up; failures surface on the first send."""
        def work(job: Job) -> None:
            model = self.assistant.settings.model
            self.event.emit(0, Notice(f"Loading {model}…"))
            try:
                self.assistant.warm_up(job.cancelled)
                self.event.emit(0, Notice(f"{model} is ready."))
            except Exception as exc:  # noqa: BLE001 - shown; the first message reports it again
                self.event.emit(0, Notice(str(exc)))

        self._worker.submit(work, name="warm-up")

    def stop(self) -> None:
        if self._current is not None:
            self._current.cancel()

    def apply_settings(self, settings: Settings) -> None:
        """Takes effect on the worker, after the current answer; the model reloads lazily."""
        def work(_job: Job) -> None:
            self.assistant.settings = settings

        self._worker.submit(work, name="settings")
        self.warm_up()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._worker.cancel_all()
        done = self._worker.submit(lambda _job: self.assistant.close(), name="close")
        done.wait(10)
        self._worker.shutdown(timeout=5)
