"""The SQLite schema as SQLAlchemy ORM classes. Changes to it go through an Alembic migration."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Message.id",
    )


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    # done | streaming | stopped | error | interrupted (the app died while it was streaming)
    status: Mapped[str] = mapped_column(String(16), default="done")
    model: Mapped[str | None] = mapped_column(String(100), nullable=True)
    meta: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    conversation: Mapped[Conversation] = relationship(back_populates="messages")
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", cascade="all, delete-orphan", passive_deletes=True)


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text)
    mime: Mapped[str | None] = mapped_column(String(100), nullable=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    message: Mapped[Message] = relationship(back_populates="attachments")


class Setting(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[object] = mapped_column(JSON)


class Face(Base):
    """A face the user enrolled: one embedding per enrolment photo, named by the user."""
    __tablename__ = "faces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian
    model: Mapped[str] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class MemoryEntry(Base):
    """One thing Hearth remembers about the user. The truth; Chroma only indexes these rows."""
    __tablename__ = "memories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), index=True)  # profile|event|preference|note|document
    source: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    # active | proposed (suggested by the agent, waiting for the user to accept or reject it)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    # sha256 of the case-folded, whitespace-normalised text: exact duplicates without a model.
    text_hash: Mapped[str] = mapped_column(String(64), index=True)
    conflicts_with: Mapped[int | None] = mapped_column(
        ForeignKey("memories.id", ondelete="SET NULL"), nullable=True)
    # Kept here so the index can be rebuilt without re-embedding (float32, little-endian).
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    embedding_model: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # False from the SQLite commit until Chroma holds the current vector: what a crash left
    # behind is re-indexed on the next open.
    indexed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class OutboxEntry(Base):
    """Something prepared for the cloud: exactly what is (or was) sent, to whom, and what came
    back. The local log of everything that leaves the machine (sync/outbox.py)."""
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The log outlives the conversation it came from: deleting a chat keeps what left.
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True, index=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # answer | plan
    endpoint: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict] = mapped_column(JSON)  # verbatim what is sent (hearth.cloud/1)
    # placeholder -> original: needed to restore the reply; never part of `payload`.
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    # awaiting_approval | queued | sending | sent | failed | declined
    status: Mapped[str] = mapped_column(String(24), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    # While "sending": who holds it and until when. A process killed mid-send leaves a lease
    # that runs out, after which the entry is claimed (and sent) again, once.
    lease_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    response: Mapped[str | None] = mapped_column(Text, nullable=True)  # raw, still anonymized
    restored: Mapped[str | None] = mapped_column(Text, nullable=True)  # placeholders restored
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    reply_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), nullable=True)


class TrainingExample(Base):
    """An (anonymized instruction, target) pair for teaching the local model: from the cloud's
    replies or the user's corrections, with the user's consent flag (sync/labels.py)."""
    __tablename__ = "training_examples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    role: Mapped[str] = mapped_column(String(16), index=True)  # planner | summarizer
    instruction: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(255))  # cloud:<model> | user-correction
    consent: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox.id", ondelete="SET NULL"), nullable=True)
