"""Memory on the real embedder and a real Chroma index (in this test's HEARTH_HOME)."""

import pytest

from memory.documents import DocumentError
from memory.service import DuplicateResult
from tests.memory.memory_helpers import write_text_pdf

# About the user, none about food, allergies or health.
UNRELATED = [
    "My sister's name is Ana", "I live in Lisbon", "I work as an accountant",
    "My favourite band is Radiohead", "I drive a blue Toyota Corolla",
    "I go running every Saturday morning", "My daughter plays the violin",
    "I'm learning Japanese", "My laptop is a ThinkPad X1", "I'm saving for a trip to Iceland",
    "My mother lives in Porto", "I support Benfica", "I hate horror movies",
    "I usually wake up at 6:30", "My password manager is Bitwarden",
    "The car insurance renews in November", "I prefer window seats on planes",
    "My bike has a flat tyre", "I read science fiction before bed", "Our wifi router is in the attic",
]


def words(text: str) -> int:
    return len(text.split())


def test_a_restatement_is_merged_not_piled_up(memory):
    first = memory.remember("I'm allergic to peanuts", "profile", "message 1")
    again = memory.remember("I am allergic to peanuts.", "profile", "message 7")
    assert isinstance(again, DuplicateResult) and again.existing.id == first.id
    assert again.similarity >= 0.92 and again.existing.last_used_at is not None
    exact = memory.remember("i'm  ALLERGIC to peanuts", "profile")
    assert isinstance(exact, DuplicateResult) and exact.similarity == 1.0
    assert [m.id for m in memory.list()] == [first.id]
    assert memory.index.count() == 1


def test_a_changed_detail_is_kept_and_flagged_as_a_possible_contradiction(memory):
    ana = memory.remember("My sister's name is Ana", "profile")
    eva = memory.remember("My sister's name is Eva", "profile")
    assert not isinstance(eva, DuplicateResult) and eva.conflicts_with == ana.id
    # Numbers and weekdays hardly move the vector (0.96 similar) but are not duplicates.
    tuesday = memory.remember("My dentist appointment is on Tuesday", "event")
    friday = memory.remember("My dentist appointment is on Friday", "event")
    assert not isinstance(friday, DuplicateResult) and friday.conflicts_with == tuesday.id
    # Different kinds, or merely related facts, are not flagged.
    note = memory.remember("My sister's name is Maria", "note")
    assert note.conflicts_with is None
    coffee = memory.remember("I like coffee", "preference")
    tea = memory.remember("I like tea", "preference")
    assert coffee.conflicts_with is None and tea.conflicts_with is None
    assert len(memory.list()) == 7


def test_proposals_merge_with_what_the_user_says(memory):
    proposed = memory.remember("I work night shifts at the hospital", "profile", status="proposed")
    assert memory.search("night shifts") == []  # proposals are not used until accepted
    said = memory.remember("I work night shifts at the hospital.", "profile")
    assert isinstance(said, DuplicateResult) and said.existing.id == proposed.id
    assert said.existing.status == "active"
    other = memory.remember("Might enjoy jazz concerts", "preference", status="proposed")
    assert memory.reject(other.id) and not memory.index.has(other.id)


def test_satay_finds_the_peanut_allergy_among_unrelated_memories(memory):
    for text in UNRELATED[:10]:
        memory.remember(text, "profile")
    allergy = memory.remember("I'm allergic to peanuts", "profile")
    for text in UNRELATED[10:]:
        memory.remember(text, "profile")
    found = memory.search("can I eat this satay?", k=3)
    assert found[0][0].id == allergy.id
    assert found[0][1] > found[1][1]
    assert memory.get(allergy.id).last_used_at is not None  # search touches what it returns
    chosen = memory.context_for("can I eat this satay?", 50, words)
    assert chosen and chosen[0][0].id == allergy.id
    # A question about nothing the user told Hearth injects nothing.
    assert memory.context_for("What's the capital of Australia?", 500, words) == []


def test_search_ranking_kinds_pins_and_budget(memory):
    a = memory.remember("We have two cats called Miso and Tofu", "profile")
    b = memory.remember("The vet said the cats need their vaccines in May", "event")
    memory.remember("My bike has a flat tyre", "note")
    before = dict((r.id, s) for r, s in memory.search("cats", k=2))
    assert list(before) == [a.id, b.id]
    memory.set_pinned(b.id)
    after = dict((r.id, s) for r, s in memory.search("cats", k=2))
    # score = similarity * (1 + 0.15 pinned + 0.10 recency + kind): pinning adds 0.15.
    assert after[b.id] / before[b.id] == pytest.approx((1.25) / (1.10), rel=1e-3)
    assert after[a.id] == pytest.approx(before[a.id], rel=1e-3)
    assert [r.id for r, _ in memory.search("cats", k=5, kinds=["event"])] == [b.id]
    with pytest.raises(ValueError, match="Unknown kind"):
        memory.search("cats", kinds=["gossip"])
    chosen = memory.context_for("tell me about my cats", words(a.text), words)
    assert [r.id for r, _ in chosen] == [a.id]  # the vet visit does not fit as well
    assert memory.context_for("tell me about my cats", 2, words) == []


def test_forget_deletes_the_row_and_its_vector(memory):
    keep = memory.remember("I live in Lisbon", "profile")
    gone = memory.remember("My locker code is 4512", "note")
    assert memory.index.has(gone.id)
    assert memory.forget(gone.id) and not memory.forget(gone.id)
    assert memory.get(gone.id) is None
    assert not memory.index.has(gone.id)
    assert memory.index.ids() == {keep.id}
    assert all(r.id != gone.id for r, _ in memory.search("locker code"))


def test_update_text_reembeds(memory):
    r = memory.remember("My locker code is 4512", "note")
    memory.update_text(r.id, "I moved to a house in the countryside")
    assert memory.search("where do I live now?", k=1)[0][0].id == r.id
    assert memory.index.count() == 1


def test_forget_about_previews_then_deletes_mentions_and_close_matches(memory):
    mention = memory.remember("I'm allergic to peanuts", "profile")
    close = memory.remember("Peanut butter makes me sick", "note")
    proposal = memory.remember("Avoid satay sauce, it has peanuts", "note", status="proposed")
    keep = [memory.remember(t, "profile").id for t in UNRELATED[:8]]
    preview = memory.preview_forget_about("peanuts")
    assert {c.record.id for c in preview} == {mention.id, close.id, proposal.id}
    assert "mentions 'peanuts'" in {c.reason for c in preview}
    assert memory.store.count() == 11  # a preview deletes nothing
    assert memory.forget_about("peanuts") == 3
    assert memory.index.ids() == set(keep) and {m.id for m in memory.list(status=None)} == set(keep)
    assert memory.forget_about("peanuts") == 0
    with pytest.raises(ValueError):
        memory.preview_forget_about("   ")


def test_export_import_round_trip_through_the_index(memory, tmp_path):
    texts = ["I'm allergic to peanuts", "My sister's name is Ana", "I go running on Saturdays"]
    for t in texts:
        memory.remember(t, "profile")
    path = tmp_path / "export.json"
    assert memory.export_json(path) == 3
    memory.forget_many(m.id for m in memory.list())
    assert memory.index.count() == 0
    report = memory.import_json(path)
    assert len(report.added) == 3 and report.skipped == 0
    assert memory.index.count() == 3 and memory.store.unindexed_ids() == []
    assert memory.search("can I eat this satay?", k=1)[0][0].text == texts[0]
    assert memory.import_json(path).skipped == 3 and memory.index.count() == 3


def test_refused_texts_never_reach_the_index(memory):
    with pytest.raises(ValueError, match="can't be empty"):
        memory.remember("   ")
    with pytest.raises(ValueError, match="limited to 10,000 characters"):
        memory.remember("z" * (10 * 1024 * 1024))
    with pytest.raises(ValueError, match="Unknown kind"):
        memory.remember("fine", "gossip")
    assert memory.store.count() == 0 and memory.index.count() == 0


def test_documents_are_chunked_searchable_and_not_added_twice(memory, tmp_path):
    paragraphs = [
        "Boiler manual. The boiler pressure should stay between 1.0 and 1.5 bar when the "
        "heating is cold. If it drops below 0.8 bar, open the filling loop slowly.",
        "Warranty. The boiler warranty lasts seven years from installation and requires a "
        "yearly service by a registered engineer; keep the receipts in the blue folder.",
        "Error codes. E119 means low water pressure. E133 means the flame was not detected, "
        "usually because the gas supply is off or the meter has run out of credit.",
        "Radiators. Bleed the radiators every autumn with the square key that is kept in "
        "the kitchen drawer, starting with the one furthest from the boiler.",
    ]
    notes = tmp_path / "boiler.md"
    notes.write_text("\n\n".join(paragraphs), encoding="utf-8")
    added = memory.add_document(notes)
    assert len(added) >= 2 and all(r.kind == "document" for r in added)
    assert [r.source for r in added] == [f"file boiler.md#{n}" for n in range(1, len(added) + 1)]
    assert all(len(r.text) <= 520 for r in added)
    top = memory.search("what does error E133 mean?", k=1)[0][0]
    assert "flame was not detected" in top.text
    assert memory.add_document(notes) == []  # same file again: nothing new

    pdf = write_text_pdf(tmp_path / "lease.pdf", [
        ["Tenancy agreement for the flat on Rua das Flores.",
         "The monthly rent is 950 euros, paid on the first working day of the month."],
        ["The landlord must be told 60 days before moving out."]])
    chunks = memory.add_document(pdf)
    assert len(chunks) == 1 and chunks[0].source == "file lease.pdf#1"
    top = memory.search("how much notice before I move out?", k=1, kinds=["document"])[0][0]
    assert "60 days" in top.text


def test_bad_documents_are_refused_with_a_clear_error(memory, tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\ngarbage\x00\xff")
    with pytest.raises(DocumentError, match="broken.pdf is not a readable PDF"):
        memory.add_document(broken)
    real = write_text_pdf(tmp_path / "ok.pdf", [["Some text here."]])
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(real.read_bytes()[:60])
    with pytest.raises(DocumentError, match="truncated.pdf"):
        memory.add_document(truncated)
    blank = write_text_pdf(tmp_path / "scan.pdf", [[]])
    with pytest.raises(DocumentError, match="no text layer"):
        memory.add_document(blank)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DocumentError, match="empty.txt is empty"):
        memory.add_document(empty)
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(DocumentError, match="not a text file"):
        memory.add_document(binary)
    with pytest.raises(DocumentError, match="only .txt, .md, .pdf"):
        memory.add_document(tmp_path / "letter.docx")
    with pytest.raises(DocumentError, match="file not found"):
        memory.add_document(tmp_path / "missing.txt")
    assert memory.store.count() == 0


def test_chroma_never_runs_its_own_embedding_function(memory):
    memory.remember("I'm allergic to peanuts", "profile")
    collection = memory.index.collection
    assert collection.configuration_json["embedding_function"]["name"] == "hearth-embedder"
    # Asking Chroma to embed a query text goes through our model, not a downloaded ONNX one
    # (the test-wide socket guard would fail any download attempt).
    result = collection.query(query_texts=["can I eat satay?"], n_results=1)
    assert result["ids"] == [[str(memory.list()[0].id)]]


def test_score_boosts_reorder_relevant_memories_but_never_lift_unrelated_ones():
    from datetime import datetime, timedelta

    from memory.heuristics import score

    now = datetime(2026, 1, 1)
    old = now - timedelta(days=365)
    relevant = score(0.27, kind="note", pinned=False, created_at=old, now=now)
    unrelated = score(0.20, kind="profile", pinned=True, created_at=now, now=now)
    assert unrelated < relevant
    pinned = score(0.50, kind="note", pinned=True, created_at=old, now=now)
    assert pinned > score(0.50, kind="note", pinned=False, created_at=now, now=now)
    assert score(-0.1, kind="profile", pinned=True, created_at=now, now=now) == -0.1
