"""The real window for the GUI tests, opened on a fresh database and closed after the test."""

import pytest

from agent.assistant import Assistant
from app.main_window import MainWindow
from app.model_queue import ModelQueue
from memory.conversations import ConversationStore
from memory.db import Database
from memory.settings import Settings, load_settings, save_settings


@pytest.fixture
def open_window(qtbot):
    opened = []

    def _open(llm_factory=None, settings: Settings | None = None, expert_classes=None):
        db = Database()
        store = ConversationStore(db)
        store.mark_interrupted()
        # Memory has its own tests; here it would only load the embedder again for each test.
        if settings is None:
            settings = load_settings(db).model_copy(update={"use_memory": False})
        else:
            save_settings(db, settings)  # as the app keeps them (the cloud worker reads them)
        kwargs = {"llm_factory": llm_factory} if llm_factory else {}
        if expert_classes is not None:
            from experts.registry import ExpertRegistry
            from experts.runner import ExpertRunner

            kwargs["experts"] = ExpertRunner(ExpertRegistry(db, classes=expert_classes))
        window = MainWindow(db, store, settings, ModelQueue(Assistant(store, settings, **kwargs)))
        qtbot.addWidget(window)
        window.show()
        opened.append((window, db))
        return window

    yield _open
    for window, db in opened:
        window.close()
        db.close()
