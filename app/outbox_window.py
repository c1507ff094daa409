"""The outbox window: every request prepared for the cloud — when, to whom, what kind, its
state — and, for the selected one, the exact payload that is (or was) sent and the reply as
it came back and as restored on this computer. Send, don't send, retry or delete it here."""

from __future__ import annotations

from datetime import timezone

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QHBoxLayout, QHeaderView, QLabel,
                               QMessageBox, QPushButton, QSplitter, QTableView,
                               QTabWidget, QVBoxLayout, QWidget)

from app.table_model import RecordsTableModel
from app.cloud_preview import fixed_view, payload_text, readable_text
from sync.cloud import host_of
from sync.outbox import OutboxError, OutboxRecord

COLUMNS = ("Time", "To", "Kind", "Status", "Attempts")
STATUS_TEXT = {"awaiting_approval": "awaiting your approval", "queued": "queued",
               "sending": "sending…", "sent": "sent", "failed": "failed",
               "declined": "not sent (declined)"}


def local_time(value) -> str:
    """The tables store naive UTC; show the user's clock."""
    if value is None:
        return ""
    return value.replace(tzinfo=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S")


class OutboxTableModel(RecordsTableModel):
    columns = COLUMNS
    rows: list[OutboxRecord]

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r = self.rows[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"#{r.id} → {r.endpoint} ({r.model})" + (f"\n{r.last_error}" if r.last_error else "")
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return [local_time(r.created_at), f"{host_of(r.endpoint)} · {r.model}", r.kind,
                STATUS_TEXT.get(r.status, r.status), str(r.attempts)][index.column()]


class OutboxWindow(QDialog):
    def __init__(self, cloud, parent=None):
        """`cloud`: the app's CloudQueue (its CloudAssist does the outbox actions)."""
        super().__init__(parent)
        self.cloud = cloud
        self.setWindowTitle("Outbox — what Hearth prepared for or sent to the cloud")
        self.setObjectName("outboxWindow")
        layout = QVBoxLayout(self)
        self.summary = QLabel(objectName="outboxSummary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)

        self.model = OutboxTableModel(self)
        self.table = QTableView(objectName="outboxTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch if column == 1
                                        else QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)

        details = QWidget()
        details_layout = QVBoxLayout(details)
        details_layout.setContentsMargins(0, 0, 0, 0)
        self.detail_label = QLabel(objectName="outboxDetail")
        self.detail_label.setWordWrap(True)
        details_layout.addWidget(self.detail_label)
        self.tabs = QTabWidget(objectName="outboxTabs")
        self.payload_view = fixed_view("", "outboxPayload")
        self.readable_view = fixed_view("", "outboxReadable")
        self.response_view = fixed_view("", "outboxResponse")
        self.restored_view = fixed_view("", "outboxRestored")
        self.tabs.addTab(self.payload_view, "Sent (exact payload)")
        self.tabs.addTab(self.readable_view, "Sent, readable")
        self.tabs.addTab(self.response_view, "Reply as received")
        self.tabs.addTab(self.restored_view, "Reply restored on this computer")
        details_layout.addWidget(self.tabs, 1)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(details)
        splitter.setSizes([150, 380])
        layout.addWidget(splitter, 1)

        row = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for key, label, tip in (
                ("send", "Send", "Approve: send this request now"),
                ("decline", "Don't send", "Keep it in the log, never send it"),
                ("retry", "Retry", "Queue a failed request again"),
                ("delete", "Delete", "Remove it and its placeholder mapping from this computer"),
                ("refresh", "Refresh", "")):
            button = QPushButton(label, objectName=f"outbox_{key}", toolTip=tip)
            row.addWidget(button)
            self.buttons[key] = button
        row.addStretch(1)
        close = QPushButton("Close", objectName="outbox_close")
        close.clicked.connect(self.accept)
        row.addWidget(close)
        layout.addLayout(row)
        self.status = QLabel(objectName="outboxStatus")
        layout.addWidget(self.status)

        b = self.buttons
        b["send"].clicked.connect(lambda: self._act(self.cloud.approve, "Approved; sending"))
        b["decline"].clicked.connect(lambda: self._act(self.cloud.decline, "Will not be sent"))
        b["retry"].clicked.connect(lambda: self._act(self.cloud.retry, "Queued again"))
        b["delete"].clicked.connect(self.delete_selected)
        b["refresh"].clicked.connect(self.refresh)
        self.table.selectionModel().selectionChanged.connect(self._show_selected)
        cloud.processed.connect(self._on_processed)
        self.resize(940, 640)
        self.refresh()

    # ----- listing
    def refresh(self) -> None:
        keep = self.selected()
        self.model.set_rows(self.cloud.assist.outbox.list())
        self.summary.setText(self._summary_text())
        if keep is not None:
            self.select(keep.id)
        self._show_selected()

    def _summary_text(self) -> str:
        rows = self.model.rows
        state = self.cloud.status_text()
        if not rows:
            return f"{state}. Nothing has been prepared for the cloud."
        sent = sum(r.status == "sent" for r in rows)
        waiting = sum(r.status == "awaiting_approval" for r in rows)
        return (f"{state}. {len(rows)} request(s): {sent} sent, {waiting} awaiting your approval. "
                "Only what the “Sent” tab shows leaves this computer; the placeholder mapping "
                "never does.")

    def _on_processed(self, _records) -> None:
        self.refresh()

    def selected(self) -> OutboxRecord | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.rows[rows[0].row()] if rows else None

    def select(self, entry_id: int) -> bool:
        for i, r in enumerate(self.model.rows):
            if r.id == entry_id:
                self.table.selectRow(i)
                return True
        return False

    def _show_selected(self, *_args) -> None:
        r = self.selected()
        b = self.buttons
        b["send"].setEnabled(r is not None and r.status == "awaiting_approval")
        b["decline"].setEnabled(r is not None and r.status in ("awaiting_approval", "queued", "failed"))
        b["retry"].setEnabled(r is not None and r.status == "failed")
        b["delete"].setEnabled(r is not None)
        if r is None:
            self.detail_label.setText("Select a request to see exactly what was sent.")
            for view in (self.payload_view, self.readable_view, self.response_view,
                         self.restored_view):
                view.clear()
            return
        lines = [f"#{r.id} · {r.kind} · to {r.endpoint} · model {r.model} · "
                 f"{STATUS_TEXT.get(r.status, r.status)}"]
        if r.sent_at:
            lines.append(f"Sent {local_time(r.sent_at)}.")
        elif r.status == "queued" and r.next_attempt_at:
            lines.append(f"Next attempt {local_time(r.next_attempt_at)}.")
        if r.last_error:
            lines.append(f"Last error: {r.last_error}")
        self.detail_label.setText("\n".join(lines))
        self.payload_view.setPlainText(payload_text(r.payload))
        self.readable_view.setPlainText(readable_text(r.payload))
        self.response_view.setPlainText(r.response or "(no reply yet)")
        self.restored_view.setPlainText(r.restored or "(no reply yet)")

    # ----- actions
    def _act(self, action, done_text: str) -> None:
        r = self.selected()
        if r is None:
            return
        try:
            action(r.id)
        except OutboxError as exc:
            self.status.setText(str(exc))
        else:
            self.status.setText(f"#{r.id}: {done_text}.")
        self.refresh()

    def delete_selected(self) -> None:
        r = self.selected()
        if r is None:
            return
        answer = QMessageBox.question(
            self, "Delete outbox entry",
            f"Delete request #{r.id} and its placeholder mapping from this computer? "
            "A copy the cloud already received is not affected.")
        if answer != QMessageBox.StandardButton.Yes:
            return
        if self.cloud.delete(r.id):
            self.status.setText(f"#{r.id} deleted.")
        else:
            self.status.setText(f"#{r.id} was already gone.")
        self.refresh()
