"""The Chroma index over the memories table. SQLite is the truth; this folder can always be
rebuilt from it, and is, whenever it is missing, damaged, made by another embedding model or
out of step with SQLite.

Chroma never embeds anything itself: every add and query passes our vectors. Its collection is
still given our embedding function (on create and on reopen) because Chroma 1.5 otherwise
records its default ONNX function in the collection schema, which downloads a model the first
time anything asks it for a vector.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memory import paths
from memory.lockfile import SingleWriterLock
from memory.memories import IndexRow, MemoryStore

log = logging.getLogger(__name__)

COLLECTION = "hearth-memories"
BATCH = 1000  # below Chroma's max batch (5461 with its bundled SQLite)
# Bumped when the collection's layout or HNSW settings change: an older index is rebuilt.
SCHEMA = 2
# Chroma's defaults (16 neighbours, ef_construction 100, ef_search 100) lose the nearest
# neighbour of personal-fact queries among clustered distractors: in benchmarks/memory.py's
# set, the true best match was missing from the top 20 for 13 of 24 questions at 100k
# memories. These settings found it for 24 of 24, at ~2.5 ms per query and ~1.4x insert time.
HNSW = {"space": "cosine", "max_neighbors": 32, "ef_construction": 400, "ef_search": 500}


@dataclass(frozen=True)
class SyncReport:
    added: int = 0
    removed: int = 0


class MemoryIndex:
    """Owns the Chroma folder for as long as it is open (a lock file next to it)."""

    def __init__(self, store: MemoryStore, embedder, path: Path | None = None, *,
                 rebuild: bool = False):
        self.store = store
        self.embedder = embedder
        self.path = Path(path) if path else paths.user_dir() / "chroma"
        self.lock = SingleWriterLock(self.path.with_name(self.path.name + ".lock"))
        # Written by close(); missing after a crash, when the files may be torn.
        self._clean_marker = self.path.with_name(self.path.name + ".clean")
        self.lock.acquire()
        self._client = None
        self._collection = None
        #: What opening had to do: None, "created", "rebuilt: <why>" or "synced: +a -r".
        self.repair: str | None = None
        try:
            if rebuild:
                self.rebuild(reason="asked")
            else:
                self._open()
            self._clean_marker.unlink(missing_ok=True)
        except BaseException:
            self._disconnect()
            self.lock.release()
            raise

    # -- opening ---------------------------------------------------------------------------

    def _open(self) -> None:
        reason = self._check()
        if reason is None:
            report = self.sync()
            if report.added or report.removed:
                self.repair = f"synced: +{report.added} -{report.removed}"
            return
        if reason == "missing" and self.store.count() == 0:
            self._connect()
            self._collection = self._create()
            self.repair = "created"
            return
        log.warning("Rebuilding the memory index %s: %s", self.path, reason)
        self.rebuild(reason=reason)

    def _check(self) -> str | None:
        """None when the existing collection can be used, else why it must be rebuilt."""
        from chromadb.errors import NotFoundError

        if not self.path.exists():
            return "missing"
        if not self._clean_marker.exists():
            # Damaged HNSW files crash Chroma's native code (SIGSEGV) rather than raise, and
            # a crash is what damages them: after one, look at the folder from a child first.
            trouble = _probe_in_child(self.path, self.embedder.dim)
            if trouble:
                return trouble
        try:
            self._connect()
            collection = self._client.get_collection(COLLECTION, embedding_function=self._ef)
        except NotFoundError:
            return "missing"
        except Exception as exc:  # noqa: BLE001 - a damaged folder can fail in many ways
            return f"could not be opened ({type(exc).__name__}: {exc})"
        metadata = collection.metadata or {}
        model = metadata.get("embedding_model")
        if model != self.embedder.model_id:
            return f"built by another embedding model ({model})"
        if metadata.get("hearth_schema") != SCHEMA:
            return f"built with older settings (schema {metadata.get('hearth_schema')})"
        try:
            if collection.count() > 0:
                probe = np.zeros((1, self.embedder.dim), dtype=np.float32)
                probe[0, 0] = 1.0
                collection.query(query_embeddings=probe, n_results=1, include=["distances"])
        except Exception as exc:  # noqa: BLE001
            return f"could not be queried ({type(exc).__name__}: {exc})"
        self._collection = collection
        return None

    def _connect(self) -> None:
        if self._client is None:
            import chromadb
            from chromadb.config import Settings

            self._client = chromadb.PersistentClient(
                path=str(self.path),
                settings=Settings(anonymized_telemetry=False, allow_reset=True))

    def _disconnect(self) -> None:
        client, self._client, self._collection = self._client, None, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing a broken client must not hide why
                log.exception("Closing the Chroma client failed")
        _drop_cached_system(self.path)

    @functools.cached_property
    def _ef(self):
        return _embedding_function_class()(self.embedder, self.embedder.model_id)

    def _create(self):
        return self._client.create_collection(
            COLLECTION, embedding_function=self._ef,
            configuration={"hnsw": dict(HNSW)},
            metadata={"embedding_model": self.embedder.model_id, "hearth_schema": SCHEMA})

    # -- keeping in step with SQLite -------------------------------------------------------

    def rebuild(self, progress: Callable[[int, int], None] | None = None, *,
                reason: str = "asked") -> int:
        """Throw the folder away and index every row again, in batches. Vectors stored in
        SQLite by the current model are reused; the others are embedded again."""
        self._disconnect()
        if self.path.exists():
            shutil.rmtree(self.path)
        self._connect()
        self._collection = self._create()
        total = self.store.count()
        done = 0
        for rows in self.store.index_rows(self.embedder.model_id, batch=BATCH):
            done += self._write(rows)
            if progress:
                progress(done, total)
        self.repair = f"rebuilt: {reason}"
        return done

    def sync(self) -> SyncReport:
        """Heal what a crash between the SQLite commit and the index write left behind."""
        added = 0
        dirty = self.store.unindexed_ids()
        for rows in self.store.index_rows(self.embedder.model_id, dirty, batch=BATCH):
            added += self._write(rows)
        removed = 0
        if self._collection.count() != self.store.count():
            in_index = self.ids()
            in_sqlite = self.store.ids()
            extra = sorted(in_index - in_sqlite)
            self.delete(extra)
            removed = len(extra)
            for rows in self.store.index_rows(self.embedder.model_id, in_sqlite - in_index,
                                              batch=BATCH):
                added += self._write(rows)
        return SyncReport(added, removed)

    def _write(self, rows: list[IndexRow]) -> int:
        """Chroma gets the vectors, then SQLite records that it has them."""
        stale = [i for i, r in enumerate(rows) if r.vector is None]
        vectors = [r.vector for r in rows]
        if stale:
            fresh = self.embedder.embed([rows[i].text for i in stale])
            self.store.set_embeddings([rows[i].id for i in stale], fresh, self.embedder.model_id)
            for i, vector in zip(stale, fresh, strict=True):
                vectors[i] = vector
        if rows:
            self.upsert([r.id for r in rows], np.stack(vectors), [r.kind for r in rows])
        return len(rows)

    # -- the index itself ------------------------------------------------------------------

    @property
    def collection(self):
        if self._collection is None:
            raise RuntimeError("The memory index is closed.")
        return self._collection

    def upsert(self, ids: list[int], vectors: np.ndarray, kinds: list[str]) -> None:
        for start in range(0, len(ids), BATCH):
            part = ids[start:start + BATCH]
            self.collection.upsert(
                ids=[str(i) for i in part], embeddings=np.asarray(vectors[start:start + BATCH],
                                                                  dtype=np.float32),
                metadatas=[{"kind": k} for k in kinds[start:start + BATCH]])
        self.store.mark_indexed(ids)

    def delete(self, ids: Iterable[int]) -> None:
        ids = [str(i) for i in ids]
        for start in range(0, len(ids), BATCH):
            self.collection.delete(ids=ids[start:start + BATCH])

    def query(self, vector: np.ndarray, n: int, kinds: Iterable[str] | None = None
              ) -> list[tuple[int, float]]:
        """The n nearest ids with their cosine similarity, best first (fewer when the index
        holds fewer). No count() first: at 100k memories it costs ~10 ms, as much as the
        query itself, and Chroma 1.5 simply returns fewer results."""
        n = int(n)
        if n <= 0:
            return []
        where = {"kind": {"$in": sorted(set(kinds))}} if kinds else None
        query = np.asarray(vector, dtype=np.float32)[None, :]
        result = self.collection.query(query_embeddings=query, n_results=n, where=where,
                                       include=["distances"])
        return [(int(i), 1.0 - float(d))
                for i, d in zip(result["ids"][0], result["distances"][0], strict=True)]

    def count(self) -> int:
        return self.collection.count()

    def ids(self) -> set[int]:
        return {int(i) for i in self.collection.get(include=[])["ids"]}

    def has(self, memory_id: int) -> bool:
        return bool(self.collection.get(ids=[str(memory_id)], include=[])["ids"])

    @property
    def model_id(self) -> str | None:
        return (self.collection.metadata or {}).get("embedding_model")

    def close(self) -> None:
        was_open = self._collection is not None
        self._disconnect()
        if was_open and self.lock.held:
            try:
                self._clean_marker.write_text(f"{os.getpid()}\n")
            except OSError:
                pass  # no marker only means one extra check at the next start
        self.lock.release()


_PROBE = """
import sys
sys.path.insert(0, sys.argv[3])
from memory.index import _probe
_probe(sys.argv[1], int(sys.argv[2]))
"""
PROBE_TIMEOUT_S = 120


def _probe_in_child(path: Path, dim: int) -> str | None:
    """None when a child process could open and query the folder, else why not."""
    root = str(Path(__file__).resolve().parent.parent)
    try:
        child = subprocess.run([sys.executable, "-c", _PROBE, str(path), str(dim), root],
                               capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"opening it hung for {PROBE_TIMEOUT_S} s"
    if child.returncode == 0:
        return None
    if child.returncode < 0:
        return f"opening it crashed a test process (signal {-child.returncode})"
    last = (child.stderr.strip().splitlines() or ["no message"])[-1]
    return f"could not be opened ({last})"


def _probe(path: str, dim: int) -> None:
    """Runs in the child: open, count, query once, close. A crash here costs only the child."""
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
    try:
        collection = client.get_collection(
            COLLECTION, embedding_function=_embedding_function_class()(None, None))
        if collection.count() > 0:
            probe = np.zeros((1, dim), dtype=np.float32)
            probe[0, 0] = 1.0
            collection.query(query_embeddings=probe, n_results=1, include=["distances"])
    except Exception as exc:  # noqa: BLE001 - a missing collection is the parent's business
        from chromadb.errors import NotFoundError

        if not isinstance(exc, NotFoundError):
            raise
    finally:
        client.close()


def _drop_cached_system(path: Path) -> None:
    """Chroma 1.5 caches one System per folder and keeps it even when starting it failed (a
    damaged chroma.sqlite3): every later client for that folder then fails too, even after
    the folder is rebuilt. Forget our folder's entry; the public clear_system_cache() would
    forget every folder's."""
    from chromadb.api.shared_system_client import SharedSystemClient

    systems = getattr(SharedSystemClient, "_identifier_to_system", None)
    refcounts = getattr(SharedSystemClient, "_identifier_to_refcount", None)
    if not isinstance(systems, dict) or not isinstance(refcounts, dict):
        SharedSystemClient.clear_system_cache()
        return
    with SharedSystemClient._refcount_lock:
        system = systems.pop(str(path), None)
        refcounts.pop(str(path), None)
    if system is not None:
        try:
            system.stop()
        except Exception:  # noqa: BLE001 - a half-started system may not stop cleanly
            pass


@functools.cache
def _embedding_function_class():
    """Defined on first use so importing this module does not import Chroma (seconds)."""
    from chromadb.api.types import EmbeddingFunction
    from chromadb.utils.embedding_functions import register_embedding_function

    @register_embedding_function
    class HearthEmbeddingFunction(EmbeddingFunction):
        """Chroma rebuilds one of these from the collection's stored config each time it reads
        the configuration; those copies have no model and refuse to embed rather than load a
        second one. The instance Hearth passes in is the one that embeds."""

        def __init__(self, embedder=None, model_id: str | None = None):
            self._embedder = embedder
            self.model_id = model_id

        def __call__(self, input):  # noqa: A002 - Chroma's name for it
            if self._embedder is None:
                raise RuntimeError("Hearth's memory index embeds only through Hearth's embedder.")
            return list(self._embedder.embed(list(input)))

        @staticmethod
        def name() -> str:
            return "hearth-embedder"

        def get_config(self) -> dict:
            return {"model_id": self.model_id}

        @staticmethod
        def build_from_config(config: dict):
            return HearthEmbeddingFunction(None, config.get("model_id"))

        def default_space(self):
            return "cosine"

        def supported_spaces(self):
            return ["cosine"]

    return HearthEmbeddingFunction
