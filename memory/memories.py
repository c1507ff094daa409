"""What Hearth remembers about the user, in SQLite: the truth the Chroma index is built from.

Plain CRUD, no model: `memory.service.Memory` adds embeddings, dedupe and search on top.
Returns frozen records, never live ORM objects.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select, update

from memory.db import Database
from memory.tables import MemoryEntry, utcnow

MAX_TEXT_CHARS = 10_000
KINDS = ("profile", "event", "preference", "note", "document")
STATUSES = ("active", "proposed")
EXPORT_FORMAT = "hearth-memories"
EXPORT_VERSION = 1


@dataclass(frozen=True)
class MemoryRecord:
    id: int
    text: str
    kind: str
    source: str | None
    created_at: datetime
    last_used_at: datetime | None
    pinned: bool
    status: str
    conflicts_with: int | None
    embedding_model: str | None


@dataclass(frozen=True)
class NewMemory:
    text: str
    kind: str = "note"
    source: str | None = None
    status: str = "active"
    pinned: bool = False
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    conflicts_with: int | None = None


@dataclass(frozen=True)
class IndexRow:
    """What the index needs of a row: its vector (None when it must be re-embedded)."""
    id: int
    kind: str
    text: str
    vector: np.ndarray | None


@dataclass(frozen=True)
class ImportReport:
    added: list[MemoryRecord]
    skipped: int


def _record(m: MemoryEntry) -> MemoryRecord:
    return MemoryRecord(m.id, m.text, m.kind, m.source, m.created_at, m.last_used_at,
                        bool(m.pinned), m.status, m.conflicts_with, m.embedding_model)


def normalize_text(text: str) -> str:
    return " ".join(str(text).split())


def text_hash(text: str) -> str:
    return hashlib.sha256(normalize_text(text).casefold().encode("utf-8")).hexdigest()


def check_text(text: str) -> str:
    """The text to store, or a ValueError that says what is wrong with it."""
    if not isinstance(text, str):
        raise ValueError("A memory must be text.")
    clean = text.strip()
    if not clean:
        raise ValueError("A memory can't be empty.")
    if len(clean) > MAX_TEXT_CHARS:
        raise ValueError(f"A memory is limited to {MAX_TEXT_CHARS:,} characters; this one has "
                         f"{len(clean):,}. Add long texts as a document instead.")
    return clean


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"Unknown kind of memory {kind!r}; use one of: {', '.join(KINDS)}.")
    return kind


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise ValueError(f"Unknown memory status {status!r}; use one of: {', '.join(STATUSES)}.")
    return status


def _blob(vector: np.ndarray | None) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype="<f4").tobytes()


class MemoryStore:
    def __init__(self, db: Database):
        self.db = db

    # -- writing ---------------------------------------------------------------------------

    def add(self, text: str, kind: str = "note", source: str | None = None, *,
            status: str = "active", pinned: bool = False, conflicts_with: int | None = None,
            embedding: np.ndarray | None = None,
            embedding_model: str | None = None) -> MemoryRecord:
        item = NewMemory(text, kind, source, status, pinned, conflicts_with=conflicts_with)
        vectors = None if embedding is None else np.asarray(embedding)[None, :]
        return self.add_many([item], vectors, embedding_model)[0]

    def add_many(self, items: list[NewMemory], embeddings: np.ndarray | None = None,
                 embedding_model: str | None = None) -> list[MemoryRecord]:
        """One transaction for all of them: either every row is committed or none is."""
        rows = []
        for i, item in enumerate(items):
            text = check_text(item.text)
            vector = None if embeddings is None else embeddings[i]
            rows.append(MemoryEntry(
                text=text, kind=check_kind(item.kind), source=(item.source or "")[:255] or None,
                status=check_status(item.status), pinned=bool(item.pinned),
                created_at=item.created_at or utcnow(), last_used_at=item.last_used_at,
                text_hash=text_hash(text), conflicts_with=item.conflicts_with,
                embedding=_blob(vector),
                embedding_model=embedding_model if vector is not None else None,
                indexed=False))
        with self.db.session() as s:
            s.add_all(rows)
            s.flush()
            return [_record(r) for r in rows]

    def update_text(self, memory_id: int, text: str, *, embedding: np.ndarray | None = None,
                    embedding_model: str | None = None) -> MemoryRecord:
        text = check_text(text)
        with self.db.session() as s:
            row = self._row(s, memory_id)
            row.text, row.text_hash = text, text_hash(text)
            row.embedding = _blob(embedding)
            row.embedding_model = embedding_model if embedding is not None else None
            row.indexed = False
            s.flush()
            return _record(row)

    def set_pinned(self, memory_id: int, pinned: bool = True) -> MemoryRecord:
        with self.db.session() as s:
            row = self._row(s, memory_id)
            row.pinned = bool(pinned)
            return _record(row)

    def accept(self, memory_id: int) -> MemoryRecord:
        """The user agreed with something the agent proposed to remember."""
        with self.db.session() as s:
            row = self._row(s, memory_id)
            row.status = "active"
            return _record(row)

    def reject(self, memory_id: int) -> bool:
        """The user turned a proposal down: it is deleted. Active memories are not touched."""
        with self.db.session() as s:
            row = self._row(s, memory_id)
            if row.status != "proposed":
                raise ValueError(f"Memory {memory_id} is not a proposal; delete it instead.")
            s.delete(row)
            return True

    def delete(self, memory_id: int) -> bool:
        return self.delete_many([memory_id]) == 1

    def delete_many(self, memory_ids: Iterable[int]) -> int:
        ids = sorted({int(i) for i in memory_ids})
        deleted = 0
        with self.db.session() as s:
            for start in range(0, len(ids), 500):
                part = ids[start:start + 500]
                result = s.execute(delete(MemoryEntry).where(MemoryEntry.id.in_(part)))
                deleted += result.rowcount or 0
        return deleted

    def touch(self, memory_ids: Iterable[int]) -> None:
        ids = sorted({int(i) for i in memory_ids})
        if ids:
            with self.db.session() as s:
                s.execute(update(MemoryEntry).where(MemoryEntry.id.in_(ids))
                          .values(last_used_at=utcnow()))

    # -- reading ---------------------------------------------------------------------------

    def get(self, memory_id: int) -> MemoryRecord | None:
        with self.db.session() as s:
            row = s.get(MemoryEntry, memory_id)
            return _record(row) if row else None

    def get_many(self, memory_ids: Iterable[int]) -> dict[int, MemoryRecord]:
        ids = sorted({int(i) for i in memory_ids})
        found: dict[int, MemoryRecord] = {}
        with self.db.session() as s:
            for start in range(0, len(ids), 500):
                stmt = select(MemoryEntry).where(MemoryEntry.id.in_(ids[start:start + 500]))
                found.update((r.id, _record(r)) for r in s.scalars(stmt))
        return found

    def list(self, kind: str | None = None, query: str | None = None,
             status: str | None = "active", limit: int | None = None) -> list[MemoryRecord]:
        """Newest first. `query` is a case-insensitive substring; status None lists every status."""
        stmt = select(MemoryEntry).order_by(MemoryEntry.created_at.desc(), MemoryEntry.id.desc())
        if kind is not None:
            stmt = stmt.where(MemoryEntry.kind == check_kind(kind))
        if status is not None:
            stmt = stmt.where(MemoryEntry.status == check_status(status))
        if query and query.strip():
            escaped = query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(MemoryEntry.text.ilike(f"%{escaped}%", escape="\\"))
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.db.session() as s:
            return [_record(r) for r in s.scalars(stmt)]

    def find_exact(self, text: str, kind: str | None = None) -> MemoryRecord | None:
        stmt = select(MemoryEntry).where(MemoryEntry.text_hash == text_hash(text))
        if kind is not None:
            stmt = stmt.where(MemoryEntry.kind == kind)
        with self.db.session() as s:
            row = s.scalars(stmt.order_by(MemoryEntry.id).limit(1)).first()
            return _record(row) if row else None

    def count(self) -> int:
        with self.db.session() as s:
            return s.scalar(select(func.count()).select_from(MemoryEntry)) or 0

    def ids(self) -> set[int]:
        with self.db.session() as s:
            return set(s.scalars(select(MemoryEntry.id)))

    def vector(self, memory_id: int) -> np.ndarray | None:
        with self.db.session() as s:
            blob = s.scalar(select(MemoryEntry.embedding).where(MemoryEntry.id == memory_id))
        return None if blob is None else np.frombuffer(blob, dtype="<f4").copy()

    # -- what the index needs --------------------------------------------------------------

    def unindexed_ids(self) -> list[int]:
        with self.db.session() as s:
            return list(s.scalars(select(MemoryEntry.id).where(MemoryEntry.indexed.is_(False))
                                  .order_by(MemoryEntry.id)))

    def index_rows(self, model_id: str, ids: Iterable[int] | None = None,
                   batch: int = 1000) -> Iterator[list[IndexRow]]:
        """Rows in id order, in batches; the vector is None when it was made by another model."""
        wanted = None if ids is None else sorted({int(i) for i in ids})
        last = 0
        position = 0
        while True:
            stmt = (select(MemoryEntry.id, MemoryEntry.kind, MemoryEntry.text,
                           MemoryEntry.embedding, MemoryEntry.embedding_model)
                    .order_by(MemoryEntry.id).limit(batch))
            if wanted is None:
                stmt = stmt.where(MemoryEntry.id > last)
            else:
                part = wanted[position:position + batch]
                if not part:
                    return
                position += batch
                stmt = stmt.where(MemoryEntry.id.in_(part))
            with self.db.session() as s:
                rows = s.execute(stmt).all()
            if not rows and wanted is None:
                return
            if rows:
                last = rows[-1][0]
                yield [IndexRow(r[0], r[1], r[2],
                                np.frombuffer(r[3], dtype="<f4").copy()
                                if r[3] is not None and r[4] == model_id else None)
                       for r in rows]

    def set_embeddings(self, memory_ids: list[int], vectors: np.ndarray, model_id: str) -> None:
        with self.db.session() as s:
            for memory_id, vector in zip(memory_ids, vectors, strict=True):
                s.execute(update(MemoryEntry).where(MemoryEntry.id == memory_id)
                          .values(embedding=_blob(vector), embedding_model=model_id))

    def mark_indexed(self, memory_ids: Iterable[int], indexed: bool = True) -> None:
        ids = sorted({int(i) for i in memory_ids})
        with self.db.session() as s:
            for start in range(0, len(ids), 500):
                s.execute(update(MemoryEntry).where(MemoryEntry.id.in_(ids[start:start + 500]))
                          .values(indexed=indexed))

    def mark_all_unindexed(self) -> None:
        with self.db.session() as s:
            s.execute(update(MemoryEntry).values(indexed=False))

    # -- export / import -------------------------------------------------------------------

    def export_json(self, path: Path) -> int:
        """Every memory (both statuses) as JSON, without vectors: they are the model's business."""
        with self.db.session() as s:
            rows = list(s.scalars(select(MemoryEntry).order_by(MemoryEntry.id)))
            items = [{"text": r.text, "kind": r.kind, "source": r.source, "status": r.status,
                      "pinned": bool(r.pinned), "created_at": r.created_at.isoformat(),
                      "last_used_at": r.last_used_at.isoformat() if r.last_used_at else None}
                     for r in rows]
        payload = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION,
                   "exported_at": utcnow().isoformat(), "memories": items}
        path = Path(path)
        tmp = path.with_name(path.name + ".partial")
        tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(path)
        return len(items)

    def import_json(self, path: Path) -> ImportReport:
        """Adds what the file holds, skipping memories already here word for word (same kind)."""
        path = Path(path)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path.name} is not a Hearth memory export: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("format") != EXPORT_FORMAT:
            raise ValueError(f"{path.name} is not a Hearth memory export (no \"format\": "
                             f"\"{EXPORT_FORMAT}\").")
        if payload.get("version") != EXPORT_VERSION:
            raise ValueError(f"{path.name} is a version {payload.get('version')} export; this "
                             f"Hearth reads version {EXPORT_VERSION}.")
        items: list[NewMemory] = []
        with self.db.session() as s:
            seen = {(h, k) for h, k in s.execute(select(MemoryEntry.text_hash, MemoryEntry.kind))}
        skipped = 0
        for n, raw in enumerate(payload.get("memories") or [], start=1):
            try:
                item = NewMemory(
                    text=check_text(raw["text"]), kind=check_kind(raw.get("kind", "note")),
                    source=raw.get("source"), status=check_status(raw.get("status", "active")),
                    pinned=bool(raw.get("pinned", False)),
                    created_at=_parse_time(raw.get("created_at")),
                    last_used_at=_parse_time(raw.get("last_used_at")))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path.name}: memory #{n} is not valid: {exc}") from exc
            key = (text_hash(item.text), item.kind)
            if key in seen:
                skipped += 1
                continue
            seen.add(key)
            items.append(item)
        return ImportReport(self.add_many(items) if items else [], skipped)

    @staticmethod
    def _row(s, memory_id: int) -> MemoryEntry:
        row = s.get(MemoryEntry, memory_id)
        if row is None:
            raise KeyError(f"No memory {memory_id}.")
        return row


def _parse_time(value) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed
