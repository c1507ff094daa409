"""The outbox: every payload prepared for the cloud, the local log of what left the machine,
when, to whom and what came back.

An entry's life: awaiting_approval (policy "ask") or queued → sending (claimed, under a lease)
→ sent, or back to queued with a later next_attempt_at, or failed; declined when the user says
no. `claim()` is one conditional UPDATE, so two workers (or the window and `hearth outbox send`)
never send the same entry; a process killed mid-send leaves a lease that runs out, after
which the entry can be claimed again, once. `mark_sent()` only succeeds for the lease holder,
so a send that outlived its lease can't store a second reply.

Returns plain frozen records, never live ORM objects (the window's thread and the cloud
worker pass them around).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from memory.db import Database
from memory.tables import OutboxEntry

STATUSES = ("awaiting_approval", "queued", "sending", "sent", "failed", "declined")
KINDS = ("answer", "plan")
# How long a claim holds before another worker may take the entry over: longer than any send
# (the client's timeout is added on top).
LEASE_MARGIN_S = 60.0


class OutboxError(ValueError):
    """An outbox action that does not apply (no such entry, wrong state); the text says why."""


@dataclass(frozen=True)
class OutboxRecord:
    id: int
    created_at: datetime
    conversation_id: int | None
    message_id: int | None
    kind: str
    endpoint: str
    model: str
    payload: dict  # exactly what is sent
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    response: str | None  # the cloud's raw text, still anonymized
    restored: str | None  # placeholders put back (shown only on this machine)
    sent_at: datetime | None
    reply_message_id: int | None
    lease_token: str | None = field(default=None, repr=False)

    @property
    def messages(self) -> list[dict]:
        return list(self.payload.get("messages", []))

    def to_dict(self) -> dict:
        """For `hearth ask --json` / `hearth outbox show`: everything but the lease."""
        out = {k: getattr(self, k) for k in (
            "id", "conversation_id", "message_id", "kind", "endpoint", "model", "payload",
            "status", "attempts", "last_error", "response", "restored", "reply_message_id")}
        for k in ("created_at", "next_attempt_at", "sent_at"):
            value = getattr(self, k)
            out[k] = value.isoformat() + "Z" if value is not None else None
        return out


def _record(e: OutboxEntry) -> OutboxRecord:
    return OutboxRecord(e.id, e.created_at, e.conversation_id, e.message_id, e.kind, e.endpoint,
                        e.model, dict(e.payload or {}), e.status, e.attempts, e.next_attempt_at,
                        e.last_error, e.response, e.restored, e.sent_at, e.reply_message_id,
                        e.lease_token)


def to_datetime(t: float) -> datetime:
    """Epoch seconds (the injectable clock) as the naive UTC datetime the tables store."""
    return datetime.fromtimestamp(t, timezone.utc).replace(tzinfo=None)


class Outbox:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time):
        self.db = db
        self.clock = clock

    def _now(self) -> datetime:
        return to_datetime(self.clock())

    def add(self, *, kind: str, endpoint: str, model: str, payload: dict, mapping: dict[str, str],
            status: str = "awaiting_approval", conversation_id: int | None = None,
            message_id: int | None = None) -> OutboxRecord:
        if kind not in KINDS:
            raise OutboxError(f"Unknown outbox kind {kind!r} (answer or plan).")
        if status not in ("awaiting_approval", "queued"):
            raise OutboxError(f"A new entry is awaiting approval or queued, not {status!r}.")
        if "mapping" in payload:
            raise OutboxError("The placeholder mapping must never be part of the payload.")
        now = self._now()
        with self.db.session() as s:
            entry = OutboxEntry(created_at=now, conversation_id=conversation_id,
                                message_id=message_id, kind=kind, endpoint=endpoint, model=model,
                                payload=payload, mapping=dict(mapping), status=status, attempts=0,
                                next_attempt_at=now if status == "queued" else None)
            s.add(entry)
            s.flush()
            return _record(entry)

    def get(self, entry_id: int) -> OutboxRecord | None:
        with self.db.session() as s:
            entry = s.get(OutboxEntry, entry_id)
            return _record(entry) if entry else None

    def mapping(self, entry_id: int) -> dict[str, str]:
        """placeholder -> original, for restoring the reply on this machine."""
        with self.db.session() as s:
            entry = s.get(OutboxEntry, entry_id)
            return dict(entry.mapping or {}) if entry else {}

    def list(self, limit: int = 200, status: str | None = None) -> list[OutboxRecord]:
        stmt = select(OutboxEntry).order_by(OutboxEntry.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(OutboxEntry.status == status)
        with self.db.session() as s:
            return [_record(e) for e in s.scalars(stmt)]

    def _transition(self, entry_id: int, allowed: tuple[str, ...], **values) -> OutboxRecord:
        with self.db.session() as s:
            result = s.execute(update(OutboxEntry)
                               .where(OutboxEntry.id == entry_id, OutboxEntry.status.in_(allowed))
                               .values(**values))
            entry = s.get(OutboxEntry, entry_id)
            if entry is None:
                raise OutboxError(f"There is no outbox entry {entry_id}.")
            if result.rowcount != 1:
                raise OutboxError(f"Outbox entry {entry_id} is {entry.status.replace('_', ' ')}; "
                                  f"that action needs it to be {' or '.join(allowed)}.")
            s.refresh(entry)
            return _record(entry)

    def approve(self, entry_id: int) -> OutboxRecord:
        """The user saw the payload and said send: it joins the queue, due now."""
        return self._transition(entry_id, ("awaiting_approval",), status="queued",
                                next_attempt_at=self._now(), last_error=None)

    def decline(self, entry_id: int) -> OutboxRecord:
        return self._transition(entry_id, ("awaiting_approval", "queued", "failed"),
                                status="declined", next_attempt_at=None)

    def retry(self, entry_id: int) -> OutboxRecord:
        """A failed entry goes back to the queue with a fresh count of attempts."""
        return self._transition(entry_id, ("failed",), status="queued", attempts=0,
                                next_attempt_at=self._now())

    def delete(self, entry_id: int) -> bool:
        """Removes the entry and its mapping. A send in progress finishes into nothing: its
        reply is not stored (mark_sent finds no entry)."""
        with self.db.session() as s:
            return bool(s.execute(delete(OutboxEntry).where(OutboxEntry.id == entry_id)).rowcount)

    def due(self, now: datetime | None = None) -> list[OutboxRecord]:
        """Entries a worker may claim now: queued and due, or sending with a lease run out."""
        now = now or self._now()
        stmt = (select(OutboxEntry).where(_claimable(now))
                .order_by(OutboxEntry.next_attempt_at, OutboxEntry.id))
        with self.db.session() as s:
            return [_record(e) for e in s.scalars(stmt)]

    def claim(self, entry_id: int, lease_s: float = LEASE_MARGIN_S) -> OutboxRecord | None:
        """queued (due) → sending, in one UPDATE: only one caller gets the record back; the
        others get None. Counts the attempt."""
        now = self._now()
        token = uuid.uuid4().hex
        with self.db.session() as s:
            result = s.execute(update(OutboxEntry)
                               .where(OutboxEntry.id == entry_id, _claimable(now))
                               .values(status="sending", lease_token=token,
                                       lease_until=to_datetime(self.clock() + lease_s),
                                       attempts=OutboxEntry.attempts + 1))
            if result.rowcount != 1:
                return None
            return _record(s.get(OutboxEntry, entry_id))

    def mark_sent(self, record: OutboxRecord, response: str, restored: str | None = None,
                  on_commit: Callable[[Session, OutboxRecord], int | None] | None = None,
                  note: str | None = None) -> OutboxRecord | None:
        """Store the reply. `on_commit(session, record)` runs in the same transaction (the
        reply message and the training example), so a crash stores all of it or none.
        `note` is kept in last_error (a plan that came back but did not validate). Returns
        None when the lease was lost (taken over or the entry deleted)."""
        with self.db.session() as s:
            # One conditional UPDATE first: it takes SQLite's write lock, so no one can claim
            # the entry between the check and the write.
            if not self._release(s, record, status="sent", response=response, restored=restored,
                                 sent_at=self._now(), last_error=note, next_attempt_at=None):
                return None
            entry = s.get(OutboxEntry, record.id)
            if on_commit is not None:
                entry.reply_message_id = on_commit(s, _record(entry))
            s.flush()
            return _record(entry)

    def mark_failed(self, record: OutboxRecord, error: str,
                    retry_at: datetime | None = None) -> OutboxRecord | None:
        """Back to the queue for `retry_at`, or "failed" for good (retry_at None). Returns
        None when the lease was lost."""
        with self.db.session() as s:
            if not self._release(s, record, status="queued" if retry_at is not None else "failed",
                                 next_attempt_at=retry_at, last_error=error):
                return None
            return _record(s.get(OutboxEntry, record.id))

    @staticmethod
    def _release(s: Session, record: OutboxRecord, **values) -> bool:
        """sending → another state, only for the lease holder; False when the lease was lost."""
        result = s.execute(update(OutboxEntry)
                           .where(OutboxEntry.id == record.id, OutboxEntry.status == "sending",
                                  OutboxEntry.lease_token == record.lease_token)
                           .values(lease_token=None, lease_until=None, **values)
                           .execution_options(synchronize_session=False))
        return result.rowcount == 1


def _claimable(now: datetime):
    return or_(and_(OutboxEntry.status == "queued", OutboxEntry.next_attempt_at <= now),
               and_(OutboxEntry.status == "sending", OutboxEntry.lease_until < now))
