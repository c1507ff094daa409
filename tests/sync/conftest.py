"""Cloud-assist test fixtures: a private in-memory keyring for every test (never the
developer's real one), a tiny stdlib HTTP server that misbehaves on request (500, garbage,
sleeping, 401), and a real OpenAI-compatible cloud (`python -m llama_cpp.server` on SmolLM2)."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sync.local_server import free_port  # noqa: F401  (the tests import it from here)


# --- the keyring ----------------------------------------------------------------------------

def _memory_keyring_class():
    from keyring.backend import KeyringBackend
    from keyring.errors import PasswordDeleteError

    class MemoryKeyring(KeyringBackend):
        """A keyring that lives in this test only."""
        priority = 1

        def __init__(self):
            super().__init__()
            self.data: dict[tuple[str, str], str] = {}

        def get_password(self, service, username):
            return self.data.get((service, username))

        def set_password(self, service, username, password):
            self.data[(service, username)] = password

        def delete_password(self, service, username):
            if self.data.pop((service, username), None) is None:
                raise PasswordDeleteError("not set")

    return MemoryKeyring


@pytest.fixture(autouse=True)
def memory_keyring():
    import keyring

    previous = keyring.get_keyring()
    backend = _memory_keyring_class()()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring():
    """A machine without a usable keyring: keyring's own fail backend."""
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    yield


# --- a misbehaving endpoint ------------------------------------------------------------------

def completion_stream(text: str, model: str = "fake") -> bytes:
    """A chat completion as an OpenAI server streams it (server-sent events)."""
    chunks = [{"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
               "choices": [{"index": 0, "delta": {"role": "assistant", "content": word},
                            "finish_reason": None}]}
              for word in _pieces(text)]
    chunks.append({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
                   "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return body.encode()


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


@dataclass
class FaultServer:
    """mode: ok | 500 | garbage | badjson | sleep | 401. Records every request it got."""
    port: int
    mode: str = "ok"
    reply: str = "A scarf would be lovely."
    sleep_s: float = 5.0
    requests: list[dict] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def posts(self) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST"]

    def start(self) -> "FaultServer":
        fault = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _record(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault.requests.append({"method": method, "path": self.path,
                                       "headers": {k.lower(): v for k, v in self.headers.items()},
                                       "body": json.loads(body) if body else None})
                fault.received.set()

            def _send(self, code, body: bytes, ctype="application/json"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._record("GET")
                if fault.mode == "401":
                    return self._send(401, b'{"error": {"message": "bad key"}}')
                self._send(200, json.dumps({"object": "list", "data": [
                    {"id": "fake", "object": "model", "created": 0, "owned_by": "me"}]}).encode())

            def do_POST(self):
                self._record("POST")
                mode = fault.mode
                if mode == "sleep":
                    time.sleep(fault.sleep_s)
                    return self._send(200, completion_stream(fault.reply), "text/event-stream")
                if mode == "500":
                    return self._send(500, b'{"error": {"message": "internal error"}}')
                if mode == "401":
                    return self._send(401, b'{"error": {"message": "bad key"}}')
                if mode == "garbage":
                    return self._send(200, b"<html>Bad gateway, try later</html>", "text/html")
                if mode == "badjson":
                    return self._send(200, b"data: {this is not json\n\n", "text/event-stream")
                self._send(200, completion_stream(fault.reply), "text/event-stream")

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # the client gave up on a sleeping reply (a timeout test): expected

        self.server = QuietServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def fault_server():
    server = FaultServer(free_port()).start()
    yield server
    server.stop()


# --- a real cloud ----------------------------------------------------------------------------

def _serve(model_path, alias: str, log_path):
    """llama_cpp.server on a free loopback port (sync.local_server); always stopped after."""
    from sync.local_server import serve

    with serve(model_path, alias, log_path) as server:
        yield server


@pytest.fixture(scope="session")
def cloud_server(smollm2_path, tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server on SmolLM2 (fast), for the whole session."""
    yield from _serve(smollm2_path, "smollm2", tmp_path_factory.mktemp("cloud") / "server.log")


@pytest.fixture
def teacher_server(tmp_path_factory, shared_models_dir):
    """The same server on Qwen2.5-Coder 0.5B, for tests that need the cloud to write the
    placeholders back (<PERSON_1>): SmolLM2-135M never does (0 of 8 prompts tried), so the
    restored name could not be shown with it. A new server for each test: whether the model
    writes the placeholder depends on its exact text, and a shared server's KV reuse from an
    earlier test's request changes that text (llama.cpp's warm path differs numerically)."""
    from agent.model_registry import get_model

    # Session fixtures start before the per-test HEARTH_MODELS_DIR: the joined file goes to
    # the test run's shared folder, not the user's data folder.
    before = os.environ.get("HEARTH_MODELS_DIR")
    os.environ["HEARTH_MODELS_DIR"] = str(shared_models_dir)
    try:
        path = get_model("qwen2.5-coder-0.5b").resolve()
    finally:
        if before is None:
            os.environ.pop("HEARTH_MODELS_DIR", None)
        else:
            os.environ["HEARTH_MODELS_DIR"] = before
    yield from _serve(path, "qwen2.5-coder-0.5b",
                      tmp_path_factory.mktemp("teacher") / "server.log")


# --- the outbox ------------------------------------------------------------------------------

class Clock:
    """A clock the test moves by hand (epoch seconds)."""

    def __init__(self, start: float | None = None):
        self.now = start if start is not None else time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


def sample_payload(endpoint: str, text: str = "What should I get <PERSON_1> for her birthday?",
                   model: str = "fake") -> dict:
    return {"schema": "hearth.cloud/1", "kind": "answer", "endpoint": endpoint, "model": model,
            "messages": [{"role": "system", "content": "You help. Keep placeholders."},
                         {"role": "user", "content": text}],
            "created": "2026-12-01T00:00:00Z"}
