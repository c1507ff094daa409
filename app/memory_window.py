"""The memory window: everything Hearth remembers, to search, edit, pin and delete for real."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialog, QFileDialog,
                               QHBoxLayout, QHeaderView, QInputDialog, QLabel, QLineEdit,
                               QMessageBox, QPushButton, QTableView, QVBoxLayout)

from app.table_model import RecordsTableModel
from app.background import run_in_background
from memory.memories import MemoryRecord

KINDS = ("profile", "event", "preference", "note", "document")
COLUMNS = ("Memory", "Kind", "Pinned", "Status", "Source", "Created", "Last used")


class MemoryTableModel(RecordsTableModel):
    columns = COLUMNS
    rows: list[MemoryRecord]

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        m = self.rows[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole:
            conflict = f"\nConflicts with memory #{m.conflicts_with}" if m.conflicts_with else ""
            return f"#{m.id}: {m.text}{conflict}"
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return [m.text + (" (may contradict #" + str(m.conflicts_with) + ")" if m.conflicts_with else ""), m.kind, "pinned" if m.pinned else "",
                m.status, m.source or "", f"{m.created_at:%Y-%m-%d}",
                f"{m.last_used_at:%Y-%m-%d}" if m.last_used_at else ""][index.column()]


class MemoryWindow(QDialog):
    def __init__(self, memory, parent=None):
        super().__init__(parent)
        self.memory = memory
        self.setWindowTitle("Memory — what Hearth remembers about you")
        self.setObjectName("memoryWindow")
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.search = QLineEdit(objectName="memorySearch", placeholderText="Search memories",
                                clearButtonEnabled=True)
        self.kind = QComboBox(objectName="memoryKind")
        self.kind.addItem("All kinds", None)
        for kind in KINDS:
            self.kind.addItem(kind, kind)
        self.proposed = QCheckBox("Proposed only", objectName="memoryProposed")
        top.addWidget(self.search, 1)
        top.addWidget(self.kind)
        top.addWidget(self.proposed)
        layout.addLayout(top)

        self.model = MemoryTableModel(self)
        self.table = QTableView(objectName="memoryTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        layout.addWidget(self.table, 1)

        buttons = QHBoxLayout()
        self.buttons = {}
        for key, label in (("add", "Add…"), ("edit", "Edit…"), ("pin", "Pin / unpin"),
                           ("delete", "Delete"), ("accept", "Accept"), ("reject", "Reject"),
                           ("forget_about", "Forget everything about…"),
                           ("document", "Add document…"), ("export", "Export…"),
                           ("import", "Import…")):
            button = QPushButton(label, objectName=f"memory_{key}")
            buttons.addWidget(button)
            self.buttons[key] = button
        layout.addLayout(buttons)
        self.status = QLabel(objectName="memoryStatus")
        layout.addWidget(self.status)

        self.search.textChanged.connect(self.refresh)
        self.kind.currentIndexChanged.connect(self.refresh)
        self.proposed.toggled.connect(self.refresh)
        b = self.buttons
        b["add"].clicked.connect(self.ask_add)
        b["edit"].clicked.connect(self.ask_edit)
        b["pin"].clicked.connect(self.toggle_pin)
        b["delete"].clicked.connect(self.delete_selected)
        b["accept"].clicked.connect(lambda: self._each_selected(self.memory.accept, "Accepted"))
        b["reject"].clicked.connect(lambda: self._each_selected(self.memory.reject, "Rejected"))
        b["forget_about"].clicked.connect(self.ask_forget_about)
        b["document"].clicked.connect(self.ask_add_document)
        b["export"].clicked.connect(self.ask_export)
        b["import"].clicked.connect(self.ask_import)
        self.resize(980, 520)
        self.refresh()

    # ----- listing
    def refresh(self) -> None:
        status = "proposed" if self.proposed.isChecked() else None
        query = self.search.text().strip() or None
        self.model.set_rows(self.memory.list(kind=self.kind.currentData(), query=query,
                                             status=status))
        self.status.setText(f"{self.model.rowCount()} memories shown.")

    def selected(self) -> list[MemoryRecord]:
        rows = {i.row() for i in self.table.selectionModel().selectedRows()}
        return [self.model.rows[r] for r in sorted(rows)]

    def _each_selected(self, fn, verb: str) -> None:
        chosen = self.selected()
        for m in chosen:
            fn(m.id)
        self.refresh()
        self.status.setText(f"{verb} {len(chosen)} memories.")

    # ----- changes
    def add(self, text: str, kind: str = "note") -> None:
        from memory.service import DuplicateResult

        try:
            result = self.memory.remember(text, kind=kind, source="memory window")
        except ValueError as exc:
            self.status.setText(str(exc))
            return
        self.refresh()
        if isinstance(result, DuplicateResult):
            self.status.setText(f"Already remembered: {result.existing.text}")
        elif result.conflicts_with:
            self.status.setText(f"Saved; it may contradict memory #{result.conflicts_with}.")
        else:
            self.status.setText("Saved.")

    def ask_add(self) -> None:
        text, ok = QInputDialog.getMultiLineText(self, "Remember", "What should Hearth remember?")
        if ok and text.strip():
            kind, ok = QInputDialog.getItem(self, "Remember", "Kind:", list(KINDS[:-1]), 3, False)
            if ok:
                self.add(text.strip(), kind)

    def ask_edit(self) -> None:
        chosen = self.selected()
        if len(chosen) != 1:
            self.status.setText("Select one memory to edit.")
            return
        text, ok = QInputDialog.getMultiLineText(self, "Edit memory", "Memory:", chosen[0].text)
        if ok and text.strip():
            try:
                self.memory.update_text(chosen[0].id, text.strip())
            except ValueError as exc:
                self.status.setText(str(exc))
                return
            self.refresh()
            self.status.setText("Saved.")

    def toggle_pin(self) -> None:
        for m in self.selected():
            self.memory.set_pinned(m.id, not m.pinned)
        self.refresh()

    def delete_selected(self) -> None:
        chosen = self.selected()
        if not chosen:
            return
        answer = QMessageBox.question(self, "Delete", f"Delete {len(chosen)} memories for good?")
        if answer == QMessageBox.StandardButton.Yes:
            self._each_selected(self.memory.forget, "Deleted")

    def ask_forget_about(self) -> None:
        topic, ok = QInputDialog.getText(self, "Forget everything about…", "Topic:")
        if ok and topic.strip():
            self.forget_about(topic.strip())

    def forget_about(self, topic: str) -> int:
        candidates = self.memory.preview_forget_about(topic)
        if not candidates:
            self.status.setText(f"Nothing remembered about {topic}.")
            return 0
        listing = "\n".join(f"• {c.record.text} ({c.reason})" for c in candidates[:20])
        answer = QMessageBox.question(self, "Forget everything about…",
                                      f"Delete these {len(candidates)} memories?\n\n{listing}")
        if answer != QMessageBox.StandardButton.Yes:
            return 0
        n = self.memory.forget_many(c.record.id for c in candidates)
        self.refresh()
        self.status.setText(f"Forgot {n} memories about {topic}.")
        return n

    def ask_add_document(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a document to memory", "",
                                              "Documents (*.txt *.md *.pdf)")
        if path:
            self.add_document(Path(path))

    def add_document(self, path: Path) -> None:
        self.status.setText(f"Reading {path.name}…")
        self.buttons["document"].setEnabled(False)

        def done(result) -> None:
            self.buttons["document"].setEnabled(True)
            self.refresh()
            self.status.setText(f"Added {path.name} to memory.")

        def failed(exc) -> None:
            self.buttons["document"].setEnabled(True)
            self.status.setText(str(exc))

        run_in_background(self, lambda: self.memory.add_document(path), done, failed)

    def ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export memories", "hearth-memories.json",
                                              "JSON (*.json)")
        if path:
            n = self.memory.export_json(Path(path))
            self.status.setText(f"Exported {n} memories to {path}.")

    def ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import memories", "", "JSON (*.json)")
        if path:
            try:
                report = self.memory.import_json(Path(path))
            except ValueError as exc:
                self.status.setText(str(exc))
                return
            self.refresh()
            self.status.setText(f"Imported: {report}")
