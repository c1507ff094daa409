"""The sync queue against a real local HTTP server that misbehaves: offline, timeout, HTTP 500,
garbage and a killed sender. Nothing blocks, nothing is lost, nothing is stored twice."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from memory.settings import Settings
from sync import queue
from sync.outbox import to_datetime
from sync.service import CloudAssist
from tests.sync.conftest import FaultServer, free_port, sample_payload


def cloud_for(db, url, clock, **overrides):
    settings = Settings(cloud_enabled=True, cloud_base_url=url, cloud_model="fake",
                        cloud_policy="ask", cloud_timeout_s=overrides.pop("timeout", 2.0),
                        **overrides)
    return CloudAssist(db, lambda: settings, clock=clock)


def queued(cloud, url, conversation_id=None):
    return cloud.outbox.add(kind="answer", endpoint=url, model="fake",
                            payload=sample_payload(url), mapping={"<PERSON_1>": "Maria Keller"},
                            status="queued", conversation_id=conversation_id)


def assistant_replies(store, conv_id):
    return [m for m in store.messages(conv_id) if m.role == "assistant"]


def test_offline_stays_queued_then_is_sent_later_with_backoff(db, store, clock):
    port = free_port()  # nothing listens here yet
    url = f"http://127.0.0.1:{port}/v1"
    cloud = cloud_for(db, url, clock)
    conv = store.create()
    record = queued(cloud, url, conv.id)

    (after,) = cloud.process_due()
    assert after.status == "queued" and after.attempts == 1
    assert "Could not reach 127.0.0.1" in after.last_error
    assert after.next_attempt_at == to_datetime(clock() + queue.BACKOFF_S)
    assert cloud.process_due() == []  # not due yet: nothing tried
    clock.advance(queue.BACKOFF_S + 1)
    (again,) = cloud.process_due()
    assert again.attempts == 2 and again.next_attempt_at == to_datetime(clock() + 2 * queue.BACKOFF_S)

    server = FaultServer(port, reply="<PERSON_1> would like a scarf.").start()
    try:
        clock.advance(2 * queue.BACKOFF_S + 1)
        (sent,) = cloud.process_due()
        assert sent.status == "sent" and sent.attempts == 3
        assert sent.restored == "Maria Keller would like a scarf."
        assert cloud.process_due() == []
        clock.advance(10_000)
        assert cloud.process_due() == []
        assert len(server.posts()) == 1  # sent once
    finally:
        server.stop()
        cloud.close()
    (reply,) = assistant_replies(store, conv.id)
    assert reply.content == "Maria Keller would like a scarf." and reply.model == "fake"
    assert reply.meta["cloud"]["outbox_id"] == record.id
    assert cloud.outbox.get(record.id).reply_message_id == reply.id


@pytest.mark.parametrize("mode, error", [
    ("500", "failed with HTTP 500"),
    ("garbage", "empty or unreadable reply"),
    ("badjson", "could not read"),
    ("sleep", "did not answer within 0.5 s"),
])
def test_each_fault_is_retried_and_then_sent_exactly_once(db, store, clock, fault_server, mode, error):
    fault_server.mode = mode
    fault_server.sleep_s = 3.0
    fault_server.reply = "Try a book for <PERSON_1>."
    cloud = cloud_for(db, fault_server.base_url, clock, timeout=0.5)
    conv = store.create()
    record = queued(cloud, fault_server.base_url, conv.id)
    started = time.perf_counter()
    (after,) = cloud.process_due()
    assert time.perf_counter() - started < 2.5  # a sleeping server costs the timeout, no more
    assert after.status == "queued" and error in after.last_error
    assert assistant_replies(store, conv.id) == []

    fault_server.mode = "ok"
    clock.advance(queue.BACKOFF_S + 1)
    (sent,) = cloud.process_due()
    assert sent.status == "sent" and sent.restored == "Try a book for Maria Keller."
    clock.advance(10_000)
    assert cloud.process_due() == []
    cloud.close()
    assert len(fault_server.posts()) == 2  # the failed try and the good one
    assert [m.content for m in assistant_replies(store, conv.id)] == ["Try a book for Maria Keller."]
    assert cloud.outbox.get(record.id).response == "Try a book for <PERSON_1>."


def test_six_failures_give_up_then_retry_requeues(db, clock, fault_server):
    fault_server.mode = "500"
    cloud = cloud_for(db, fault_server.base_url, clock)
    record = queued(cloud, fault_server.base_url)
    waits = []
    for attempt in range(1, queue.MAX_ATTEMPTS + 1):
        (after,) = cloud.process_due()
        assert after.attempts == attempt
        if after.status == "failed":
            break
        waits.append((after.next_attempt_at - to_datetime(clock())).total_seconds())
        clock.advance(waits[-1] + 1)
    assert after.status == "failed" and "Gave up after 6 attempts" in after.last_error
    assert waits == [30, 60, 120, 240, 480]
    clock.advance(100_000)
    assert cloud.process_due() == []  # failed stays failed
    fault_server.mode = "ok"
    cloud.retry(record.id)
    (sent,) = cloud.process_due()
    assert sent.status == "sent"
    cloud.close()


def test_a_rejected_key_fails_at_once_without_retries(db, clock, fault_server):
    fault_server.mode = "401"
    cloud = cloud_for(db, fault_server.base_url, clock)
    queued(cloud, fault_server.base_url)
    (after,) = cloud.process_due()
    assert after.status == "failed" and after.attempts == 1 and "401" in after.last_error
    cloud.close()


def test_entries_for_another_endpoint_wait_and_cloud_off_sends_nothing(db, clock, fault_server):
    cloud = cloud_for(db, fault_server.base_url, clock)
    other = queued(cloud, "http://127.0.0.1:1/v1")
    assert cloud.process_due() == []
    assert cloud.outbox.get(other.id).status == "queued"
    off = CloudAssist(db, lambda: Settings(cloud_enabled=False,
                                           cloud_base_url=fault_server.base_url,
                                           cloud_model="fake"), clock=clock)
    queued(off, fault_server.base_url)
    assert off.process_due() == []
    assert fault_server.requests == []
    cloud.close()


KILLED_SENDER = textwrap.dedent("""
    import sys
    from memory.db import Database
    from memory.settings import Settings
    from sync.service import CloudAssist

    url, entry_id = sys.argv[1], int(sys.argv[2])
    settings = Settings(cloud_enabled=True, cloud_base_url=url, cloud_model="fake",
                        cloud_timeout_s=60)
    cloud = CloudAssist(Database(), lambda: settings)
    print("sending", flush=True)
    cloud.process_due()   # the server holds the request; this process is killed meanwhile
""")


def test_a_sender_killed_mid_send_leaves_it_resendable_exactly_once(db, store, fault_server,
                                                                     hearth_home):
    fault_server.mode = "sleep"
    fault_server.sleep_s = 30
    cloud = cloud_for(db, fault_server.base_url, time.time)
    conv = store.create()
    record = queued(cloud, fault_server.base_url, conv.id)
    env = {**os.environ, "HEARTH_HOME": str(hearth_home),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SENDER, fault_server.base_url,
                             str(record.id)], env=env, cwd=os.getcwd(), stdout=subprocess.PIPE)
    try:
        assert fault_server.received.wait(60), "the sender never reached the server"
        assert cloud.outbox.get(record.id).status == "sending"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    held = cloud.outbox.get(record.id)
    assert held.status == "sending" and held.attempts == 1
    assert cloud.process_due() == []  # its lease still holds: not sent twice meanwhile

    fault_server.mode = "ok"
    fault_server.reply = "Flowers for <PERSON_1>."
    lease_over = cloud_for(db, fault_server.base_url, lambda: time.time() + 10_000)
    (sent,) = lease_over.process_due()
    assert sent.status == "sent" and sent.attempts == 2
    assert lease_over.process_due() == [] and cloud.process_due() == []
    assert [m.content for m in assistant_replies(store, conv.id)] == ["Flowers for Maria Keller."]
    assert len(fault_server.posts()) == 2  # the killed try and the one that stored the reply
    cloud.close()
    lease_over.close()
