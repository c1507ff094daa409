"""Cloud assist off means nothing leaves: with an endpoint configured (and listening on
loopback, where the test-wide guard would let a connection through), a whole run of chats,
experts and memory opens no socket to it, builds no openai client and prepares nothing."""

import socket
import threading

import pytest

from agent.assistant import Assistant
from agent.events import AnswerFinished, CloudQueued, PlanReady
from experts.registry import ExpertRegistry
from experts.runner import ExpertRunner
from memory.settings import Settings
from sync.service import OFFLINE_TEXT, CloudAssist
from tests.fakes import ScriptedLLM, fake_expert_classes
from tests.sync.conftest import sample_payload

pytestmark = pytest.mark.real_model  # real memory: the MiniLM embedder and Chroma


class Listener:
    """A TCP port on loopback that counts who connects."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self.sock.close()


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.close()


@pytest.fixture
def connections(monkeypatch):
    """Every address any socket in this process tries to reach during the test."""
    seen = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self, address):
        seen.append(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        seen.append(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return seen


@pytest.fixture
def openai_clients(monkeypatch):
    import openai

    built = []
    real = openai.OpenAI

    class CountingOpenAI(real):
        def __init__(self, *args, **kwargs):
            built.append(kwargs.get("base_url"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(openai, "OpenAI", CountingOpenAI)
    return built


PLAN = ('{"steps": ["Transcribe memo.wav", "Look at bus.jpg", "Search memory"], "tasks": ['
        '{"task": "speech-to-text", "id": 0, "dep": [-1], "args": {"audio": "memo.wav"}}, '
        '{"task": "object-detection", "id": 1, "dep": [-1], "args": {"image": "bus.jpg"}}, '
        '{"task": "memory-search", "id": 2, "dep": [-1], "args": {"text": "birthday"}}]}')


@pytest.mark.parametrize("off", [
    {"cloud_enabled": False, "cloud_policy": "fallback"},
    {"cloud_enabled": False, "cloud_policy": "ask"},
    {"cloud_enabled": True, "cloud_policy": "never"},
])
def test_with_cloud_off_nothing_reaches_the_configured_endpoint(store, tmp_path, listener,
                                                                connections, openai_clients, off):
    url = f"http://127.0.0.1:{listener.port}/v1"
    settings = Settings(cloud_base_url=url, cloud_model="big-model", propose_memories="off", **off)
    cloud = CloudAssist(store.db, lambda: settings)
    # An entry queued back when cloud assist was on must stay put now.
    left = cloud.outbox.add(kind="answer", endpoint=url, model="big-model",
                            payload=sample_payload(url), mapping={}, status="queued")
    llm = ScriptedLLM([PLAN, "You said to buy milk; 4 people; her birthday is in May.",
                       "Hello!", "Sure."])
    holder = []
    runner = ExpertRunner(ExpertRegistry(store.db, classes=fake_expert_classes(),
                                         memory=lambda: holder[0].memory))
    assistant = Assistant(store, settings, llm_factory=lambda _s: llm, experts=runner,
                          cloud=cloud)
    holder.append(assistant)
    memo, bus = tmp_path / "memo.wav", tmp_path / "bus.jpg"
    memo.write_bytes(b"buy milk, and ask the cloud about it")
    bus.write_bytes(b"not really a jpeg")
    try:
        assistant.memory.remember("Maria's birthday is in May.", kind="event")
        conv = store.create()
        events = list(assistant.respond(conv.id, "Ask the cloud: what did I say, what is in the "
                                        "photo, and when is Maria's birthday?",
                                        attachments=[memo, bus], ask_cloud=True))
        (ready,) = [e for e in events if isinstance(e, PlanReady)]
        assert ready.trace["source"] == "model"
        finished = [e.task for e in events if type(e).__name__ == "TaskFinished"]
        assert [t["status"] for t in finished] == ["done"] * 3  # experts and memory really ran
        assert any(isinstance(e, AnswerFinished) for e in events)
        events += list(assistant.respond(conv.id, "hello"))
        events += list(assistant.respond(store.create().id, "remember that I like tea"))
        assert not any(isinstance(e, CloudQueued) for e in events)
        assert cloud.process_due() == []
        assert cloud.status_text() == OFFLINE_TEXT and not cloud.enabled
        with pytest.raises(Exception, match="Cloud assist is off"):
            cloud.client()
    finally:
        assistant.close()
        cloud.close()
    assert [r.id for r in cloud.outbox.list()] == [left.id]
    assert cloud.outbox.get(left.id).status == "queued" and cloud.outbox.get(left.id).attempts == 0
    assert cloud._anonymizer is None  # nothing was even prepared
    assert openai_clients == []
    assert not [a for a in connections if isinstance(a, tuple) and a[1] == listener.port]
    assert listener.accepted == 0


def test_the_status_says_where_things_can_go_when_on(store):
    settings = Settings(cloud_enabled=True, cloud_base_url="http://127.0.0.1:8123/v1",
                        cloud_model="m", cloud_policy="fallback")
    cloud = CloudAssist(store.db, lambda: settings)
    assert cloud.enabled and cloud.status_text() == "Cloud assist on: 127.0.0.1:8123"
    settings.cloud_model = ""  # no model: nothing can be sent
    assert cloud.status_text() == OFFLINE_TEXT


def test_warm_up_loads_nothing_while_off(store):
    cloud = CloudAssist(store.db, lambda: Settings(cloud_base_url="http://127.0.0.1:9/v1",
                                                   cloud_model="m"))
    cloud.warm_up()
    assert cloud._anonymizer is None
