"""MemoryStore: the SQLite side alone (no model, no index)."""

import json

import numpy as np
import pytest

from memory.memories import MAX_TEXT_CHARS, MemoryStore, NewMemory, text_hash


@pytest.fixture
def memories(db):
    return MemoryStore(db)


def test_the_migration_creates_the_memories_table(db):
    with db.engine.connect() as conn:
        columns = {r[1] for r in conn.exec_driver_sql("PRAGMA table_info(memories)")}
    assert {"id", "text", "kind", "source", "created_at", "last_used_at", "pinned", "status",
            "embedding_model", "text_hash", "conflicts_with", "embedding", "indexed"} <= columns


def test_add_get_list_update_pin_touch_delete(memories):
    a = memories.add("  I'm allergic to peanuts ", "profile", "message 12")
    b = memories.add("Dentist on Tuesday at 10", "event")
    c = memories.add("Maybe likes jazz", "preference", status="proposed")
    assert a.text == "I'm allergic to peanuts" and a.source == "message 12"
    assert (a.kind, a.status, a.pinned, a.last_used_at) == ("profile", "active", False, None)
    assert memories.get(a.id) == a and memories.get(9999) is None
    assert [m.id for m in memories.list()] == [b.id, a.id]  # newest first, active only
    assert [m.id for m in memories.list(status="proposed")] == [c.id]
    assert [m.id for m in memories.list(status=None)] == [c.id, b.id, a.id]
    assert [m.id for m in memories.list(kind="event")] == [b.id]
    assert [m.id for m in memories.list(query="PEANUT")] == [a.id]
    assert memories.list(query="100%") == []  # LIKE wildcards are literal

    updated = memories.update_text(b.id, "Dentist moved to Friday")
    assert updated.text == "Dentist moved to Friday"
    assert memories.find_exact("dentist   MOVED to friday") == updated
    assert memories.set_pinned(a.id).pinned
    memories.touch([a.id])
    assert memories.get(a.id).last_used_at is not None

    assert memories.delete(a.id) and not memories.delete(a.id)
    assert memories.delete_many([b.id, c.id, 12345]) == 2
    assert memories.count() == 0


def test_proposals_are_accepted_or_rejected(memories):
    p = memories.add("Works night shifts", "profile", status="proposed")
    q = memories.add("Has a cat", "profile", status="proposed")
    assert memories.accept(p.id).status == "active"
    assert memories.reject(q.id) and memories.get(q.id) is None
    with pytest.raises(ValueError, match="not a proposal"):
        memories.reject(p.id)
    with pytest.raises(KeyError):
        memories.accept(4242)


def test_empty_too_long_and_unknown_kinds_are_refused_with_the_limit_named(memories):
    for empty in ("", "   \n\t "):
        with pytest.raises(ValueError, match="can't be empty"):
            memories.add(empty)
    with pytest.raises(ValueError, match="10,000 characters"):
        memories.add("x" * (MAX_TEXT_CHARS + 1))
    with pytest.raises(ValueError, match="10,000 characters"):
        memories.add("a" * 10 * 1024 * 1024)
    assert memories.add("y" * MAX_TEXT_CHARS).text == "y" * MAX_TEXT_CHARS
    with pytest.raises(ValueError, match="Unknown kind"):
        memories.add("fine text", "gossip")
    with pytest.raises(ValueError, match="Unknown memory status"):
        memories.add("fine text", status="maybe")
    assert memories.count() == 1


def test_vectors_are_kept_with_their_model_and_reported_stale_for_another(memories):
    v = np.arange(384, dtype=np.float32)
    a = memories.add("with a vector", embedding=v, embedding_model="m1")
    b = memories.add("without one")
    assert memories.unindexed_ids() == [a.id, b.id]
    (rows,) = list(memories.index_rows("m1"))
    assert [r.id for r in rows] == [a.id, b.id]
    assert np.array_equal(rows[0].vector, v) and rows[1].vector is None
    (rows,) = list(memories.index_rows("m2", [a.id]))
    assert rows[0].vector is None  # made by another model: must be re-embedded
    memories.mark_indexed([a.id])
    assert memories.unindexed_ids() == [b.id]


def test_export_import_round_trip_skips_exact_duplicates(memories, tmp_path):
    memories.add("I'm allergic to peanuts", "profile", "message 3")
    pinned = memories.add("Anniversary is May 4", "event")
    memories.set_pinned(pinned.id)
    memories.add("Might enjoy hiking", "preference", status="proposed")
    path = tmp_path / "memories.json"
    assert memories.export_json(path) == 3
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert payload["format"] == "hearth-memories" and len(payload["memories"]) == 3
    assert "embedding" not in payload["memories"][0]

    report = memories.import_json(path)  # everything is already here
    assert (report.added, report.skipped) == ([], 3)

    before = {(m.text, m.kind, m.source, m.pinned, m.status, m.created_at)
              for m in memories.list(status=None)}
    memories.delete_many(m.id for m in memories.list(status=None))
    memories.add("i'm ALLERGIC to peanuts ", "profile")  # the same words: skipped
    report = memories.import_json(path)
    assert len(report.added) == 2 and report.skipped == 1
    after = {(m.text, m.kind, m.source, m.pinned, m.status, m.created_at)
             for m in memories.list(status=None) if m.text != "i'm ALLERGIC to peanuts"}
    assert after == {t for t in before if t[0] != "I'm allergic to peanuts"}


def test_import_refuses_files_that_are_not_an_export(memories, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json is not a Hearth memory export"):
        memories.import_json(bad)
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="not a Hearth memory export"):
        memories.import_json(bad)
    bad.write_text(json.dumps({"format": "hearth-memories", "version": 1,
                               "memories": [{"text": "ok"}, {"text": ""}]}))
    with pytest.raises(ValueError, match="memory #2 is not valid"):
        memories.import_json(bad)
    assert memories.count() == 0  # all or nothing


def test_add_many_is_one_transaction(memories):
    with pytest.raises(ValueError):
        memories.add_many([NewMemory("fine"), NewMemory("   ")])
    assert memories.count() == 0
    assert text_hash("A  b") == text_hash("a b")
