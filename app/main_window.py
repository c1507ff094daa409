"""The main window: conversations on the left, the chat on the right, status at the bottom."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from PySide6.QtCore import QEvent, QItemSelectionModel, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from pathlib import Path

from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QInputDialog, QLabel, QLineEdit,
                               QListView, QMainWindow, QMenu, QMessageBox, QProgressBar,
                               QPushButton, QSplitter, QVBoxLayout, QWidget)

from agent.context import MessageRejected, check_user_text
from agent.events import (AnswerFinished, AnswerStarted, CloudQueued, Failed, MemoriesProposed,
                          MemorySaved, Notice, PlanReady, PlanStarted, TaskFinished, TaskStarted,
                          Token, UserMessageSaved)
from app.attachment_bar import AttachmentBar
from app.chat_view import ChatView
from app.cloud_queue import CloudQueue
from app.conversation_list import ConversationIdRole, ConversationListModel
from app.message_input import MessageInput
from app.model_queue import ModelQueue
from app.night_runner import NightRunner, app_night_process
from app.settings_dialog import SettingsDialog
from experts.inputs import kind_of
from memory.conversations import MAX_ATTACHMENT_BYTES, ConversationStore
from memory.db import Database
from memory.settings import Settings, save_settings
from sync.outbox import OutboxError
from sync.service import OFFLINE_TEXT

PRIVACY_LABEL = OFFLINE_TEXT
LEARNING_CHECK_MS = 60_000  # how often the schedule is asked whether a night is due
INPUT_EVENTS = (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel)
POLICY_TEXT = {"ask": "each request is shown to you first",
               "fallback": "only when the local plan fails or you ask for the cloud",
               "never": "never"}


class MainWindow(QMainWindow):
    def __init__(self, db: Database, store: ConversationStore, settings: Settings,
                 queue: ModelQueue, cloud: CloudQueue | None = None):
        super().__init__()
        self.db, self.store, self.settings, self.queue = db, store, settings, queue
        # Cloud assist has its own worker; the assistant consults it after each local answer.
        self.cloud = cloud or CloudQueue(db, settings, parent=self)
        if getattr(queue.assistant, "cloud", None) is None:
            queue.assistant.cloud = self.cloud.assist
        self._previews: list = []  # outbox entries waiting for the preview dialog
        self._preview = None  # the preview dialog showing now
        self.current_id: int | None = None
        self._streaming_into: int | None = None  # conversation receiving the current answer
        # One night of learning at a time, paused while the chat model answers.
        self.learning = NightRunner(lambda: app_night_process(self.settings.model), self)
        self._learning_window = None
        self._correction = None  # the plan-correction dialog open now
        self._night_prefix = "Learning"  # or "Automatic night", in the status bar
        self.last_input = time.monotonic()  # the user's last key or click, for "idle"
        self.setWindowTitle("Hearth")
        self.setAcceptDrops(True)
        self.resize(1000, 680)
        self._build_widgets()
        self._build_actions()
        queue.event.connect(self._on_event)
        queue.busy_changed.connect(self._on_busy)
        queue.busy_changed.connect(self.learning.chat_busy)
        self.learning.started.connect(self._on_night_started)
        self.learning.event.connect(self._on_night_event)
        self.learning.finished.connect(self._on_night_finished)
        self.learning.paused_changed.connect(self._on_night_paused)
        from PySide6.QtWidgets import QApplication

        QApplication.instance().installEventFilter(self)
        self._learning_timer = QTimer(self, interval=LEARNING_CHECK_MS)
        self._learning_timer.timeout.connect(self.check_learning_schedule)
        self._learning_timer.start()
        self.cloud.status_changed.connect(self._show_privacy)
        self.cloud.answered.connect(self._on_cloud_answer)
        self.cloud.processed.connect(self._on_cloud_processed)
        self._on_busy(False)
        self._show_privacy()
        self._mention_waiting()
        first = self.conversations.index(0, 0)
        if first.isValid():
            self.open_conversation(first.data(ConversationIdRole))

    # ----- layout
    def _build_widgets(self) -> None:
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(6, 6, 0, 6)
        self.new_button = QPushButton("New conversation", objectName="newButton")
        self.search = QLineEdit(objectName="searchBox", placeholderText="Search conversations",
                                clearButtonEnabled=True)
        self.conversations = ConversationListModel(self.store, self)
        self.list_view = QListView(objectName="conversationList")
        self.list_view.setModel(self.conversations)
        self.list_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list_view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list_view.setUniformItemSizes(True)
        left_layout.addWidget(self.new_button)
        left_layout.addWidget(self.search)
        left_layout.addWidget(self.list_view, 1)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 6, 6, 6)
        self.chat = ChatView()
        self.input = MessageInput()
        self.attachments = AttachmentBar()
        self.send_button = QPushButton("Send", objectName="sendButton")
        self.stop_button = QPushButton("Stop", objectName="stopButton")
        self.attach_button = QPushButton("Attach…", objectName="attachButton")
        self.attach_button.setToolTip("Attach audio or images (or drop them on the window)")
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.attach_button)
        row.addLayout(buttons)
        right_layout.addWidget(self.chat, 1)
        right_layout.addWidget(self.attachments)
        right_layout.addLayout(row)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([250, 750])
        self.setCentralWidget(splitter)

        # Not QStatusBar.showMessage: it would hide the privacy label, which must always show.
        self.notice_label = QLabel(objectName="noticeLabel")
        self._notice_timer = QTimer(self, singleShot=True)
        self._notice_timer.timeout.connect(self.notice_label.clear)
        self.privacy_label = QLabel(PRIVACY_LABEL, objectName="privacyLabel")
        self.model_label = QLabel(objectName="modelLabel")
        self.speed_label = QLabel(objectName="speedLabel")
        self.progress = QProgressBar(objectName="busyBar", maximumWidth=120, textVisible=False)
        self.progress.setRange(0, 0)
        self.learning_label = QLabel(objectName="learningLabel")
        self.learning_label.setVisible(False)
        bar = self.statusBar()
        bar.addWidget(self.privacy_label)
        bar.addWidget(self.notice_label, 1)
        bar.addPermanentWidget(self.learning_label)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.model_label)
        bar.addPermanentWidget(self.speed_label)
        self._show_model()

        self.new_button.clicked.connect(self.new_conversation)
        self.search.textChanged.connect(self.conversations.refresh)
        self.list_view.clicked.connect(lambda idx: self.open_conversation(idx.data(ConversationIdRole)))
        self.list_view.activated.connect(lambda idx: self.open_conversation(idx.data(ConversationIdRole)))
        self.list_view.customContextMenuRequested.connect(self._list_menu)
        self.send_button.clicked.connect(self.send)
        self.input.submitted.connect(self.send)
        self.input.textChanged.connect(self._update_buttons)
        self.stop_button.clicked.connect(self.stop)
        self.attach_button.clicked.connect(self.choose_attachments)
        self.attachments.changed.connect(self._update_buttons)
        self.chat.fix_plan.connect(self.fix_plan)

    def _build_actions(self) -> None:
        def action(text, shortcut, slot, menu, name):
            act = QAction(text, self, objectName=name)
            act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            menu.addAction(act)
            self.addAction(act)
            return act

        file_menu = self.menuBar().addMenu("&File")
        action("&New conversation", QKeySequence.StandardKey.New, self.new_conversation, file_menu, "actionNew")
        action("&Attach files…", QKeySequence.StandardKey.Open, self.choose_attachments, file_menu, "actionAttach")
        action("&Settings…", "Ctrl+,", self.open_settings, file_menu, "actionSettings")
        file_menu.addSeparator()
        action("&Quit", QKeySequence.StandardKey.Quit, self.close, file_menu, "actionQuit")
        conv_menu = self.menuBar().addMenu("&Conversation")
        action("&Find…", QKeySequence.StandardKey.Find, self.search.setFocus, conv_menu, "actionFind")
        action("&Rename…", "F2", self.rename_current, conv_menu, "actionRename")
        action("&Delete", "Ctrl+Shift+Backspace", self.delete_current, conv_menu, "actionDelete")
        action("&Stop answering", "Esc", self.stop, conv_menu, "actionStop")
        memory_menu = self.menuBar().addMenu("&Memory")
        action("&What Hearth remembers…", "Ctrl+M", self.open_memory, memory_menu, "actionMemory")
        people_menu = self.menuBar().addMenu("&People")
        action("&Faces Hearth recognises…", "Ctrl+Shift+P", self.open_people, people_menu, "actionPeople")
        cloud_menu = self.menuBar().addMenu("C&loud")
        action("&Outbox…", "Ctrl+Shift+O", self.open_outbox, cloud_menu, "actionOutbox")
        action("Cloud assist &settings…", "", lambda: self.open_settings(cloud_tab=True),
               cloud_menu, "actionCloudSettings")
        learning_menu = self.menuBar().addMenu("Lea&rning")
        action("&Learning…", "Ctrl+Shift+L", self.open_learning, learning_menu, "actionLearning")
        self.learn_now_action = action("Learn &now", "", self.learn_now, learning_menu,
                                       "actionLearnNow")
        self.cancel_night_action = action("&Cancel the night", "", self.learning.cancel,
                                          learning_menu, "actionCancelNight")
        self.cancel_night_action.setEnabled(False)
        tools_menu = self.menuBar().addMenu("&Tools")
        action("Planning &benchmark report…", "", self.open_benchmark_report, tools_menu,
               "actionBenchmarkReport")

    def show_notice(self, text: str, ms: int = 8000) -> None:
        self.notice_label.setText(text)
        self.notice_label.setToolTip(text)
        self._notice_timer.start(ms)

    # ----- conversations
    def new_conversation(self) -> None:
        if self.current_id is not None and not self.store.messages(self.current_id):
            self.input.setFocus()  # the open conversation is still empty: use it
            return
        conv = self.store.create()
        self.search.clear()
        self.conversations.refresh()
        self.open_conversation(conv.id)
        self.input.setFocus()

    def open_conversation(self, conversation_id: int | None) -> None:
        self.current_id = conversation_id
        if conversation_id is None:
            self.chat.show_welcome()
        else:
            self.chat.show_messages(self.store.messages(conversation_id))
            row = self.conversations.row_of(conversation_id)
            if row >= 0:
                self.list_view.selectionModel().setCurrentIndex(
                    self.conversations.index(row, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._update_buttons()

    def rename_current(self) -> None:
        conv = self.store.get(self.current_id) if self.current_id else None
        if conv is None:
            return
        title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=conv.title)
        if ok and title.strip():
            self.store.rename(conv.id, title)
            self.conversations.refresh()
            self.open_conversation(conv.id)

    def delete_current(self) -> None:
        if self.current_id is None:
            return
        if self.queue.busy and self._streaming_into == self.current_id:
            self.show_notice("Stop the answer before deleting this conversation.", 5000)
            return
        conv = self.store.get(self.current_id)
        answer = QMessageBox.question(self, "Delete conversation",
                                      f"Delete “{conv.title}” and all its messages?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.store.delete(self.current_id)
        self.conversations.refresh()
        first = self.conversations.index(0, 0)
        self.open_conversation(first.data(ConversationIdRole) if first.isValid() else None)

    def _list_menu(self, pos) -> None:
        index = self.list_view.indexAt(pos)
        if not index.isValid():
            return
        self.open_conversation(index.data(ConversationIdRole))
        menu = QMenu(self)
        menu.addAction("Rename…", self.rename_current)
        menu.addAction("Delete", self.delete_current)
        menu.exec(self.list_view.viewport().mapToGlobal(pos))

    # ----- attachments
    def attach(self, paths: list[Path]) -> None:
        for path in paths:
            if not path.is_file():
                self.show_notice(f"{path.name} is not a file; only files can be attached.")
            elif path.stat().st_size > MAX_ATTACHMENT_BYTES:
                self.show_notice(f"{path.name} is {path.stat().st_size / 1e6:.0f} MB; attachments "
                                 f"are limited to {MAX_ATTACHMENT_BYTES / 1e6:.0f} MB.")
            else:
                if kind_of(path) is None:
                    self.show_notice(f"{path.name}: Hearth reads audio and images; this file will "
                                     "be attached but not analysed.")
                self.attachments.add(path)

    def choose_attachments(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Attach files", "",
            "Audio and images (*.wav *.mp3 *.m4a *.ogg *.flac *.jpg *.jpeg *.png *.webp *.bmp);;All files (*)")
        self.attach([Path(f) for f in files])

    def dragEnterEvent(self, event) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        self.attach([Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()])
        event.acceptProposedAction()

    # ----- sending
    def send(self) -> None:
        if self.queue.busy:
            return
        text = self.input.toPlainText()
        files = self.attachments.files()
        if not (files and not text.strip()):
            try:
                check_user_text(text)
            except MessageRejected as exc:
                self.show_notice(str(exc), 8000)
                return  # the text stays in the box: nothing is lost
        if self.current_id is None:
            self.new_conversation()
        self._streaming_into = self.current_id
        self.input.clear()
        self.attachments.clear()
        self.queue.send(self.current_id, text, files)

    def stop(self) -> None:
        self.queue.stop()

    def _on_event(self, _run_id: int, event) -> None:
        visible = self._streaming_into == self.current_id
        if isinstance(event, UserMessageSaved):
            self.conversations.refresh()
            if visible:
                self.open_conversation(self.current_id)
        elif isinstance(event, Notice):
            self.show_notice(event.text, 8000)
        elif isinstance(event, MemorySaved):
            self.show_notice(("Already remembered: " if event.duplicate else "Saved to memory: ")
                             + event.text)
        elif isinstance(event, MemoriesProposed):
            facts = "; ".join(m["text"] for m in event.memories)
            if event.status == "proposed":
                self.show_notice(f"Remember this? {facts} — accept it in Memory (Ctrl+M).", 20_000)
            else:
                self.show_notice(f"Saved to memory: {facts}", 15_000)
        elif isinstance(event, PlanStarted):
            self.show_notice("Planning which experts to use…", 60_000)
        elif isinstance(event, (PlanReady, TaskStarted, TaskFinished)):
            if isinstance(event, TaskStarted):
                self.show_notice(f"Step {event.task['id'] + 1}: running {event.task['task']}…", 60_000)
            if visible:
                self.open_conversation(self.current_id)  # the plan's live status, as stored
        elif isinstance(event, AnswerStarted):
            self.show_notice("", 0)
            if visible:
                self.open_conversation(self.current_id)  # the answer streams in after its trace
        elif isinstance(event, Token):
            if visible:
                self.chat.append_token(event.text)
        elif isinstance(event, AnswerFinished):
            speed = event.stats.get("tokens_per_s")
            if speed:
                self.speed_label.setText(f"{speed:.1f} tok/s")
            if visible:
                self.open_conversation(self.current_id)  # re-render the answer as Markdown
        elif isinstance(event, CloudQueued):
            self._on_cloud_queued(event.record)
        elif isinstance(event, Failed):
            self.show_notice(event.error, 15000)
            if visible:
                if event.message_id is None:
                    self.chat.append_note(event.error, error=True)
                else:
                    self.open_conversation(self.current_id)

    def _on_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        if not busy:
            self._streaming_into = None
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.queue.busy
        self.stop_button.setEnabled(busy)
        has_input = bool(self.input.toPlainText().strip()) or bool(self.attachments.files())
        self.send_button.setEnabled(not busy and has_input)

    def open_memory(self) -> None:
        from app.memory_window import MemoryWindow

        memory = self.queue.assistant.memory
        if memory is None:
            QMessageBox.warning(self, "Memory", f"Memory is not available: "
                                                f"{self.queue.assistant.memory_error}")
            return
        MemoryWindow(memory, self).exec()

    def open_people(self) -> None:
        from app.people_dialog import PeopleDialog
        from memory.faces import FaceStore

        PeopleDialog(FaceStore(self.db), self.queue.assistant.experts, self).exec()

    def open_benchmark_report(self) -> Path | None:
        """Open the newest planning-benchmark report.md (`hearth bench …` writes them)."""
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        from agent.planbench.report import newest_report
        from memory.paths import user_dir

        path = newest_report(user_dir() / "benchmarks")
        if path is None:
            self.show_notice("No planning benchmark report yet. Make one in a terminal with: "
                             "hearth bench plan --split test", 15_000)
            return None
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.show_notice(f"Could not open {path}; open it in a Markdown viewer.", 15_000)
        else:
            self.show_notice(f"Opened {path}", 8000)
        return path

    # ----- cloud assist
    def _show_privacy(self, *_args) -> None:
        """What can leave the machine, always in view."""
        s = self.settings
        self.privacy_label.setText(self.cloud.status_text())
        if self.cloud.enabled:
            self.privacy_label.setToolTip(
                f"Anonymized requests may go to {s.cloud_base_url} (model {s.cloud_model}): "
                f"{POLICY_TEXT[s.cloud_policy]}. Every request is listed in Cloud → Outbox.")
            self.privacy_label.setStyleSheet("color: #8a5a00; font-weight: bold")
        else:
            self.privacy_label.setToolTip("Nothing you type, attach or say leaves this computer.")
            self.privacy_label.setStyleSheet("")

    def _mention_waiting(self) -> None:
        waiting = self.cloud.assist.outbox.list(status="awaiting_approval")
        if waiting and self.cloud.enabled:
            self.show_notice(f"{len(waiting)} cloud request(s) await your approval in "
                             "Cloud → Outbox.", 15_000)

    def _on_cloud_queued(self, record) -> None:
        if record.status == "awaiting_approval":
            self._previews.append(record)
            self._next_preview()
        else:
            self.show_notice(f"Asking the cloud ({record.model}) as well; its answer will "
                             "follow.", 10_000)
            self.cloud.kick()

    def _next_preview(self) -> None:
        from app.cloud_preview import CloudPreviewDialog

        if self._preview is not None or not self._previews:
            return
        record = self._previews.pop(0)
        dialog = CloudPreviewDialog(record, self)
        dialog.finished.connect(lambda code: self._preview_done(record, code))
        self._preview = dialog
        dialog.open()  # window-modal, without a nested event loop: answers keep streaming

    def _preview_done(self, record, code: int) -> None:
        from app.cloud_preview import CloudPreviewDialog

        self._preview.deleteLater()
        self._preview = None
        try:
            if code == CloudPreviewDialog.SEND:
                self.cloud.approve(record.id)
                if self.cloud.enabled:
                    self.show_notice(f"Sending to {record.model}; its answer will follow.", 10_000)
                else:  # turned off while the preview was open: approval alone sends nothing
                    self.show_notice("Approved; it is sent once cloud assist is on again.", 10_000)
            elif code == CloudPreviewDialog.DONT_SEND:
                self.cloud.decline(record.id)
                self.show_notice("Not sent. The request stays in Cloud → Outbox.", 8000)
            else:
                self.show_notice("Not sent yet: the request waits in Cloud → Outbox.", 8000)
        except OutboxError as exc:  # decided meanwhile in the outbox window
            self.show_notice(str(exc), 8000)
        self._next_preview()

    def _on_cloud_answer(self, record) -> None:
        if record.kind != "answer":
            self.show_notice(f"The cloud ({record.model}) sent a plan; it is kept as a training "
                             "example.", 8000)
            return
        if record.reply_message_id is None:
            self.show_notice(f"The cloud ({record.model}) answered a conversation that was "
                             "deleted; the reply is in Cloud → Outbox.", 10_000)
            return
        self.conversations.refresh()
        if record.conversation_id == self.current_id:
            if not (self.queue.busy and self._streaming_into == self.current_id):
                self.open_conversation(self.current_id)  # else the answer's end re-renders it
        else:
            conv = self.store.get(record.conversation_id)
            title = f" in “{conv.title}”" if conv else ""
            self.show_notice(f"The cloud ({record.model}) answered{title}.", 10_000)

    def _on_cloud_processed(self, records) -> None:
        for record in records:
            if record.status == "failed":
                self.show_notice(f"Cloud request #{record.id} failed: {record.last_error} "
                                 "(Retry it in Cloud → Outbox.)", 20_000)
            elif record.status == "queued" and record.last_error:
                self.show_notice(f"Cloud request #{record.id}: {record.last_error} "
                                 "Hearth will try again.", 15_000)

    def open_outbox(self) -> None:
        from app.outbox_window import OutboxWindow

        OutboxWindow(self.cloud, self).exec()

    # ----- settings
    def open_settings(self, cloud_tab: bool = False) -> None:
        dialog = SettingsDialog(self.settings, self, cloud=self.cloud)
        if cloud_tab:
            dialog.tabs.setCurrentWidget(dialog.cloud_tab)
        if dialog.exec():
            self.apply_settings(dialog.result_settings())

    def apply_settings(self, settings: Settings) -> None:
        self.settings = settings
        save_settings(self.db, settings)
        self.queue.apply_settings(settings)
        self.cloud.apply_settings(settings)
        self._show_model()

    def _show_model(self) -> None:
        s = self.settings
        self.model_label.setText(f"{s.model} · {s.n_threads} threads · {s.n_ctx:,} ctx")

    # ----- learning
    def eventFilter(self, watched, event) -> bool:
        if event.type() in INPUT_EVENTS:
            self.last_input = time.monotonic()
        return False

    def open_learning(self):
        from app.learning_window import LearningWindow

        if self._learning_window is None:
            self._learning_window = LearningWindow(self.learning, lambda: self.settings.model,
                                                   parent=self)
        else:
            self._learning_window.refresh()
        self._learning_window.show()
        self._learning_window.raise_()
        return self._learning_window

    def learn_now(self) -> bool:
        return self.start_night("Learn now")

    def start_night(self, why: str) -> bool:
        if self.learning.running:
            self.show_notice("A night of learning is already running.", 5000)
            return False
        try:
            return self.learning.start(why)
        except Exception as exc:  # noqa: BLE001 - e.g. the process could not be started
            self.show_notice(f"Learning could not start: {exc}", 15_000)
            return False

    def check_learning_schedule(self, now: datetime | None = None) -> tuple[bool, str]:
        """Every minute: start an automatic night when the schedule says one is due."""
        from sync.learning import nightly, schedule, source

        if self.learning.running:
            return False, "a night is running"
        try:
            history = nightly.history()
            last = _aware(datetime.fromisoformat(history[-1]["recorded"])) if history else None
            due, reason = schedule.due(
                now or datetime.now().astimezone(), self.settings,
                idle_seconds=time.monotonic() - self.last_input,
                on_power=schedule.on_power(), last_night=last,
                new_examples=source.count_since(self.db, last))
        except Exception as exc:  # noqa: BLE001 - the schedule must never take the window down
            self.learning_label.setToolTip(f"The learning schedule could not be checked: {exc}")
            return False, str(exc)
        if due:
            self.start_night("automatic")
        return due, reason

    def _on_night_started(self, why: str) -> None:
        self.learn_now_action.setEnabled(False)
        self.cancel_night_action.setEnabled(True)
        prefix = "Automatic night" if why == "automatic" else "Learning"
        self._night_prefix = prefix
        self.learning_label.setText(f"{prefix}: starting…")
        self.learning_label.setToolTip("Hearth is learning from your plans in a low-priority "
                                       "process; it pauses while Hearth answers. "
                                       "Learning → Cancel the night stops it.")
        self.learning_label.setVisible(True)
        if why == "automatic":
            self.show_notice("An automatic night of learning started (Learning → Learning… "
                             "shows it).", 10_000)

    def _on_night_event(self, event: dict) -> None:
        prefix = self._night_prefix
        if event.get("event") == "stage":
            self.learning_label.setText(f"{prefix}: {event.get('stage', '')}")
        elif event.get("event") == "progress":
            percent = f"{round(100 * float(event.get('fraction') or 0))} %"
            message = event.get("message")
            self.learning_label.setText(f"{prefix}: {message} ({percent})" if message
                                        else f"{prefix}: {percent}")

    def _on_night_paused(self, paused: bool) -> None:
        text = self.learning_label.text().split(" (paused")[0]
        self.learning_label.setText(text + (" (paused while Hearth answers)" if paused else ""))

    def _on_night_finished(self, event: dict) -> None:
        from app.learning_window import result_text

        self.learn_now_action.setEnabled(True)
        self.cancel_night_action.setEnabled(False)
        self.learning_label.setVisible(False)
        self.show_notice(f"Learning: {result_text(event)}", 20_000)

    def fix_plan(self, message_id: int) -> None:
        """"Fix plan…" on an answer: the user's corrected plan becomes a training example."""
        from app.plan_correction import PlanCorrectionDialog

        messages = self.store.messages(self.current_id) if self.current_id else []
        at = next((i for i, m in enumerate(messages) if m.id == message_id), None)
        if at is None:
            return
        plan = (messages[at].meta.get("trace") or {}).get("plan")
        user = next((m for m in reversed(messages[:at]) if m.role == "user"), None)
        if user is None:
            self.show_notice("This answer has no question to learn from.", 8000)
            return
        if self._correction is not None:
            self._correction.close()
        dialog = PlanCorrectionDialog(self.db, user.content, [a.name for a in user.attachments],
                                      plan, self)
        dialog.accepted.connect(lambda: self.show_notice(dialog.CONFIRMATION, 15_000))
        dialog.finished.connect(lambda _code: setattr(self, "_correction", None))
        self._correction = dialog
        dialog.open()

    def closeEvent(self, event) -> None:
        from PySide6.QtWidgets import QApplication

        QApplication.instance().removeEventFilter(self)
        self._learning_timer.stop()
        self.learning.close()
        self.queue.close()
        self.cloud.close()
        super().closeEvent(event)


def _aware(when: datetime) -> datetime:
    """History times are UTC; an old record without a zone is taken as UTC too."""
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
