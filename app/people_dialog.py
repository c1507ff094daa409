"""People whose faces Hearth recognises: list, enrol from a photo, forget."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QInputDialog,
                               QLabel, QListWidget, QMessageBox, QPushButton, QVBoxLayout)

from app.background import run_in_background
from memory.faces import FaceStore


class PeopleDialog(QDialog):
    def __init__(self, faces: FaceStore, experts, parent=None):
        super().__init__(parent)
        self.setWindowTitle("People Hearth recognises")
        self.setObjectName("peopleDialog")
        self.faces, self.experts = faces, experts
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Faces you enrolled stay in Hearth's database on this computer."))
        self.list = QListWidget(objectName="peopleList")
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.enroll_button = QPushButton("Enrol from photo…", objectName="enrollButton")
        self.forget_button = QPushButton("Forget", objectName="forgetButton")
        row.addWidget(self.enroll_button)
        row.addWidget(self.forget_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.status = QLabel(objectName="peopleStatus")
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.enroll_button.clicked.connect(self.choose_and_enroll)
        self.forget_button.clicked.connect(self.forget_selected)
        self.resize(420, 360)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for person in self.faces.people():
            self.list.addItem(f"{person.name} — {person.samples} photo(s)")
            self.list.item(self.list.count() - 1).setData(256, person.name)
        self.forget_button.setEnabled(self.list.count() > 0)

    def choose_and_enroll(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "A photo with one face", "",
                                              "Images (*.jpg *.jpeg *.png *.webp *.bmp)")
        if not path:
            return
        name, ok = QInputDialog.getText(self, "Who is this?", "Name:")
        if ok and name.strip():
            self.enroll(name.strip(), Path(path))

    def enroll(self, name: str, path: Path) -> None:
        self.enroll_button.setEnabled(False)
        self.status.setText(f"Learning {name}'s face from {path.name}…")

        def done(_face_id) -> None:
            self.status.setText(f"Enrolled {name}.")
            self.enroll_button.setEnabled(True)
            self.refresh()

        def failed(exc) -> None:
            self.status.setText(f"Could not enrol {name}: {exc}")
            self.enroll_button.setEnabled(True)

        run_in_background(self, lambda: self.experts.call(
            "face-recognition", lambda expert: expert.enroll(name, path)), done, failed)

    def forget_selected(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        name = item.data(256)
        answer = QMessageBox.question(self, "Forget", f"Forget every enrolled photo of {name}?")
        if answer == QMessageBox.StandardButton.Yes:
            n = self.faces.forget(name)
            self.status.setText(f"Forgot {n} photo(s) of {name}.")
            self.refresh()
