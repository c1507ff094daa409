"""The Chroma index is derived from SQLite: rebuilt when lost, damaged or stale, healed after a
crash, and owned by one process at a time."""

import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest

from memory.index import HNSW, SCHEMA
from memory.lockfile import MemoryLockedError
from memory.service import Memory
from tests.memory.memory_helpers import CHILD_PRELUDE, PYTHON

FACTS = ["I'm allergic to peanuts", "My sister's name is Ana", "I live in Lisbon",
         "My bike has a flat tyre", "I'm learning Japanese"]


def _fill(memory) -> dict[str, int]:
    return {t: memory.remember(t, "profile").id for t in FACTS}


def _reopen(memory, db, embedder) -> Memory:
    memory.close()
    return Memory(db, embedder)


def _finds_everything(memory, ids: dict[str, int]) -> None:
    assert memory.index.ids() == set(ids.values())
    assert memory.search("can I eat this satay?", k=1)[0][0].id == ids["I'm allergic to peanuts"]


def test_reopening_a_healthy_index_changes_nothing(memory, db, embedder, hearth_home):
    ids = _fill(memory)
    marker = hearth_home / "chroma.clean"
    assert not marker.exists()  # while open: a crash now must not look like a clean stop
    memory.close()
    assert marker.exists()
    memory = Memory(db, embedder)
    try:
        assert memory.index.repair is None and not marker.exists()
        _finds_everything(memory, ids)
    finally:
        memory.close()


def test_a_deleted_chroma_folder_is_rebuilt_from_sqlite(memory, db, embedder, hearth_home):
    ids = _fill(memory)
    memory.close()
    shutil.rmtree(hearth_home / "chroma")
    memory = Memory(db, embedder)
    try:
        assert memory.index.repair == "rebuilt: missing"
        _finds_everything(memory, ids)
    finally:
        memory.close()


def test_a_corrupted_chroma_database_is_rebuilt(memory, db, embedder, hearth_home):
    ids = _fill(memory)
    memory.close()
    (hearth_home / "chroma" / "chroma.sqlite3").write_bytes(os.urandom(64 * 1024))
    memory = Memory(db, embedder)
    try:
        assert memory.index.repair.startswith("rebuilt: could not be opened")
        _finds_everything(memory, ids)
    finally:
        memory.close()


def test_an_index_built_by_another_model_is_rebuilt_and_stale_vectors_reembedded(
        memory, db, embedder):
    ids = _fill(memory)
    # Pretend the rows were embedded by an older model: their vectors must be made again.
    stale = np.zeros(384, dtype=np.float32)
    memory.store.set_embeddings(list(ids.values()), np.stack([stale] * len(ids)), "old-model@1")
    memory.index.collection.modify(metadata={"embedding_model": "old-model@1",
                                             "hearth_schema": SCHEMA})
    memory = _reopen(memory, db, embedder)
    try:
        assert memory.index.repair == "rebuilt: built by another embedding model (old-model@1)"
        assert memory.index.model_id == embedder.model_id
        _finds_everything(memory, ids)
        peanut = memory.store.vector(ids["I'm allergic to peanuts"])
        assert np.allclose(peanut, embedder.embed_one("I'm allergic to peanuts"), atol=1e-5)
        assert {m.embedding_model for m in memory.list()} == {embedder.model_id}
    finally:
        memory.close()


def test_a_crash_between_sqlite_and_chroma_is_healed_without_a_rebuild(memory, db, embedder):
    ids = _fill(memory)
    # Crash 1: the row was committed but Chroma never got the vector.
    orphan = memory.store.add("My passport expires in 2031", "profile",
                              embedding=embedder.embed_one("My passport expires in 2031"),
                              embedding_model=embedder.model_id)
    # Crash 2: the row was deleted but its vector stayed in Chroma.
    memory.store.delete(ids.pop("I live in Lisbon"))
    memory = _reopen(memory, db, embedder)
    try:
        assert memory.index.repair == "synced: +1 -1"
        ids["My passport expires in 2031"] = orphan.id
        _finds_everything(memory, ids)
        assert memory.search("when does my passport expire?", k=1)[0][0].id == orphan.id
    finally:
        memory.close()


def test_an_index_with_older_settings_is_rebuilt_with_the_current_ones(memory, db, embedder):
    ids = _fill(memory)
    memory.index.collection.modify(metadata={"embedding_model": embedder.model_id,
                                             "hearth_schema": SCHEMA - 1})
    memory = _reopen(memory, db, embedder)
    try:
        assert memory.index.repair == f"rebuilt: built with older settings (schema {SCHEMA - 1})"
        hnsw = memory.index.collection.configuration_json["hnsw"]
        assert {k: hnsw[k] for k in HNSW} == HNSW
        _finds_everything(memory, ids)
    finally:
        memory.close()


def test_rebuild_on_request(memory):
    ids = _fill(memory)
    assert memory.rebuild() == len(FACTS)
    _finds_everything(memory, ids)


HOLD_INDEX = CHILD_PRELUDE + """
import time
from memory.db import Database
from memory.embeddings import Embedder
from memory.index import MemoryIndex
from memory.memories import MemoryStore
index = MemoryIndex(MemoryStore(Database()), Embedder())
print("ready", flush=True)
time.sleep(120)
"""


def test_a_second_process_fails_fast_with_a_clear_message(db, embedder):
    holder = subprocess.Popen([PYTHON, "-c", HOLD_INDEX], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready", holder.stderr.read()
        start = time.monotonic()
        with pytest.raises(MemoryLockedError,
                           match=rf"open in another Hearth window \(pid {holder.pid}\)"):
            Memory(db, embedder)
        assert time.monotonic() - start < 2.0
    finally:
        holder.kill()
        holder.wait(timeout=10)
    # The lock died with its process: no stale lock file blocks the next start.
    Memory(db, embedder).close()


ADD_FOREVER = CHILD_PRELUDE + """
import time
from memory.db import Database
from memory.service import Memory
topics = ["the garden", "the car", "my sister", "the boiler", "Japanese lessons", "the cat",
          "the bank", "the dentist", "running", "the book club", "the roof", "the piano"]
memory = Memory(Database())
memory.embedder.embed(["warm up"])
index_upsert = memory.index.upsert
i = 0

def upsert_slowly(ids, vectors, kinds):
    # Committed to SQLite, not yet in Chroma: from the 26th memory on, linger here so the
    # kill lands exactly in the window a real crash could hit.
    print("pending", *ids, flush=True)
    if i >= 25:
        time.sleep(0.5)
    index_upsert(ids, vectors, kinds)

memory.index.upsert = upsert_slowly
print("ready", flush=True)
while True:
    topic = topics[i % len(topics)]
    record = memory.remember(f"Reminder {i}: call about {topic} before week {i + 7}", "note")
    print(record.id, flush=True)
    i += 1
"""


def test_kill_9_mid_write_loses_no_acknowledged_memory(db, embedder):
    writer = subprocess.Popen([PYTHON, "-c", ADD_FOREVER], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    acknowledged: list[int] = []
    pending: list[int] = []
    try:
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
        while True:
            line = writer.stdout.readline()
            assert line, writer.stderr.read()
            if line.startswith("pending"):
                pending = [int(x) for x in line.split()[1:]]
                if len(acknowledged) >= 25:
                    break
            else:
                acknowledged.append(int(line))
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == -signal.SIGKILL
    memory = Memory(db, embedder)
    try:
        # Every acknowledged memory survived, in SQLite and in the index; the one that was
        # committed but not yet indexed when the process died was indexed on open.
        assert memory.index.repair == f"synced: +{len(pending)} -0"
        stored = memory.store.get_many(acknowledged + pending)
        assert sorted(stored) == sorted(acknowledged + pending)
        assert memory.index.ids() == memory.store.ids() == set(acknowledged + pending)
        for memory_id in (acknowledged[0], acknowledged[-1], pending[0]):
            assert memory.search(stored[memory_id].text, k=1)[0][0].id == memory_id
    finally:
        memory.close()


def test_torn_hnsw_files_after_a_crash_are_probed_in_a_child_and_rebuilt(memory, db, embedder, hearth_home):
    ids = _fill(memory)
    # Past Chroma's sync threshold (1000) so the vectors live in HNSW files, not only its log.
    # Random unit vectors stand in for 1,100 more memories: this is about the index files.
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((1100, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    from memory.memories import NewMemory

    records = memory.store.add_many([NewMemory(f"filler {i}") for i in range(1100)], vectors,
                                    embedder.model_id)
    memory.index.upsert([r.id for r in records], vectors, ["note"] * len(records))
    memory.close()
    # A crash mid-write: no clean-shutdown marker, torn HNSW files. Opening those in this
    # process would be a segfault (Chroma's native code), so a child process looks first.
    (hearth_home / "chroma.clean").unlink()
    damaged = list((hearth_home / "chroma").glob("*/data_level0.bin"))
    assert damaged
    for path in damaged:
        path.write_bytes(os.urandom(path.stat().st_size))
    memory = Memory(db, embedder)
    try:
        assert memory.index.repair == "rebuilt: opening it crashed a test process (signal 11)"
        assert memory.index.count() == len(FACTS) + 1100
        assert memory.search("can I eat this satay?", k=1)[0][0].id == ids["I'm allergic to peanuts"]
    finally:
        memory.close()
