"""The transcript of one conversation. Answers stream in as plain text and are re-rendered
as Markdown once complete."""

from __future__ import annotations

import html

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import (QDesktopServices, QImageReader, QTextBlockFormat, QTextCharFormat,
                           QTextCursor, QTextImageFormat)
from PySide6.QtWidgets import QTextBrowser

from agent.expert_context import legacy_tasks, summarize

from memory.conversations import MessageRecord

STATUS_NOTES = {
    "stopped": "Stopped.",
    "interrupted": "Interrupted: Hearth closed before this answer finished.",
    "error": "Failed.",
    "streaming": "",
}

STEP_STATUS = {  # marker, colour
    "waiting": ("waiting", "#888888"),
    "running": ("running…", "#1f5fa8"),
    "done": ("done", "#2e7d32"),
    "failed": ("failed", "#b00020"),
    "skipped": ("skipped", "#b00020"),
    "stopped": ("stopped", "#888888"),
}
PLAN_SOURCE = {"model": "planned by the local model", "fallback": "fallback plan",
               "stopped": "stopped while planning"}
FIXABLE_SOURCES = ("model", "fallback")  # a stopped plan has nothing to correct
FIX_PLAN_TEXT = "Fix plan…"  # no emoji: many Linux desktops lack an emoji font (a box)
SHORT_OUTPUT = 90  # characters of a step's result shown while it is collapsed

CLOUD_COLOUR = "#1d6f6a"

IMAGE_BOX = (320, 220)  # annotated images are thumbnails; a tall photo must not fill the chat

WELCOME = ("<h2>Hearth</h2><p>A private assistant that runs on this computer. "
           "Nothing you type leaves it.</p><p>Type a message below and press Enter.</p>")


def cloud_note(cloud: dict) -> str:
    from sync.cloud import host_of

    where = host_of(cloud.get("endpoint") or "") or "the cloud"
    entry = f" (outbox #{cloud['outbox_id']})" if cloud.get("outbox_id") else ""
    return (f"Written at {where} from the anonymized request{entry}; "
            "names put back on this computer.")


class ChatView(QTextBrowser):
    fix_plan = Signal(int)  # "Fix plan…" clicked on this answer (message id)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("chatView")
        # Step links ("step:MESSAGE:TASK") expand a step in place; web links open outside.
        self.setOpenLinks(False)
        self.anchorClicked.connect(self._on_anchor)
        self.expanded: set[tuple[int, int]] = set()
        self._messages: list[MessageRecord] = []
        self.show_welcome()

    def _on_anchor(self, url: QUrl) -> None:
        if url.scheme() == "fixplan":
            self.fix_plan.emit(int(url.path()))
            return
        if url.scheme() != "step":
            QDesktopServices.openUrl(url)
            return
        message_id, _, task_id = url.path().partition(":")
        key = (int(message_id), int(task_id))
        self.expanded.symmetric_difference_update({key})
        bar = self.verticalScrollBar()
        position = bar.value()
        self.show_messages(self._messages)
        bar.setValue(position)

    def show_welcome(self) -> None:
        self.setHtml(WELCOME)
        self.showing_welcome = True

    def show_messages(self, messages: list[MessageRecord]) -> None:
        self._messages = messages
        self.clear()
        self.showing_welcome = False
        if not messages:
            self.show_welcome()
            return
        for m in messages:
            self.append_message(m.role, m.content, status=m.status, model=m.model,
                                error=m.meta.get("error"),
                                attachments=[a.name for a in m.attachments],
                                tasks=legacy_tasks(m.meta), trace=m.meta.get("trace"),
                                message_id=m.id,
                                memories=m.meta.get("memories", []),
                                saved_memory=m.meta.get("saved_memory"),
                                cloud=m.meta.get("cloud"))

    def _cursor_at_end(self) -> QTextCursor:
        cursor = self.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def append_message(self, role: str, content: str, *, status: str = "done",
                       model: str | None = None, error: str | None = None,
                       attachments: list[str] = (), tasks: list[dict] = (),
                       trace: dict | None = None, message_id: int = 0,
                       memories: list[dict] = (), saved_memory: dict | None = None,
                       cloud: dict | None = None) -> None:
        """`cloud`: the meta of an answer the cloud wrote ({"outbox_id", "endpoint"})."""
        if self.showing_welcome:
            self.clear()
            self.showing_welcome = False
        # Which model wrote an answer is always shown: the local one, or "cloud: <model>".
        if role == "user":
            who, colour = "You", "#2d5b8a"
        elif cloud is not None:
            who, colour = f"Hearth · cloud: {model or 'unknown model'}", CLOUD_COLOUR
        else:
            who, colour = (f"Hearth · {model}" if model else "Hearth"), "#8a4b2d"
        cursor = self._cursor_at_end()
        header = QTextBlockFormat()
        header.setTopMargin(14)
        if self.document().isEmpty():
            cursor.setBlockFormat(header)
        else:
            cursor.insertBlock(header, QTextCharFormat())
        cursor.insertHtml(f'<b style="color:{colour}">{html.escape(who)}</b>')
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())  # the header's bold stops here
        if cloud is not None:
            self._insert_grey(cursor, cloud_note(cloud))
        if saved_memory:
            what = "Already remembered" if saved_memory.get("duplicate") else "Saved to memory"
            self._insert_grey(cursor, f"{what}: {saved_memory['text']}")
        if memories:
            used = "; ".join(m["text"] for m in memories)
            self._insert_grey(cursor, f"Used memories: {used}")
        if trace is not None and trace.get("source") in PLAN_SOURCE:
            self._insert_plan_header(cursor, trace, message_id if role == "assistant"
                                     and status != "streaming" else 0)
        for task in tasks:
            self._insert_step(cursor, message_id, task)
        if tasks and content:
            gap = QTextBlockFormat()
            gap.setTopMargin(6)  # the answer stands apart from the steps
            cursor.setBlockFormat(gap)
        if role == "assistant" and status != "streaming" and content:
            cursor.insertMarkdown(content)
        else:
            cursor.insertText(content)
        if attachments:
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
            cursor.insertHtml(f'<span style="color:#666666">Attached: {html.escape(", ".join(attachments))}</span>')
        note = STATUS_NOTES.get(status, "")
        if error:
            note = f"{note} {error}".strip()
        if note:
            self.append_note(note, error=bool(error))
        self._scroll_to_end()

    def _insert_grey(self, cursor: QTextCursor, text: str, indent: bool = False) -> None:
        pad = "&nbsp;" * 4 if indent else ""
        cursor.insertHtml(f'{pad}<span style="color:#555555"><i>{html.escape(text)}</i></span>')
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())

    def _insert_plan_header(self, cursor: QTextCursor, trace: dict, message_id: int = 0) -> None:
        """`message_id`: an answer whose plan the user may correct ("Fix plan…": a corrected
        plan is a training example); 0 while it is still being written."""
        how = PLAN_SOURCE[trace["source"]]
        n = len(trace.get("tasks", []))
        text = f"Plan: {n} step{'s' if n != 1 else ''}, {how} in {trace.get('seconds', 0):.1f} s"
        if trace.get("error"):
            text += f" (the model's plan was unusable: {trace['error']})"
        fix = ""
        if message_id and trace.get("source") in FIXABLE_SOURCES:
            fix = (f' &nbsp;<a href="fixplan:{message_id}" style="color:#8a4b2d">'
                   f'{FIX_PLAN_TEXT}</a>')
        cursor.insertHtml(f'<span style="color:#555555"><b>{html.escape(text)}</b></span>{fix}')
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())

    def _insert_step(self, cursor: QTextCursor, message_id: int, task: dict) -> None:
        """One step of the plan: status, what it does, which expert, its time; a click on it
        shows its input and output (the transcript, the annotated image)."""
        status = task.get("status", "done")
        marker, colour = STEP_STATUS.get(status, (status, "#555555"))
        key = (message_id, task.get("id", 0))
        open_ = key in self.expanded
        seconds = f" · {task['seconds']:.2f} s" if task.get("seconds") and status == "done" else ""
        result = ""
        if status in ("done", "failed", "skipped", "stopped"):
            result = summarize(task["task"], task.get("output"), task.get("error"))
            if status == "skipped":
                result = task.get("error") or "skipped"
            if not open_ and len(result) > SHORT_OUTPUT:
                result = result[:SHORT_OUTPUT].rstrip() + "…"
        arrow = "[-]" if open_ else "[+]"
        link = f"step:{key[0]}:{key[1]}"
        cursor.insertHtml(
            f'<a href="{link}" style="color:#555555; text-decoration:none">{arrow}</a> '
            f'<span style="color:{colour}">[{html.escape(marker)}]</span> '
            f'<span style="color:#333333">{task.get("id", 0) + 1}. {html.escape(task.get("step", ""))}'
            f'</span> <span style="color:#777777">· {html.escape(task["task"])}{seconds}</span>'
            + (f'<br><span style="color:{"#b00020" if task.get("error") else "#555555"}">'
               f'&nbsp;&nbsp;&nbsp;&nbsp;{html.escape(result)}</span>' if result else ""))
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        if not open_:
            return
        args = task.get("args") or {}
        inputs = task.get("inputs") or {}
        for name, value in args.items():
            shown = value if inputs.get(name, value) == value or "/" in str(inputs.get(name)) \
                else f"{value} → {inputs[name]}"
            self._insert_grey(cursor, f"input {name}: {shown}", indent=True)
        needs = [d + 1 for d in task.get("dep", []) if d != -1]
        if needs:
            self._insert_grey(cursor, f"uses the output of step {', '.join(map(str, needs))}",
                              indent=True)
        annotated = task.get("annotated")
        if annotated:
            self._insert_image(cursor, annotated)

    def _insert_image(self, cursor: QTextCursor, path: str) -> None:
        size = QImageReader(path).size()
        if not size.isValid():
            return
        image = QTextImageFormat()
        image.setName(path)
        scale = min(1.0, IMAGE_BOX[0] / max(1, size.width()), IMAGE_BOX[1] / max(1, size.height()))
        image.setWidth(size.width() * scale)
        image.setHeight(size.height() * scale)
        cursor.insertImage(image)
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())

    def append_token(self, text: str) -> None:
        self._cursor_at_end().insertText(text, QTextCharFormat())
        self._scroll_to_end()

    def append_note(self, text: str, *, error: bool = False) -> None:
        colour = "#b00020" if error else "#666666"
        cursor = self._cursor_at_end()
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        cursor.insertHtml(f'<i style="color:{colour}">{html.escape(text)}</i>')
        self._scroll_to_end()

    def _scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())
