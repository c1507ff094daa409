"""Conversations and their messages: the chat history the window and `hearth ask` share.

Returns plain frozen records, never live ORM objects, so the UI thread and the model
worker can pass them around freely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import shutil
from pathlib import Path

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import selectinload

from memory import paths
from memory.db import Database
from memory.tables import Attachment, Conversation, Message, utcnow

MAX_ATTACHMENT_BYTES = 200 * 1024 * 1024

TITLE_LENGTH = 60


@dataclass(frozen=True)
class ConversationRecord:
    id: int
    title: str
    updated_at: datetime


@dataclass(frozen=True)
class AttachmentRecord:
    id: int
    name: str
    path: Path
    size: int


@dataclass(frozen=True)
class MessageRecord:
    id: int
    conversation_id: int
    role: str
    content: str
    status: str
    model: str | None
    created_at: datetime
    meta: dict = field(default_factory=dict)
    attachments: tuple[AttachmentRecord, ...] = ()


class AttachmentError(ValueError):
    """An attachment can't be kept (missing, too big, disk full); the text says which and why."""


def _conv(c: Conversation) -> ConversationRecord:
    return ConversationRecord(c.id, c.title, c.updated_at)


def _msg(m: Message, with_attachments: bool = True) -> MessageRecord:
    attachments = tuple(AttachmentRecord(a.id, a.name, Path(a.path), a.size)
                        for a in m.attachments) if with_attachments else ()
    return MessageRecord(m.id, m.conversation_id, m.role, m.content, m.status, m.model,
                         m.created_at, dict(m.meta or {}), attachments)


def title_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


class ConversationStore:
    def __init__(self, db: Database):
        self.db = db

    def create(self, title: str = "New conversation") -> ConversationRecord:
        with self.db.session() as s:
            conv = Conversation(title=title)
            s.add(conv)
            s.flush()
            return _conv(conv)

    def get(self, conversation_id: int) -> ConversationRecord | None:
        with self.db.session() as s:
            conv = s.get(Conversation, conversation_id)
            return _conv(conv) if conv else None

    def list(self, query: str = "") -> list[ConversationRecord]:
        stmt = select(Conversation).order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        query = query.strip()
        if query:
            pattern = f"%{query}%"
            in_messages = select(Message.conversation_id).where(Message.content.ilike(pattern))
            stmt = stmt.where(or_(Conversation.title.ilike(pattern), Conversation.id.in_(in_messages)))
        with self.db.session() as s:
            return [_conv(c) for c in s.scalars(stmt)]

    def rename(self, conversation_id: int, title: str) -> None:
        title = title.strip()
        if not title:
            raise ValueError("A conversation needs a title.")
        with self.db.session() as s:
            s.execute(update(Conversation).where(Conversation.id == conversation_id)
                      .values(title=title[:200]))

    def delete(self, conversation_id: int) -> None:
        with self.db.session() as s:
            s.execute(delete(Conversation).where(Conversation.id == conversation_id))

    def messages(self, conversation_id: int) -> list[MessageRecord]:
        stmt = (select(Message).where(Message.conversation_id == conversation_id)
                .options(selectinload(Message.attachments)).order_by(Message.id))
        with self.db.session() as s:
            return [_msg(m) for m in s.scalars(stmt)]

    def add_message(self, conversation_id: int, role: str, content: str, *, status: str = "done",
                    model: str | None = None, meta: dict | None = None) -> MessageRecord:
        with self.db.session() as s:
            conv = s.get(Conversation, conversation_id)
            if conv is None:
                raise KeyError(f"No conversation {conversation_id}")
            is_first_user_message = role == "user" and not any(m.role == "user" for m in conv.messages)
            if is_first_user_message and conv.title == "New conversation":
                conv.title = title_from(content)
            msg = Message(conversation_id=conversation_id, role=role, content=content,
                          status=status, model=model, meta=meta or {})
            s.add(msg)
            conv.updated_at = utcnow()
            s.flush()
            return _msg(msg, with_attachments=False)

    def update_message(self, message_id: int, *, content: str | None = None,
                       status: str | None = None, meta: dict | None = None) -> None:
        values: dict = {}
        if content is not None:
            values["content"] = content
        if status is not None:
            values["status"] = status
        if meta is not None:
            values["meta"] = meta
        if values:
            with self.db.session() as s:
                s.execute(update(Message).where(Message.id == message_id).values(**values))

    def add_attachments(self, message_id: int, files: list[Path]) -> list[AttachmentRecord]:
        """Copy each file into the data folder (the user may move or delete the original) and
        link it to the message. Content-addressed, so the same file dropped twice is kept once."""
        import hashlib

        stored: list[tuple[str, Path, int]] = []
        for src in files:
            src = Path(src)
            if not src.is_file():
                raise AttachmentError(f"{src.name}: file not found.")
            size = src.stat().st_size
            if size > MAX_ATTACHMENT_BYTES:
                raise AttachmentError(f"{src.name} is {size / 1e6:.0f} MB; attachments are limited "
                                      f"to {MAX_ATTACHMENT_BYTES / 1e6:.0f} MB.")
            digest = hashlib.sha256()
            with open(src, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            target = paths.attachments_dir() / f"{digest.hexdigest()[:32]}{src.suffix.lower()}"
            try:
                if not target.exists():
                    tmp = target.with_name(target.name + ".partial")
                    shutil.copyfile(src, tmp)
                    tmp.replace(target)
            except OSError as exc:
                raise AttachmentError(f"Could not save {src.name}: {exc.strerror or exc}.") from exc
            stored.append((src.name, target, size))
        with self.db.session() as s:
            rows = [Attachment(message_id=message_id, name=n, path=str(p), size=z) for n, p, z in stored]
            s.add_all(rows)
            s.flush()
            return [AttachmentRecord(r.id, r.name, Path(r.path), r.size) for r in rows]

    def mark_interrupted(self) -> int:
        """At start-up: answers that were streaming when the app died are kept, marked as such."""
        with self.db.session() as s:
            result = s.execute(update(Message).where(Message.status == "streaming")
                               .values(status="interrupted"))
            return result.rowcount or 0
