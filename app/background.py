"""Run a blocking call off the UI thread and get its result back on the UI thread (Anki's
QueryOp): the call never touches widgets; `on_done` / `on_error` run where widgets live."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)


def run_in_background(parent: QObject, fn: Callable[[], Any], on_done: Callable[[Any], None],
                      on_error: Callable[[BaseException], None]) -> threading.Thread:
    relay = _Relay(parent)  # lives in the UI thread, so its signals are delivered there
    relay.done.connect(on_done)
    relay.failed.connect(on_error)
    relay.done.connect(relay.deleteLater)
    relay.failed.connect(relay.deleteLater)

    def work() -> None:
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the UI, not raised in a thread
            relay.failed.emit(exc)
        else:
            relay.done.emit(result)

    thread = threading.Thread(target=work, name="hearth-background", daemon=True)
    thread.start()
    return thread
