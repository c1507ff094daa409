"""The approval dialog: before anything is sent (policy "ask each time"), the user sees the
exact payload that would leave the machine, to whom, and says Send or Don't send. Closing
the dialog decides nothing: the entry waits in the outbox."""

from __future__ import annotations

import json

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QPushButton,
                               QTabWidget, QVBoxLayout)

from sync.cloud import host_of
from sync.outbox import OutboxRecord

KIND_TEXT = {"answer": "an answer to your message", "plan": "a plan for your request (kept as a "
                                                            "training example, not run)"}


def payload_text(payload: dict) -> str:
    """The payload as it is sent (JSON; non-ASCII shown as is, so the user can read it)."""
    return json.dumps(payload, indent=2, ensure_ascii=False)


def readable_text(payload: dict) -> str:
    """The same messages with their line breaks, as the cloud model reads them."""
    parts = []
    for m in payload.get("messages", []):
        parts.append(f"── {m.get('role', '?')} ──\n{m.get('content', '')}")
    return "\n\n".join(parts)


def fixed_view(text: str, name: str) -> QPlainTextEdit:
    view = QPlainTextEdit(text, objectName=name, readOnly=True)
    view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    return view


class CloudPreviewDialog(QDialog):
    SEND, DONT_SEND = 1, 2  # done() codes; 0 (closed) leaves the entry waiting

    def __init__(self, record: OutboxRecord, parent=None):
        super().__init__(parent)
        self.record = record
        self.setObjectName("cloudPreview")
        self.setWindowTitle("Send this to the cloud?")
        layout = QVBoxLayout(self)
        intro = QLabel(
            f"<b>Hearth would send the text below to {host_of(record.endpoint)}</b> "
            f"(model {record.model}) and ask for {KIND_TEXT.get(record.kind, record.kind)}.<br>"
            "Names, e-mail addresses, phone and card numbers were replaced by placeholders such as "
            "&lt;PERSON_1&gt;; the reply is restored on this computer. Attached files are not "
            "sent. This is exactly what leaves the machine:", objectName="previewIntro")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.tabs = QTabWidget(objectName="previewTabs")
        self.payload_view = fixed_view(payload_text(record.payload), "previewPayload")
        self.readable_view = fixed_view(readable_text(record.payload), "previewReadable")
        self.tabs.addTab(self.payload_view, "Exact payload (JSON)")
        self.tabs.addTab(self.readable_view, "As the cloud reads it")
        layout.addWidget(self.tabs, 1)
        later = QLabel("Close this window to decide later: the request waits in Cloud → Outbox.",
                       objectName="previewLater")
        later.setStyleSheet("color: #666666")
        layout.addWidget(later)

        buttons = QDialogButtonBox()
        self.send_button = QPushButton("Send", objectName="previewSend")
        self.dont_send_button = QPushButton("Don't send", objectName="previewDontSend")
        buttons.addButton(self.dont_send_button, QDialogButtonBox.ButtonRole.RejectRole)
        buttons.addButton(self.send_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.send_button.clicked.connect(lambda: self.done(self.SEND))
        self.dont_send_button.clicked.connect(lambda: self.done(self.DONT_SEND))
        layout.addWidget(buttons)
        self.dont_send_button.setDefault(True)  # Enter must not send by accident
        self.resize(720, 520)

    def reject(self) -> None:  # Esc / the close button: no decision
        self.done(0)
