"""`hearth cloud …`, `hearth outbox …` and `hearth ask --cloud` in-process, with the local
SmolLM2 and the real llama_cpp.server cloud."""

import io
import json

import pytest

from app.cli import main

pytestmark = pytest.mark.real_model

QUESTION = "ask the cloud: what should I get Maria Keller (+44 20 7946 0958) for her birthday?"


def run(capsys, *argv, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def enabled(capsys, teacher_server):
    """Cloud assist on, the cloud being Qwen 0.5B (it writes the placeholders back)."""
    cloud_server = teacher_server
    code, out, _ = run(capsys, "cloud", "enable", "--endpoint", cloud_server.base_url,
                       "--model", cloud_server.model, "--policy", "ask", "--timeout", "120",
                       "--training-consent", "yes")
    assert code == 0 and out.startswith("Cloud assist on: 127.0.0.1:")
    return cloud_server


def test_cloud_status_enable_test_keys_disable(capsys, monkeypatch, cloud_server, memory_keyring):
    code, out, _ = run(capsys, "cloud", "status")
    assert code == 0 and out.startswith("Offline — local only") and "outbox: empty" in out
    code, _, err = run(capsys, "ask", "--cloud", "hello")
    assert code == 2 and "Offline — local only" in err and "hearth cloud enable" in err

    run(capsys, "cloud", "enable", "--endpoint", cloud_server.base_url, "--model", "smollm2")
    code, out, _ = run(capsys, "cloud", "test")
    assert code == 0 and out.startswith("Connected to 127.0.0.1:")
    code, out, _ = run(capsys, "cloud", "set-key", stdin="sk-cli-secret\n", monkeypatch=monkeypatch)
    assert code == 0 and "sk-cli-secret" not in out
    assert memory_keyring.data == {("hearth-cloud", cloud_server.base_url): "sk-cli-secret"}
    code, out, _ = run(capsys, "cloud", "status")
    assert "API key: set" in out and "sk-cli-secret" not in out and "policy ask" in out
    assert run(capsys, "cloud", "forget-key")[0] == 0 and memory_keyring.data == {}
    assert run(capsys, "cloud", "forget-key")[0] == 1
    code, out, _ = run(capsys, "cloud", "disable")
    assert out.strip() == "Offline — local only"
    code, _, err = run(capsys, "cloud", "enable", "--endpoint", "localhost:8000", "--model", "m")
    assert code == 1 and "http(s) URL" in err


def test_ask_cloud_yes_json_then_the_outbox(capsys, enabled):
    code, out, err = run(capsys, "ask", "--model", "smollm2-135m", "--max-tokens", "48",
                         "--cloud", "--yes", "--json", QUESTION)
    assert code == 0, err
    result = json.loads(out)
    entry = result["outbox"]
    assert result["answer"] and entry["status"] == "sent" and entry["kind"] == "answer"
    sent = json.dumps(entry["payload"])
    assert "Maria" not in sent and "7946" not in sent
    assert entry["reply_message_id"] and "<PERSON_1>" in entry["response"]
    assert "Maria Keller" in entry["restored"]
    assert "To http://127.0.0.1:" in err  # the payload was shown before it went

    code, out, _ = run(capsys, "outbox")
    assert code == 0 and f"#{entry['id']}" in out and "sent" in out and "to 127.0.0.1:" in out
    code, out, _ = run(capsys, "outbox", "show", str(entry["id"]))
    shown = json.loads(out)
    assert shown["payload"] == entry["payload"] and "mapping" not in shown
    code, out, _ = run(capsys, "outbox", "delete", str(entry["id"]))
    assert code == 0 and run(capsys, "outbox")[1].startswith("The outbox is empty")
    code, _, err = run(capsys, "outbox", "show", str(entry["id"]))
    assert code == 1 and f"no outbox entry {entry['id']}" in err


def test_without_a_tty_the_entry_waits_for_approve(capsys, enabled):
    code, out, err = run(capsys, "ask", "--model", "smollm2-135m", "--max-tokens", "16",
                         "--cloud", "Ask the cloud: name a colour")
    assert code == 0 and "awaits your approval: hearth outbox approve" in err
    (line,) = run(capsys, "outbox", "list")[1].splitlines()
    entry_id = int(line.split()[0].lstrip("#"))
    assert "awaiting approval" in line
    code, out, err = run(capsys, "outbox", "approve", str(entry_id))
    assert code == 0, err
    first, *answer = out.splitlines()
    assert first.startswith(f"#{entry_id}") and "sent" in first and "".join(answer).strip()
    code, _, err = run(capsys, "outbox", "approve", str(entry_id))
    assert code == 1 and "is sent" in err
    assert run(capsys, "outbox", "send")[1].strip() == "Nothing is due."
