"""The transcript of one conversation. Answers stream in as plain text and are re-rendered
as Markdown once complete."""

from __future__ import annotations

import html

from PySide6.QtGui import QImageReader, QTextBlockFormat, QTextCharFormat, QTextCursor, QTextImageFormat

from agent.expert_context import summarize
from PySide6.QtWidgets import QTextBrowser

from memory.conversations import MessageRecord

STATUS_NOTES = {
    "stopped": "Stopped.",
    "interrupted": "Interrupted: Hearth closed before this answer finished.",
    "error": "Failed.",
    "streaming": "",
}

IMAGE_BOX = (320, 220)  # annotated images are thumbnails; a tall photo must not fill the chat

WELCOME = ("<h2>Hearth</h2><p>A private assistant that runs on this computer. "
           "Nothing you type leaves it.</p><p>Type a message below and press Enter.</p>")


class ChatView(QTextBrowser):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("chatView")
        self.setOpenExternalLinks(True)
        self.show_welcome()

    def show_welcome(self) -> None:
        self.setHtml(WELCOME)
        self.showing_welcome = True

    def show_messages(self, messages: list[MessageRecord]) -> None:
        self.clear()
        self.showing_welcome = False
        if not messages:
            self.show_welcome()
            return
        for m in messages:
            self.append_message(m.role, m.content, status=m.status, model=m.model,
                                error=m.meta.get("error"),
                                attachments=[a.name for a in m.attachments],
                                experts=m.meta.get("experts", []),
                                memories=m.meta.get("memories", []),
                                saved_memory=m.meta.get("saved_memory"))

    def _cursor_at_end(self) -> QTextCursor:
        cursor = self.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def append_message(self, role: str, content: str, *, status: str = "done",
                       model: str | None = None, error: str | None = None,
                       attachments: list[str] = (), experts: list[dict] = (),
                       memories: list[dict] = (), saved_memory: dict | None = None) -> None:
        if self.showing_welcome:
            self.clear()
            self.showing_welcome = False
        who = "You" if role == "user" else f"Hearth · {model}" if model else "Hearth"
        colour = "#2d5b8a" if role == "user" else "#8a4b2d"
        cursor = self._cursor_at_end()
        header = QTextBlockFormat()
        header.setTopMargin(14)
        if self.document().isEmpty():
            cursor.setBlockFormat(header)
        else:
            cursor.insertBlock(header, QTextCharFormat())
        cursor.insertHtml(f'<b style="color:{colour}">{html.escape(who)}</b>')
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())  # the header's bold stops here
        if saved_memory:
            what = "Already remembered" if saved_memory.get("duplicate") else "Saved to memory"
            self._insert_grey(cursor, f"{what}: {saved_memory['text']}")
        if memories:
            used = "; ".join(m["text"] for m in memories)
            self._insert_grey(cursor, f"Used memories: {used}")
        for trace in experts:
            self._insert_trace(cursor, trace)
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

    def _insert_grey(self, cursor: QTextCursor, text: str) -> None:
        cursor.insertHtml(f'<span style="color:#555555"><i>{html.escape(text)}</i></span>')
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())

    def _insert_trace(self, cursor: QTextCursor, trace: dict) -> None:
        """One expert's result on one file: a line of text, and the annotated image if any."""
        seconds = f" · {trace['seconds']:.2f} s" if trace.get("seconds") else ""
        head = f"{trace['expert']} · {trace['file']}{seconds}"
        line = summarize(trace["expert"], trace.get("result"), trace.get("error"))
        colour = "#b00020" if trace.get("error") else "#555555"
        cursor.insertHtml(f'<span style="color:{colour}"><i>{html.escape(head)}:</i> '
                          f'{html.escape(line)}</span>')
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        annotated = trace.get("annotated")
        if annotated:
            size = QImageReader(annotated).size()
            if size.isValid():
                image = QTextImageFormat()
                image.setName(annotated)
                scale = min(1.0, IMAGE_BOX[0] / max(1, size.width()),
                            IMAGE_BOX[1] / max(1, size.height()))
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
