"""Starting the window: checks for a screen, opens the database, wires the model queue."""

from __future__ import annotations

import os
import sys
from importlib import resources


def has_screen() -> bool:
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_gui(argv: list[str] | None = None) -> int:
    if not has_screen():
        print("hearth: no screen found (DISPLAY is not set). Use `hearth ask \"…\"` in a terminal, "
              "or start the window under a virtual screen: xvfb-run hearth", file=sys.stderr)
        return 1
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from agent.assistant import Assistant
    from app.main_window import MainWindow
    from app.model_queue import ModelQueue
    from memory.conversations import ConversationStore
    from memory.db import Database
    from memory.settings import load_settings

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("Hearth")
    app.setWindowIcon(QIcon(str(resources.files("resources") / "icons" / "hearth.svg")))
    db = Database()
    store = ConversationStore(db)
    store.mark_interrupted()
    settings = load_settings(db)
    queue = ModelQueue(Assistant(store, settings))
    window = MainWindow(db, store, settings, queue)
    window.show()
    queue.warm_up()
    try:
        return app.exec()
    finally:
        db.close()
