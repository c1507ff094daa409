"""The cloud client against a real OpenAI-compatible server (`python -m llama_cpp.server` on
SmolLM2, through the openai client: no mock of the HTTP layer), and its clear errors against a
local server that misbehaves."""

import time

import pytest

from memory.settings import Settings
from sync.cloud import CloudClient, CloudError, check_base_url, host_of
from sync.service import CloudAssist
from tests.sync.conftest import free_port, sample_payload

pytestmark = pytest.mark.real_model


def test_the_real_server_lists_its_model_and_answers(cloud_server):
    client = CloudClient(cloud_server.base_url, cloud_server.model, None, timeout=120,
                         max_tokens=48)
    try:
        assert client.test_connection().startswith(f"Connected to {host_of(cloud_server.base_url)}")
        started = time.perf_counter()
        text = client.complete([{"role": "user", "content": "Name one fruit."}])
        seconds = time.perf_counter() - started
    finally:
        client.close()
    assert text.strip()
    print(f"\ncloud round-trip (smollm2, 48 tokens max): {seconds:.2f} s; "
          f"server start {cloud_server.started_s:.1f} s")


def test_an_unknown_model_name_is_reported(cloud_server):
    client = CloudClient(cloud_server.base_url, "gpt-9", None, timeout=30)
    assert "does not list the model 'gpt-9'" in client.test_connection()
    client.close()


def test_cloud_assist_sends_a_queued_entry_to_the_real_server(db, store, cloud_server):
    settings = Settings(cloud_enabled=True, cloud_base_url=cloud_server.base_url,
                        cloud_model=cloud_server.model, cloud_timeout_s=120, max_tokens=48)
    cloud = CloudAssist(db, lambda: settings)
    conv = store.create()
    record = cloud.outbox.add(kind="answer", endpoint=cloud_server.base_url,
                              model=cloud_server.model, payload=sample_payload(
                                  cloud_server.base_url, "Say hello to <PERSON_1>."),
                              mapping={"<PERSON_1>": "Maria Keller"}, status="queued",
                              conversation_id=conv.id)
    (sent,) = cloud.process_due()
    cloud.close()
    assert sent.status == "sent" and sent.response.strip()
    reply = store.messages(conv.id)[-1]
    assert reply.id == sent.reply_message_id and reply.model == "smollm2"
    assert reply.content == sent.restored
    assert reply.meta["cloud"] == {"outbox_id": record.id, "endpoint": cloud_server.base_url,
                                   "reply_to": None}


@pytest.mark.parametrize("mode, message, retryable", [
    ("500", "127.0.0.1:{port} failed with HTTP 500.", True),
    ("401", "127.0.0.1:{port} refused the API key (HTTP 401)", False),
    ("garbage", "127.0.0.1:{port} sent an empty or unreadable reply.", True),
    ("badjson", "127.0.0.1:{port} sent a reply Hearth could not read", True),
    ("sleep", "127.0.0.1:{port} did not answer within 0.3 s.", True),
])
def test_each_failure_has_a_clear_message(fault_server, mode, message, retryable):
    fault_server.mode = mode
    fault_server.sleep_s = 2
    client = CloudClient(fault_server.base_url, "fake", "k", timeout=0.3)
    with pytest.raises(CloudError) as excinfo:
        client.complete([{"role": "user", "content": "hi"}])
    client.close()
    assert message.format(port=fault_server.port) in str(excinfo.value)
    assert excinfo.value.retryable is retryable


def test_a_refused_connection_and_bad_urls():
    port = free_port()
    client = CloudClient(f"http://127.0.0.1:{port}/v1", "m", None, timeout=1)
    with pytest.raises(CloudError, match=f"Could not reach 127.0.0.1:{port}"):
        client.test_connection()
    client.close()
    for bad in ("127.0.0.1:8000", "ftp://x/v1", "http:///v1"):
        with pytest.raises(ValueError, match="http"):
            check_base_url(bad)
    with pytest.raises(ValueError, match="key field"):
        check_base_url("http://user:secret@127.0.0.1/v1")
