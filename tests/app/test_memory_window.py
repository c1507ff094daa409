"""The memory window on the real memory (embedder + Chroma): list, search, filter, edit, pin,
delete for real, forget everything about a topic, export and import."""

import pytest
from PySide6.QtWidgets import QMessageBox

from app.memory_window import MemoryWindow
from memory.service import Memory

pytestmark = [pytest.mark.gui, pytest.mark.real_model]


@pytest.fixture
def window(qtbot, db, monkeypatch):
    memory = Memory(db)
    for text, kind in [("I'm allergic to peanuts.", "profile"), ("My sister's name is Ana.", "profile"),
                       ("I prefer tea to coffee.", "preference"), ("Dentist on 3 March.", "event")]:
        memory.remember(text, kind=kind)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    w = MemoryWindow(memory)
    qtbot.addWidget(w)
    yield w
    memory.close()


def texts(w):
    return [m.text for m in w.model.rows]


def test_lists_searches_and_filters(window):
    assert len(texts(window)) == 4
    window.search.setText("sister")
    assert texts(window) == ["My sister's name is Ana."]
    window.search.clear()
    window.kind.setCurrentIndex(window.kind.findData("preference"))
    assert texts(window) == ["I prefer tea to coffee."]


def test_edit_pin_and_delete_for_real(window, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    row = texts(window).index("My sister's name is Ana.")
    window.table.selectRow(row)
    monkeypatch.setattr(QInputDialog, "getMultiLineText", lambda *a, **k: ("My sister's name is Anna.", True))
    window.ask_edit()
    assert "My sister's name is Anna." in texts(window)
    window.table.selectRow(texts(window).index("My sister's name is Anna."))
    window.toggle_pin()
    assert [m.pinned for m in window.model.rows if m.text.startswith("My sister")] == [True]

    peanut = next(m for m in window.model.rows if "peanuts" in m.text)
    window.table.selectRow(texts(window).index(peanut.text))
    window.delete_selected()
    assert "I'm allergic to peanuts." not in texts(window)
    assert window.memory.index.collection.get(ids=[str(peanut.id)])["ids"] == []  # the vector too
    assert all("peanut" not in r.text for r, _ in window.memory.search("peanut allergy"))


def test_forget_everything_about_a_topic(window):
    assert window.forget_about("sister") == 1
    assert all("sister" not in t for t in texts(window))


def test_add_reports_duplicates(window):
    window.add("I prefer tea to coffee.", "preference")
    assert "Already remembered" in window.status.text()
    window.add("", "note")
    assert window.status.text()  # a refusal with a reason, not a crash


def test_export_then_import_round_trips(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    out = tmp_path / "memories.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    window.ask_export()
    assert out.exists() and "Exported 4" in window.status.text()
    for m in list(window.model.rows):
        window.memory.forget(m.id)
    window.refresh()
    assert texts(window) == []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(out), ""))
    window.ask_import()
    assert len(texts(window)) == 4
