"""The conversation list as a Qt model over the store."""

from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt

from memory.conversations import ConversationRecord, ConversationStore

ConversationIdRole = Qt.ItemDataRole.UserRole + 1


class ConversationListModel(QAbstractListModel):
    def __init__(self, store: ConversationStore, parent=None):
        super().__init__(parent)
        self.store = store
        self.query = ""
        self._rows: list[ConversationRecord] = []
        self.refresh()

    def refresh(self, query: str | None = None) -> None:
        if query is not None:
            self.query = query
        self.beginResetModel()
        self._rows = self.store.list(self.query)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        conv = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return conv.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{conv.title}\nLast active {conv.updated_at:%Y-%m-%d %H:%M} UTC"
        if role == ConversationIdRole:
            return conv.id
        return None

    def row_of(self, conversation_id: int) -> int:
        for i, conv in enumerate(self._rows):
            if conv.id == conversation_id:
                return i
        return -1
