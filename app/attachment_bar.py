"""Files waiting to be sent with the next message, each removable before sending."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget


class AttachmentBar(QWidget):
    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("attachmentBar")
        self._files: list[Path] = []
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addStretch(1)
        self.setVisible(False)

    def files(self) -> list[Path]:
        return list(self._files)

    def add(self, path: Path) -> None:
        if path in self._files:
            return
        self._files.append(path)
        chip = QPushButton(f"{path.name}  ✕")
        chip.setObjectName("attachmentChip")
        chip.setToolTip(f"{path}\nClick to remove")
        chip.setFlat(True)
        chip.clicked.connect(lambda: self._remove(path, chip))
        self._layout.insertWidget(self._layout.count() - 1, chip)
        self.setVisible(True)
        self.changed.emit()

    def _remove(self, path: Path, chip: QPushButton) -> None:
        self._files.remove(path)
        chip.deleteLater()
        self.setVisible(bool(self._files))
        self.changed.emit()

    def clear(self) -> None:
        for chip in self.findChildren(QPushButton):
            chip.deleteLater()
        self._files.clear()
        self.setVisible(False)
        self.changed.emit()


