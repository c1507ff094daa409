"""Cloud assist in the window, driven as a person would: the settings tab (the key goes to the
keyring, never the database), the status bar saying what can leave, the outbox window, the
preview before a send, and a cloud answer arriving in the chat. The cloud is a real
OpenAI-compatible server on loopback (llama_cpp.server on SmolLM2, or a recording stdlib
server where only "was anything sent" matters)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QMessageBox

from agent.events import CloudQueued
from app.cloud_preview import CloudPreviewDialog
from app.outbox_window import OutboxWindow
from app.settings_dialog import SettingsDialog
from memory.paths import user_dir
from memory.settings import Settings, load_settings, save_settings
from sync.cloud import host_of
from sync.service import OFFLINE_TEXT
from tests.fakes import scripted
# The cloud fixtures of tests/sync: a private in-memory keyring for every test (autouse), a
# recording fault server and the real llama_cpp.server cloud.
from tests.sync.conftest import (cloud_server, fault_server, free_port,  # noqa: F401
                                 memory_keyring, no_keyring, sample_payload, teacher_server)

pytestmark = pytest.mark.gui

SECRET = "sk-test-6f1d9c0e2b7a4c55"


def cloud_settings(base_url: str, model: str = "fake", **overrides) -> Settings:
    return Settings(**{"model": "smollm2-135m", "use_memory": False, "propose_memories": "off",
                       "max_tokens": 48, "temperature": 0.0, "cloud_enabled": True,
                       "cloud_base_url": base_url, "cloud_model": model, "cloud_policy": "ask",
                       "cloud_timeout_s": 120, **overrides})


def local_answer():
    return scripted(["The local answer."])


def add_entry(window, endpoint: str, status: str = "awaiting_approval", model: str = "fake",
              conversation_id: int | None = None, message_id: int | None = None,
              text: str = "What should I get <PERSON_1> for her birthday?"):
    return window.cloud.assist.outbox.add(
        kind="answer", endpoint=endpoint, model=model,
        payload=sample_payload(endpoint, text=text, model=model),
        mapping={"<PERSON_1>": "Maria Keller"}, status=status,
        conversation_id=conversation_id, message_id=message_id)


def database_bytes() -> bytes:
    return b"".join(p.read_bytes() for p in user_dir().glob("hearth.db*"))


# --- settings ---------------------------------------------------------------------------------

def test_cloud_settings_round_trip_and_the_key_goes_to_the_keyring_not_the_database(
        qtbot, db, memory_keyring):
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    tab = dialog.cloud_tab
    assert not tab.enabled.isChecked()  # off by default
    assert tab.api_key.echoMode() == tab.api_key.EchoMode.Password
    tab.enabled.setChecked(True)
    qtbot.keyClicks(tab.base_url, "http://127.0.0.1:8123/v1/")
    qtbot.keyClicks(tab.model, "teacher-7b")
    qtbot.keyClicks(tab.api_key, SECRET)
    tab.policy.setCurrentIndex(tab.policy.findData("fallback"))
    tab.consent.setChecked(True)
    dialog.accept()
    assert dialog.result() == dialog.DialogCode.Accepted

    settings = dialog.result_settings()
    assert (settings.cloud_enabled, settings.cloud_base_url, settings.cloud_model,
            settings.cloud_policy, settings.cloud_training_consent) == (
        True, "http://127.0.0.1:8123/v1", "teacher-7b", "fallback", True)
    assert memory_keyring.data == {("hearth-cloud", "http://127.0.0.1:8123/v1"): SECRET}
    save_settings(db, settings)
    assert load_settings(db) == settings
    assert SECRET not in settings.model_dump_json()
    assert SECRET.encode() not in database_bytes()
    assert not (user_dir() / "cloud-keys.json").exists()

    again = SettingsDialog(load_settings(db))
    qtbot.addWidget(again)
    assert again.cloud_tab.api_key.text() == ""  # the stored key is never shown back
    assert again.cloud_tab.key_place.text() == "Key stored in the system keyring."
    assert again.cloud_tab.base_url.text() == "http://127.0.0.1:8123/v1"
    assert again.cloud_tab.policy.currentData() == "fallback"
    qtbot.mouseClick(again.cloud_tab.forget_key, Qt.MouseButton.LeftButton)
    assert memory_keyring.data == {}
    assert again.cloud_tab.key_place.text().startswith("No key stored for this endpoint")


def test_without_a_keyring_the_key_goes_to_a_private_file(qtbot, db, no_keyring):
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    tab = dialog.cloud_tab
    tab.base_url.setText("http://127.0.0.1:8123/v1")
    tab.api_key.setText(SECRET)
    dialog.accept()
    assert dialog.result() == dialog.DialogCode.Accepted
    path = user_dir() / "cloud-keys.json"
    assert json.loads(path.read_text()) == {"http://127.0.0.1:8123/v1": SECRET}
    assert path.stat().st_mode & 0o777 == 0o600
    assert tab.key_place.text() == "Key stored in a private file (no keyring on this system)."
    save_settings(db, dialog.result_settings())
    assert SECRET.encode() not in database_bytes()


def test_a_bad_endpoint_keeps_the_dialog_open_and_loses_nothing(qtbot, memory_keyring):
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    tab = dialog.cloud_tab
    tab.enabled.setChecked(True)
    tab.base_url.setText("127.0.0.1:8123")  # no scheme
    tab.model.setText("m")
    tab.api_key.setText(SECRET)
    dialog.tabs.setCurrentIndex(0)
    dialog.accept()
    assert dialog.result() != dialog.DialogCode.Accepted
    assert "http(s) URL" in tab.error.text()
    assert dialog.tabs.currentWidget() is tab
    assert tab.api_key.text() == SECRET and memory_keyring.data == {}

    tab.base_url.setText("http://127.0.0.1:8123/v1")
    tab.model.clear()
    dialog.accept()
    assert "Name the model" in tab.error.text() and memory_keyring.data == {}


# --- the status bar ---------------------------------------------------------------------------

def test_the_status_label_says_what_can_leave_and_follows_the_setting(qtbot, open_window):
    window = open_window(local_answer(), settings=Settings(use_memory=False))
    label = window.privacy_label
    assert label.text() == OFFLINE_TEXT == "Offline — local only" and label.isVisible()
    assert "Nothing" in label.toolTip()

    port = free_port()
    window.apply_settings(cloud_settings(f"http://127.0.0.1:{port}/v1"))
    assert label.text() == f"Cloud assist on: 127.0.0.1:{port}" and label.isVisible()
    assert f"http://127.0.0.1:{port}/v1" in label.toolTip()

    window.show_notice("a long notice " * 20)
    assert label.isVisible() and label.text().startswith("Cloud assist on")

    window.apply_settings(window.settings.model_copy(update={"cloud_policy": "never"}))
    assert label.text() == OFFLINE_TEXT
    window.apply_settings(window.settings.model_copy(update={"cloud_policy": "ask",
                                                             "cloud_enabled": False}))
    assert label.text() == OFFLINE_TEXT
    assert load_settings(window.db).cloud_enabled is False


# --- the outbox window ------------------------------------------------------------------------

def test_the_outbox_window_lists_shows_approves_declines_and_deletes(
        qtbot, open_window, cloud_server, monkeypatch):
    window = open_window(local_answer(), settings=cloud_settings(cloud_server.base_url, cloud_server.model))
    conv = window.store.create()
    window.store.add_message(conv.id, "user", "what should I get Maria Keller?")
    local = window.store.add_message(conv.id, "assistant", "A book.", model="smollm2-135m")
    first = add_entry(window, cloud_server.base_url, model=cloud_server.model,
                      conversation_id=conv.id, message_id=local.id)
    second = add_entry(window, cloud_server.base_url, model=cloud_server.model,
                       text="A second question")
    third = add_entry(window, cloud_server.base_url, model=cloud_server.model, text="A third")

    outbox = OutboxWindow(window.cloud, window)
    qtbot.addWidget(outbox)
    assert outbox.model.rowCount() == 3
    assert [outbox.model.index(r, 3).data() for r in range(3)] == ["awaiting your approval"] * 3
    assert outbox.model.index(0, 1).data() == f"{host_of(cloud_server.base_url)} · {cloud_server.model}"
    assert not outbox.buttons["send"].isEnabled()  # nothing selected

    assert outbox.select(first.id)
    shown = json.loads(outbox.payload_view.toPlainText())
    assert shown == first.payload  # exactly what is sent
    assert "Maria" not in outbox.payload_view.toPlainText()  # the mapping never shows as sent
    assert outbox.buttons["send"].isEnabled() and not outbox.buttons["retry"].isEnabled()

    qtbot.mouseClick(outbox.buttons["send"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.cloud.assist.outbox.get(first.id).status == "sent",
                    timeout=120_000)
    qtbot.waitUntil(lambda: outbox.selected() is not None and outbox.selected().status == "sent",
                    timeout=5000)  # the window refreshed itself when the pass finished
    sent = window.cloud.assist.outbox.get(first.id)
    assert sent.response.strip() and outbox.response_view.toPlainText() == sent.response
    assert outbox.restored_view.toPlainText() == sent.restored
    assert window.cloud.assist.outbox.get(second.id).status == "awaiting_approval"  # not sent

    assert outbox.select(second.id)
    qtbot.mouseClick(outbox.buttons["decline"], Qt.MouseButton.LeftButton)
    assert window.cloud.assist.outbox.get(second.id).status == "declined"
    assert "not sent" in outbox.model.index(outbox.table.currentIndex().row(), 3).data()

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    assert outbox.select(third.id)
    qtbot.mouseClick(outbox.buttons["delete"], Qt.MouseButton.LeftButton)
    assert window.cloud.assist.outbox.get(third.id) is None
    assert outbox.model.rowCount() == 2 and "deleted" in outbox.status.text()

    # The reply is its own message in the conversation, saying which model wrote it.
    window.open_conversation(conv.id)
    text = window.chat.toPlainText()
    assert f"Hearth · cloud: {cloud_server.model}" in text and "Hearth · smollm2-135m" in text


def test_a_failed_entry_can_be_retried_from_the_outbox(qtbot, open_window, fault_server):
    fault_server.mode = "401"  # not retryable: fails at once
    window = open_window(local_answer(), settings=cloud_settings(fault_server.base_url))
    entry = add_entry(window, fault_server.base_url, status="queued")
    window.cloud.kick()
    qtbot.waitUntil(lambda: window.cloud.assist.outbox.get(entry.id).status == "failed",
                    timeout=10_000)
    qtbot.waitUntil(lambda: "refused the API key" in window.notice_label.text(), timeout=5000)
    outbox = OutboxWindow(window.cloud, window)
    qtbot.addWidget(outbox)
    assert outbox.select(entry.id)
    assert "HTTP 401" in outbox.detail_label.text()
    assert outbox.buttons["retry"].isEnabled() and not outbox.buttons["send"].isEnabled()
    fault_server.mode = "ok"
    qtbot.mouseClick(outbox.buttons["retry"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.cloud.assist.outbox.get(entry.id).status == "sent",
                    timeout=10_000)
    assert len(fault_server.posts()) == 2


# --- the preview before a send ----------------------------------------------------------------

def test_a_preview_appears_after_the_answer_and_dont_send_sends_nothing(
        qtbot, open_window, fault_server):
    """The whole path: the local answer, CloudAssist.consult (the real anonymizer and payload
    builder), the preview, "Don't send"; the endpoint records every request it gets."""
    window = open_window(local_answer(), settings=cloud_settings(fault_server.base_url))
    qtbot.keyClicks(window.input, "What should I get Maria Keller (+44 20 7946 0958) for her "
                                  "birthday?")
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window._preview is not None, timeout=120_000)
    preview = window._preview
    assert isinstance(preview, CloudPreviewDialog) and preview.isVisible()
    assert "The local answer." in window.chat.toPlainText()  # the local answer came first
    sent_text = preview.payload_view.toPlainText()
    assert json.loads(sent_text) == preview.record.payload
    assert "Maria" not in sent_text and "7946" not in sent_text and "birthday" in sent_text
    readable = preview.readable_view.toPlainText()
    assert "── user ──" in readable and "Maria" not in readable
    assert host_of(fault_server.base_url) in preview.findChild(QLabel, "previewIntro").text()

    qtbot.mouseClick(preview.dont_send_button, Qt.MouseButton.LeftButton)
    assert window._preview is None
    record = window.cloud.assist.outbox.get(preview.record.id)
    assert record.status == "declined"
    window.cloud.kick()
    window.cloud.wait_idle()
    time.sleep(0.2)
    assert fault_server.requests == []  # nothing reached the endpoint, not even a model list
    assert window.cloud.assist.outbox.get(record.id).status == "declined"
    assert "Not sent" in window.notice_label.text()


def test_send_in_the_preview_brings_the_cloud_answer_into_the_chat(
        qtbot, open_window, cloud_server):
    window = open_window(local_answer(), settings=cloud_settings(cloud_server.base_url, cloud_server.model))
    conv = window.store.create()
    window.open_conversation(conv.id)
    window.store.add_message(conv.id, "user", "Name a fruit.")
    local = window.store.add_message(conv.id, "assistant", "An apple.", model="smollm2-135m")
    entry = add_entry(window, cloud_server.base_url, model=cloud_server.model,
                      conversation_id=conv.id, message_id=local.id, text="Name a fruit.")
    window.queue.event.emit(0, CloudQueued(entry))  # as the assistant does after its answer
    qtbot.waitUntil(lambda: window._preview is not None, timeout=5000)
    qtbot.mouseClick(window._preview.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: f"Hearth · cloud: {cloud_server.model}" in window.chat.toPlainText(),
                    timeout=120_000)
    messages = window.store.messages(conv.id)
    assert [m.role for m in messages] == ["user", "assistant", "assistant"]
    reply = messages[-1]
    assert reply.model == cloud_server.model and reply.meta["cloud"]["outbox_id"] == entry.id
    assert reply.content.strip() and reply.content.strip()[:20] in window.chat.toPlainText()
    assert f"outbox #{entry.id}" in window.chat.toPlainText()


@pytest.mark.real_model
def test_the_done_when_flow_in_the_window(qtbot, open_window, teacher_server):
    """Type a question with a name and a phone number; the preview shows neither; Send; the
    cloud's answer (Qwen2.5-Coder 0.5B, which writes the placeholder back) appears in the chat
    with the real name restored, and the outbox shows the anonymized payload."""
    window = open_window(local_answer(), settings=cloud_settings(teacher_server.base_url, teacher_server.model,
                                        cloud_training_consent=True))
    qtbot.keyClicks(window.input, "Write a one-line birthday card for Maria Keller "
                                  "(+44 20 7946 0958), who loves gardening.")
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window._preview is not None, timeout=120_000)
    record = window._preview.record
    assert "Maria" not in window._preview.payload_view.toPlainText()
    started = time.perf_counter()
    qtbot.mouseClick(window._preview.send_button, Qt.MouseButton.LeftButton)
    header = f"Hearth · cloud: {teacher_server.model}"
    qtbot.waitUntil(lambda: header in window.chat.toPlainText(), timeout=240_000)
    print(f"\ncloud answer in the window {time.perf_counter() - started:.1f} s after Send")
    sent = window.cloud.assist.outbox.get(record.id)
    person = next(p for p, original in window.cloud.assist.outbox.mapping(record.id).items()
                  if original == "Maria Keller")
    assert person in sent.response, f"the cloud did not use the placeholder: {sent.response!r}"
    cloud_part = window.chat.toPlainText().split(header, 1)[1]
    assert "Maria Keller" in cloud_part and person not in cloud_part
    outbox = OutboxWindow(window.cloud, window)
    qtbot.addWidget(outbox)
    assert outbox.select(record.id)
    assert person in outbox.payload_view.toPlainText()
    assert "Maria" not in outbox.payload_view.toPlainText()
    assert "Maria Keller" in outbox.restored_view.toPlainText()


def test_closing_the_preview_decides_nothing(qtbot, open_window, fault_server):
    window = open_window(local_answer(), settings=cloud_settings(fault_server.base_url))
    first = add_entry(window, fault_server.base_url)
    second = add_entry(window, fault_server.base_url, text="another")
    window.queue.event.emit(0, CloudQueued(first))
    window.queue.event.emit(0, CloudQueued(second))
    qtbot.waitUntil(lambda: window._preview is not None, timeout=5000)
    assert window._preview.record.id == first.id  # one at a time
    window._preview.reject()  # Esc
    qtbot.waitUntil(lambda: window._preview is not None and
                    window._preview.record.id == second.id, timeout=5000)
    assert window.cloud.assist.outbox.get(first.id).status == "awaiting_approval"
    qtbot.mouseClick(window._preview.dont_send_button, Qt.MouseButton.LeftButton)
    window.cloud.kick()
    window.cloud.wait_idle()
    assert fault_server.requests == []


def test_closing_the_window_during_a_slow_send_does_not_hang_or_lose_the_entry(
        qtbot, open_window, fault_server):
    fault_server.mode, fault_server.sleep_s = "sleep", 20.0
    window = open_window(local_answer(), settings=cloud_settings(fault_server.base_url))
    entry = add_entry(window, fault_server.base_url, status="queued")
    window.cloud.kick()
    assert fault_server.received.wait(10)  # the send is under way, waiting for the reply
    started = time.perf_counter()
    window.close()
    closed_s = time.perf_counter() - started
    print(f"\nwindow closed in {closed_s:.2f} s with a send waiting on a silent endpoint")
    assert closed_s < 3.0
    after = window.cloud.assist.outbox.get(entry.id)
    assert after.status == "sending" and after.attempts == 1  # its lease runs out, then it goes again


# --- test connection, off the UI thread -------------------------------------------------------

class SlowModelsServer:
    """An OpenAI-compatible model list that takes `delay_s` to answer."""

    def __init__(self, delay_s: float):
        delay = delay_s

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                time.sleep(delay)
                body = json.dumps({"object": "list", "data": [
                    {"id": "slow-model", "object": "model", "created": 0,
                     "owned_by": "me"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_test_connection_never_blocks_the_window(qtbot, open_window):
    slow = SlowModelsServer(delay_s=2.5)
    try:
        window = open_window(local_answer(), settings=Settings(use_memory=False))  # cloud assist still off
        dialog = SettingsDialog(window.settings, window, cloud=window.cloud)
        qtbot.addWidget(dialog)
        tab = dialog.cloud_tab
        tab.base_url.setText(slow.base_url)
        tab.model.setText("slow-model")
        ticks = []
        timer = QTimer(interval=50)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        timer.start()
        started = time.perf_counter()
        qtbot.mouseClick(tab.test_button, Qt.MouseButton.LeftButton)
        assert time.perf_counter() - started < 0.5
        assert tab.test_result.text().startswith("Testing") and not tab.test_button.isEnabled()
        qtbot.waitUntil(lambda: "Connected" in tab.test_result.text(), timeout=15_000)
        timer.stop()
        elapsed = time.perf_counter() - started
        assert elapsed >= 2.4
        # The event loop kept running throughout (a blocked one would show a 2.5 s gap); the
        # bounds leave room for a busy shared machine.
        assert len(ticks) >= 0.4 * elapsed / 0.05
        assert max(b - a for a, b in zip(ticks, ticks[1:])) < 1.0
        assert tab.test_result.text() == f"Connected to {host_of(slow.base_url)}: 1 model(s) available."
        assert tab.test_button.isEnabled()
        assert window.privacy_label.text() == OFFLINE_TEXT  # testing turned nothing on
    finally:
        slow.stop()


def test_test_connection_shows_a_clear_error(qtbot, open_window):
    window = open_window(local_answer(), settings=Settings(use_memory=False))
    dialog = SettingsDialog(window.settings, window, cloud=window.cloud)
    qtbot.addWidget(dialog)
    port = free_port()  # nothing listens there
    dialog.cloud_tab.base_url.setText(f"http://127.0.0.1:{port}/v1")
    dialog.cloud_tab.model.setText("m")
    qtbot.mouseClick(dialog.cloud_tab.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Could not reach" in dialog.cloud_tab.test_result.text(),
                    timeout=15_000)
    assert f"127.0.0.1:{port}" in dialog.cloud_tab.test_result.text()
