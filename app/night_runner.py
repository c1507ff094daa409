"""One night of learning at a time, for the window: starts the night's process, brings its
events to the UI thread, and pauses it while the chat model answers.

The night runs in its own process (sync.learning.process.NightProcess: nice 19, SIGSTOP /
SIGCONT of its process group); this object only relays. "Learn now", the automatic schedule
and the learning window all go through the one runner the main window owns, so two nights
can never train at once.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

FINAL_EVENTS = ("done", "error")


def app_night_process(model: str):
    """The real night: `python -m sync.learning.app_night --model MODEL`."""
    from sync.learning.process import NightProcess

    return NightProcess([sys.executable, "-m", "sync.learning.app_night", "--model", model])


class NightRunner(QObject):
    started = Signal(str)    # why it started: "Learn now" or "automatic"
    event = Signal(dict)     # every event line of the night, on the UI thread
    finished = Signal(dict)  # the last event: {"event": "done", "night": {...}} or "error"
    paused_changed = Signal(bool)
    _from_reader = Signal(object)  # emitted on the process's reader thread, delivered queued

    def __init__(self, process_factory: Callable[[], object], parent: QObject | None = None):
        super().__init__(parent)
        self.process_factory = process_factory
        self._process = None
        self._chat_busy = False
        self._paused = False
        self._cancelled = False
        self.last_event: dict | None = None
        self._from_reader.connect(self._on_event)

    @property
    def running(self) -> bool:
        return self._process is not None

    @property
    def paused(self) -> bool:
        return self._paused

    def start(self, why: str = "Learn now") -> bool:
        """Start a night; False (and nothing started) when one is already running."""
        if self._process is not None:
            return False
        process = self.process_factory()
        self._cancelled = False
        self.last_event = None
        self._process = process
        # events are tagged with their process: a late line of an old night is not this one's
        process.start(lambda event, p=process: self._from_reader.emit((p, event)))
        self.started.emit(why)
        if self._chat_busy:  # a night started during an answer waits for the answer's end
            self._set_paused(True)
        return True

    def chat_busy(self, busy: bool) -> None:
        """The chat model starts (True) or finishes (False) an answer."""
        self._chat_busy = busy
        if self._process is not None:
            self._set_paused(busy)

    def _set_paused(self, paused: bool) -> None:
        if paused == self._paused or self._process is None:
            return
        (self._process.pause if paused else self._process.resume)()
        self._paused = paused
        self.paused_changed.emit(paused)

    def cancel(self) -> None:
        """Stop the night; its process is killed off the UI thread (SIGTERM, then SIGKILL
        after a grace period) and the reader reports its end. The active adapter is never
        touched by a killed night."""
        process = self._process
        if process is None or self._cancelled:
            return
        self._cancelled = True
        if self._paused:  # a stopped process would not see SIGTERM until continued
            process.resume()
            self._paused = False
            self.paused_changed.emit(False)
        threading.Thread(target=process.cancel, name="night-cancel", daemon=True).start()

    def close(self, timeout: float = 10.0) -> None:
        """At quit: a running night is cancelled and waited for (it resumes next time)."""
        process = self._process
        if process is None:
            return
        if self._paused:
            process.resume()
        process.cancel()
        process.wait(timeout)
        self._process = None

    def _on_event(self, tagged: tuple) -> None:
        process, event = tagged
        if process is not self._process or not isinstance(event, dict):
            return
        if event.get("event") == "error" and self._cancelled:
            event = {**event, "cancelled": True}
        self.last_event = event
        self.event.emit(event)
        if event.get("event") in FINAL_EVENTS:
            self._process = None
            self._paused = False
            self.finished.emit(event)
