"""`Memory`: what the agent remembers about the user, and finding it again.

Every acknowledged write is committed to SQLite first and then written to the Chroma index;
SQLite rows carry an `indexed` flag that is set only once Chroma has the vector, so whatever a
crash leaves half-done is finished when the index is next opened (MemoryIndex.sync).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memory import heuristics
from memory.db import Database
from memory.documents import chunk_text, read_document
from memory.embeddings import Embedder
from memory.index import MemoryIndex
from memory.memories import (
    ImportReport, MemoryRecord, MemoryStore, NewMemory, check_kind, check_status, check_text,
)
from memory.tables import utcnow

# Nearest neighbours looked at when deduplicating a new memory.
NEIGHBOURS = 8
# context_for: below this cosine a memory is not about the query ("can I eat this satay?"
# reaches "I'm allergic to peanuts" at 0.27; unrelated pairs sit around 0.0-0.2).
CONTEXT_MIN_SIMILARITY = 0.25
# ...and at least this fraction of the best match's similarity.
CONTEXT_RELATIVE_SIMILARITY = 0.5
# forget_about: memories this close to the topic go too, even without naming it. Measured:
# "peanuts" / "I can't eat nuts of any kind" 0.57, "Lisbon" / "We moved to Portugal's capital"
# 0.57, but "Lisbon" / "My mother lives in Porto" 0.54 and "cats" / "We have two kittens" 0.49:
# the margin is thin, which is why callers show preview_forget_about() first.
FORGET_SIMILARITY = 0.55


@dataclass(frozen=True)
class DuplicateResult:
    """remember() found the same memory already stored; nothing new was written."""
    existing: MemoryRecord
    similarity: float


@dataclass(frozen=True)
class ForgetCandidate:
    record: MemoryRecord
    reason: str  # "mentions 'peanuts'" or "similar (0.62)"


class Memory:
    def __init__(self, db: Database, embedder: Embedder | None = None, *,
                 index_path: Path | None = None, rebuild_index: bool = False):
        """rebuild_index: start from SQLite without reading the old index at all (the way
        out when opening it fails in a way Hearth did not foresee)."""
        self.db = db
        self.store = MemoryStore(db)
        self._own_embedder = embedder is None
        self.embedder = embedder or Embedder()
        self._lock = threading.RLock()
        self.index = MemoryIndex(self.store, self.embedder, index_path, rebuild=rebuild_index)

    # -- remembering -----------------------------------------------------------------------

    def remember(self, text: str, kind: str = "note", source: str | None = None,
                 status: str = "active") -> MemoryRecord | DuplicateResult:
        """Store a memory unless it is already known. A near-identical memory is a duplicate
        (returned, touched, nothing added); a similar one of the same kind that differs in a
        detail is kept and the new record's `conflicts_with` names the old one."""
        text = check_text(text)
        check_kind(kind)
        check_status(status)
        vector = self.embedder.embed_one(text)  # outside the lock: searches need not wait
        with self._lock:
            exact = self.store.find_exact(text, kind)
            if exact is not None:
                return self._merge(exact, 1.0, status)
            conflict: tuple[float, MemoryRecord] | None = None
            if kind != "document":
                for record, similarity in self._neighbours(vector, NEIGHBOURS):
                    if record.kind == "document":
                        continue
                    if heuristics.is_duplicate(similarity, text, record.text):
                        return self._merge(record, similarity, status)
                    if (record.kind == kind and conflict is None
                            and heuristics.looks_like_conflict(similarity, text, record.text)):
                        conflict = (similarity, record)
            record = self.store.add(text, kind, source, status=status,
                                    conflicts_with=conflict[1].id if conflict else None,
                                    embedding=vector, embedding_model=self.embedder.model_id)
            self.index.upsert([record.id], vector[None, :], [kind])
            return record

    def _merge(self, existing: MemoryRecord, similarity: float, status: str) -> DuplicateResult:
        if status == "active" and existing.status == "proposed":
            existing = self.store.accept(existing.id)  # the user said it themselves
        self.store.touch([existing.id])
        return DuplicateResult(self.store.get(existing.id), similarity)

    def _neighbours(self, vector: np.ndarray, n: int,
                    kinds: Iterable[str] | None = None) -> list[tuple[MemoryRecord, float]]:
        """Nearest records that still exist in SQLite (the truth), best first."""
        hits = self.index.query(vector, n, kinds)
        records = self.store.get_many(i for i, _ in hits)
        return [(records[i], s) for i, s in hits if i in records]

    def add_document(self, path: Path,
                     progress: Callable[[int, int], None] | None = None) -> list[MemoryRecord]:
        """Chunks of a .txt/.md/.pdf as "document" memories ("file NAME#n"). Chunks already
        stored word for word (the same file added twice) are skipped."""
        path = Path(path)
        chunks = chunk_text(read_document(path))
        with self._lock:
            fresh = [(n, c) for n, c in enumerate(chunks, start=1)
                     if self.store.find_exact(c, "document") is None]
            added: list[MemoryRecord] = []
            for start in range(0, len(fresh), 256):
                part = fresh[start:start + 256]
                vectors = self.embedder.embed([c for _, c in part])
                records = self.store.add_many(
                    [NewMemory(c, "document", f"file {path.name}#{n}") for n, c in part],
                    vectors, self.embedder.model_id)
                self.index.upsert([r.id for r in records], vectors, ["document"] * len(records))
                added.extend(records)
                if progress:
                    progress(start + len(part), len(fresh))
            return added

    # -- finding ---------------------------------------------------------------------------

    def search(self, query: str, k: int = 5, kinds: Iterable[str] | None = None, *,
               touch: bool = True) -> list[tuple[MemoryRecord, float]]:
        """The k best active memories for `query`, as (record, score), best first.

        score = similarity * (1 + 0.15 pinned + 0.10 recency + kind boost) (see
        heuristics.score). Candidates are the 4k (at least 20) nearest vectors, re-ranked.
        """
        ranked = self._ranked(query, max(4 * k, 20), kinds, need=k)[:k]
        if touch and ranked:
            self.store.touch(r.id for r, _, _ in ranked)
        return [(r, score) for r, score, _ in ranked]

    def _ranked(self, query: str, n: int, kinds: Iterable[str] | None, need: int = 1
                ) -> list[tuple[MemoryRecord, float, float]]:
        """(record, score, similarity) of active memories among the n nearest, best score
        first; with `kinds`, at least `need` of them when that many exist."""
        kinds = [check_kind(k) for k in kinds] if kinds else None
        vector = self.embedder.embed_one(query)
        with self._lock:
            found = [(r, s) for r, s in self._neighbours(vector, n)
                     if r.status == "active" and (kinds is None or r.kind in kinds)]
            if kinds and len(found) < need:
                # Rare kinds drown among the nearest vectors: ask Chroma to filter (slower).
                found = [(r, s) for r, s in self._neighbours(vector, n, kinds)
                         if r.status == "active"]
        now = utcnow()
        ranked = [(r, heuristics.score(s, kind=r.kind, pinned=r.pinned, created_at=r.created_at,
                                       now=now), s) for r, s in found]
        ranked.sort(key=lambda t: t[1], reverse=True)
        return ranked

    def context_for(self, query: str, token_budget: int, count_tokens: Callable[[str], int], *,
                    min_similarity: float = CONTEXT_MIN_SIMILARITY, candidates: int = 20
                    ) -> list[tuple[MemoryRecord, float]]:
        """The most relevant memories whose texts fit in `token_budget` tokens together.

        Only memories with similarity >= min_similarity, and at least half the best
        similarity, qualify: a pinned memory about something else is not injected, and a
        clear answer (0.73 for "what's my sister called?") does not drag in every family
        fact at 0.3. Best score first; one that does not fit is skipped
        and smaller ones after it may still fit.
        """
        chosen: list[tuple[MemoryRecord, float]] = []
        used = 0
        ranked = self._ranked(query, candidates, None)
        best = max((similarity for _, _, similarity in ranked), default=0.0)
        floor = max(min_similarity, CONTEXT_RELATIVE_SIMILARITY * best)
        for record, score, similarity in ranked:
            if similarity < floor:
                continue
            cost = count_tokens(record.text)
            if used + cost <= token_budget:
                chosen.append((record, score))
                used += cost
        if chosen:
            self.store.touch(r.id for r, _ in chosen)
        return chosen

    # -- forgetting ------------------------------------------------------------------------

    def forget(self, memory_id: int) -> bool:
        with self._lock:
            deleted = self.store.delete(memory_id)
            self.index.delete([memory_id])
            return deleted

    def forget_many(self, memory_ids: Iterable[int]) -> int:
        ids = sorted({int(i) for i in memory_ids})
        with self._lock:
            deleted = self.store.delete_many(ids)
            self.index.delete(ids)
            return deleted

    def preview_forget_about(self, topic: str, *,
                             min_similarity: float = FORGET_SIMILARITY) -> list[ForgetCandidate]:
        """What forget_about(topic) would delete: every memory (any kind, any status) that
        names the topic as a word or phrase, plus those semantically close to it."""
        topic = " ".join(str(topic).split())
        if not topic:
            raise ValueError("Say what to forget about.")
        words = r"\s+".join(re.escape(w) for w in topic.split())
        mention = re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)
        found: dict[int, ForgetCandidate] = {}
        for record in self.store.list(query=topic, status=None):
            if mention.search(record.text):
                found[record.id] = ForgetCandidate(record, f"mentions {topic!r}")
        vector = self.embedder.embed_one(topic)
        with self._lock:
            n = min(self.index.count(), 500)
            for record, similarity in self._neighbours(vector, n):
                if similarity < min_similarity:
                    break
                found.setdefault(record.id, ForgetCandidate(record, f"similar ({similarity:.2f})"))
        return sorted(found.values(), key=lambda c: c.record.id)

    def forget_about(self, topic: str, *, min_similarity: float = FORGET_SIMILARITY) -> int:
        candidates = self.preview_forget_about(topic, min_similarity=min_similarity)
        return self.forget_many(c.record.id for c in candidates)

    # -- the rest of the store, kept in step with the index --------------------------------

    def get(self, memory_id: int) -> MemoryRecord | None:
        return self.store.get(memory_id)

    def list(self, kind: str | None = None, query: str | None = None,
             status: str | None = "active") -> list[MemoryRecord]:
        return self.store.list(kind=kind, query=query, status=status)

    def update_text(self, memory_id: int, text: str) -> MemoryRecord:
        text = check_text(text)
        vector = self.embedder.embed_one(text)
        with self._lock:
            record = self.store.update_text(memory_id, text, embedding=vector,
                                            embedding_model=self.embedder.model_id)
            self.index.upsert([record.id], vector[None, :], [record.kind])
            return record

    def set_pinned(self, memory_id: int, pinned: bool = True) -> MemoryRecord:
        return self.store.set_pinned(memory_id, pinned)

    def accept(self, memory_id: int) -> MemoryRecord:
        return self.store.accept(memory_id)

    def reject(self, memory_id: int) -> bool:
        with self._lock:
            rejected = self.store.reject(memory_id)
            self.index.delete([memory_id])
            return rejected

    def export_json(self, path: Path) -> int:
        return self.store.export_json(path)

    def import_json(self, path: Path) -> ImportReport:
        """Imported rows come without vectors: embedded and indexed here, in batches."""
        with self._lock:
            report = self.store.import_json(path)
            self.index.sync()
            return report

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        with self._lock:
            return self.index.rebuild(progress)

    def close(self) -> None:
        with self._lock:
            self.index.close()
            if self._own_embedder:
                self.embedder.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
