"""The outbox on real SQLite: the migration, states, claims, leases and delete."""

import threading

import pytest

from memory.db import Database
from sync.outbox import Outbox, OutboxError, to_datetime
from tests.sync.conftest import sample_payload

ENDPOINT = "http://127.0.0.1:9/v1"


def add(outbox, status="queued", **kw):
    return outbox.add(kind="answer", endpoint=ENDPOINT, model="fake",
                      payload=sample_payload(ENDPOINT), mapping={"<PERSON_1>": "Maria Keller"},
                      status=status, **kw)


def test_the_migration_makes_both_tables_and_upgrades_an_0003_database(db, hearth_home):
    from alembic import command
    from alembic.config import Config
    from importlib import resources
    from sqlalchemy import create_engine

    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0004"
        tables = {r[0] for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"outbox", "training_examples"} <= tables

    old = hearth_home / "old.db"
    engine = create_engine(f"sqlite:///{old}")
    config = Config()
    config.set_main_option("script_location", str(resources.files("memory") / "migrations"))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
    engine.dispose()
    upgraded = Database(old)
    try:
        assert Outbox(upgraded).list() == []
        assert (hearth_home / "old.db.before-0004").exists()
    finally:
        upgraded.close()


def test_an_entry_keeps_exactly_the_payload_and_the_mapping_apart(db, store, clock):
    outbox = Outbox(db, clock)
    conv = store.create()
    record = add(outbox, status="awaiting_approval", conversation_id=conv.id)
    assert record.status == "awaiting_approval" and record.next_attempt_at is None
    assert record.payload == sample_payload(ENDPOINT)
    assert "Maria" not in repr(record) and "Maria" not in str(record.to_dict())
    assert outbox.mapping(record.id) == {"<PERSON_1>": "Maria Keller"}
    assert outbox.due() == []  # not approved yet: nothing can go
    with pytest.raises(OutboxError, match="mapping"):
        outbox.add(kind="answer", endpoint=ENDPOINT, model="m",
                   payload={**sample_payload(ENDPOINT), "mapping": {}}, mapping={})
    with pytest.raises(OutboxError, match="kind"):
        outbox.add(kind="email", endpoint=ENDPOINT, model="m", payload={}, mapping={})


def test_approve_decline_retry_and_wrong_states(db, clock):
    outbox = Outbox(db, clock)
    record = add(outbox, status="awaiting_approval")
    approved = outbox.approve(record.id)
    assert approved.status == "queued" and approved.next_attempt_at == to_datetime(clock())
    assert [r.id for r in outbox.due()] == [record.id]
    with pytest.raises(OutboxError, match="is queued"):
        outbox.approve(record.id)
    assert outbox.decline(record.id).status == "declined"
    assert outbox.due() == []
    with pytest.raises(OutboxError, match="needs it to be failed"):
        outbox.retry(record.id)
    with pytest.raises(OutboxError, match="no outbox entry 999"):
        outbox.approve(999)


def test_delete_removes_the_entry_and_its_mapping(db, clock):
    outbox = Outbox(db, clock)
    record = add(outbox)
    assert outbox.delete(record.id) and outbox.get(record.id) is None
    assert outbox.mapping(record.id) == {}
    assert not outbox.delete(record.id)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM outbox").scalar() == 0


def test_only_one_of_many_concurrent_claims_wins(hearth_home, clock):
    # Separate engines, as separate processes would have.
    dbs = [Database() for _ in range(6)]
    try:
        record = add(Outbox(dbs[0], clock))
        barrier = threading.Barrier(len(dbs))
        won = []

        def claim(db):
            barrier.wait()
            got = Outbox(db, clock).claim(record.id)
            if got is not None:
                won.append(got)

        threads = [threading.Thread(target=claim, args=(d,)) for d in dbs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1
        assert won[0].status == "sending" and won[0].attempts == 1
        assert Outbox(dbs[0], clock).claim(record.id) is None
    finally:
        for d in dbs:
            d.close()


def test_a_lost_lease_is_claimed_again_once_and_the_old_holder_cannot_store(db, clock):
    outbox = Outbox(db, clock)
    record = add(outbox)
    first = outbox.claim(record.id, lease_s=60)
    assert outbox.due() == []  # held
    clock.advance(59)
    assert outbox.claim(record.id) is None
    clock.advance(2)  # the holder died: its lease ran out
    assert [r.id for r in outbox.due()] == [record.id]
    second = outbox.claim(record.id, lease_s=60)
    assert second is not None and second.attempts == 2
    assert outbox.claim(record.id) is None
    assert outbox.mark_sent(first, "late reply") is None  # the old holder's reply is dropped
    sent = outbox.mark_sent(second, "the reply", "the restored reply")
    assert (sent.status, sent.response, sent.restored) == ("sent", "the reply", "the restored reply")
    assert outbox.mark_failed(second, "again") is None
    assert outbox.due() == []


def test_mark_failed_requeues_for_later_or_fails_for_good(db, clock):
    outbox = Outbox(db, clock)
    record = add(outbox)
    claimed = outbox.claim(record.id)
    later = to_datetime(clock() + 30)
    back = outbox.mark_failed(claimed, "HTTP 500", later)
    assert (back.status, back.next_attempt_at, back.last_error) == ("queued", later, "HTTP 500")
    assert outbox.due() == []
    clock.advance(31)
    claimed = outbox.claim(record.id)
    assert outbox.mark_failed(claimed, "gave up").status == "failed"
    retried = outbox.retry(record.id)
    assert (retried.status, retried.attempts) == ("queued", 0)


def test_the_reply_and_what_is_stored_with_it_commit_together(db, store, clock):
    from memory.tables import Message

    outbox = Outbox(db, clock)
    conv = store.create()
    record = add(outbox, conversation_id=conv.id)
    claimed = outbox.claim(record.id)

    def store_then_break(session, sent):
        session.add(Message(conversation_id=conv.id, role="assistant", content="x"))
        session.flush()
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        outbox.mark_sent(claimed, "reply", on_commit=store_then_break)
    assert store.messages(conv.id) == []  # rolled back together
    assert outbox.get(record.id).status == "sending"  # still claimable after its lease


def test_training_examples_keep_source_and_consent(db, clock):
    from sync.labels import TrainingExamples

    outbox = Outbox(db, clock)
    record = add(outbox)
    labels = TrainingExamples(db)
    yes = labels.add("summarizer", "Gift for <PERSON_1>?", "A scarf.", "cloud:big", True, record.id)
    labels.add("planner", "Count people in <FILE_1>", '{"steps": [], "tasks": []}',
               "user-correction", False)
    assert [e.id for e in labels.list()] == [yes.id]
    assert [e.role for e in labels.list(consented_only=False)] == ["summarizer", "planner"]
    assert labels.list(consented_only=False, role="planner")[0].source == "user-correction"
    with pytest.raises(ValueError, match="role"):
        labels.add("critic", "x", "y", "cloud:big", True)
    with pytest.raises(ValueError, match="needs an instruction"):
        labels.add("planner", " ", "y", "cloud:big", True)
    outbox.delete(record.id)  # the label outlives the log entry
    assert labels.list()[0].outbox_id is None
