"""The real window, driven as a person would: type, send, watch tokens stream, stop, restart."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox

from agent.llm import ModelLoadError
from app.main_window import PRIVACY_LABEL
from memory.settings import Settings, load_settings
from tests.fakes import scripted

pytestmark = pytest.mark.gui

STORY = " ".join(f"word{i}" for i in range(40))


def type_and_enter(qtbot, window, text):
    qtbot.keyClicks(window.input, text)
    qtbot.keyClick(window.input, Qt.Key.Key_Return)


def chat_text(window):
    return window.chat.toPlainText()


def test_enter_sends_and_the_answer_appears(qtbot, open_window):
    window = open_window(scripted(["Hello there, friend."]))
    assert window.privacy_label.text() == PRIVACY_LABEL and window.privacy_label.isVisible()
    type_and_enter(qtbot, window, "hi")
    qtbot.waitUntil(lambda: "Hello there, friend." in chat_text(window), timeout=5000)
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=5000)
    assert window.input.toPlainText() == ""
    assert window.conversations.rowCount() == 1
    assert window.conversations.index(0, 0).data() == "hi"
    assert "tok/s" in window.speed_label.text()


def test_shift_enter_is_a_new_line_not_a_send(qtbot, open_window):
    window = open_window(scripted(["unused"]))
    qtbot.keyClicks(window.input, "line one")
    qtbot.keyClick(window.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(window.input, "line two")
    assert window.input.toPlainText() == "line one\nline two"
    assert window.conversations.rowCount() == 0


def test_tokens_stream_in_and_stop_keeps_the_partial_answer(qtbot, open_window):
    window = open_window(scripted([STORY], delay_s=0.05))
    type_and_enter(qtbot, window, "tell me a story")
    qtbot.waitUntil(lambda: "word3" in chat_text(window), timeout=5000)
    assert "word39" not in chat_text(window)  # seen mid-stream, not all at once
    assert window.stop_button.isEnabled() and not window.send_button.isEnabled()
    assert window.progress.isVisible()
    qtbot.mouseClick(window.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=5000)
    answer = window.store.messages(window.current_id)[-1]
    assert answer.status == "stopped" and "word3" in answer.content and "word39" not in answer.content
    assert "Stopped." in chat_text(window)
    assert not window.stop_button.isEnabled() and not window.progress.isVisible()


def test_the_window_stays_responsive_while_the_model_works(qtbot, open_window):
    window = open_window(scripted([STORY], delay_s=0.05))
    type_and_enter(qtbot, window, "go")
    qtbot.waitUntil(lambda: "word1" in chat_text(window), timeout=5000)
    qtbot.keyClicks(window.search, "go")  # the UI thread is free to handle input
    assert window.search.text() == "go"
    window.stop()
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=5000)


def test_after_a_restart_the_conversation_is_still_there(qtbot, open_window):
    first = open_window(scripted(["Noted: the blue notebook."]))
    type_and_enter(qtbot, first, "where did I put my notes?")
    qtbot.waitUntil(lambda: "blue notebook" in chat_text(first), timeout=5000)
    qtbot.waitUntil(lambda: not first.queue.busy, timeout=5000)
    first.close()

    second = open_window(scripted(["unused"]))
    assert second.conversations.index(0, 0).data() == "where did I put my notes?"
    text = chat_text(second)
    assert "where did I put my notes?" in text and "Noted: the blue notebook." in text


def test_an_answer_cut_by_a_crash_shows_as_interrupted_after_restart(qtbot, open_window, store):
    conv = store.create()
    store.add_message(conv.id, "user", "explain tides")
    store.add_message(conv.id, "assistant", "Tides are caused by", status="streaming")
    window = open_window(scripted(["unused"]))
    assert "Tides are caused by" in chat_text(window)
    assert "Interrupted" in chat_text(window)


def test_empty_and_huge_messages_are_refused_without_losing_the_text(qtbot, open_window):
    window = open_window(scripted(["unused"]))
    assert not window.send_button.isEnabled()
    huge = "a" * 100_001
    window.input.setPlainText(huge)
    window.send()
    assert "100,000" in window.notice_label.text()
    assert window.input.toPlainText() == huge
    assert window.conversations.rowCount() == 0


def test_a_broken_model_is_reported_in_the_chat(qtbot, open_window):
    def broken(_settings):
        raise ModelLoadError("llama.cpp could not load x.gguf. Reinstall it with: pip install z")

    window = open_window(broken)
    type_and_enter(qtbot, window, "anyone there?")
    qtbot.waitUntil(lambda: "pip install z" in chat_text(window), timeout=5000)
    assert "anyone there?" in chat_text(window)
    assert "pip install z" in window.notice_label.text()
    assert window.privacy_label.isVisible()  # notices never hide what may leave the machine


def test_new_rename_search_and_delete(qtbot, open_window, monkeypatch):
    window = open_window(scripted(["ok"]))
    for text in ("plan the garden", "file my taxes"):
        window.new_conversation()
        type_and_enter(qtbot, window, text)
        qtbot.waitUntil(lambda: not window.queue.busy, timeout=5000)
    assert window.conversations.rowCount() == 2

    qtbot.keyClicks(window.search, "garden")
    assert window.conversations.rowCount() == 1
    window.search.clear()

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Taxes 2026", True))
    window.rename_current()
    assert window.conversations.index(0, 0).data() == "Taxes 2026"

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.delete_current()
    assert window.conversations.rowCount() == 1
    assert window.conversations.index(0, 0).data() == "plan the garden"
    assert "plan the garden" in chat_text(window)


def test_settings_are_saved_and_reach_the_model_worker(qtbot, open_window):
    window = open_window(scripted(["ok"]))
    window.apply_settings(Settings(model="smollm2-135m", n_threads=1, n_ctx=2048))
    assert "smollm2-135m" in window.model_label.text() and "1 threads" in window.model_label.text()
    assert load_settings(window.db).model == "smollm2-135m"
    qtbot.waitUntil(lambda: window.queue.assistant.settings.model == "smollm2-135m", timeout=5000)


def test_settings_dialog_offers_installed_models(qtbot):
    from app.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings(model="smollm2-135m", n_threads=3))
    qtbot.addWidget(dialog)
    assert dialog.model.currentData() == "smollm2-135m"
    ids = [dialog.model.itemData(i) for i in range(dialog.model.count())]
    assert ids == ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "smollm2-135m", "gemma3-270m"]
    dialog.threads.setValue(2)
    assert dialog.result_settings().n_threads == 2


@pytest.mark.real_model
def test_the_real_window_chats_with_a_real_model(qtbot, open_window):
    window = open_window(settings=Settings(model="smollm2-135m", n_threads=2, n_ctx=1024,
                                           max_tokens=24))
    type_and_enter(qtbot, window, "Say hello.")
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=60_000)
    user, answer = window.store.messages(window.current_id)
    assert answer.status == "done" and answer.content.strip(), answer
    assert answer.model == "smollm2-135m"
    assert "Hearth · smollm2-135m" in chat_text(window)


def test_the_model_warms_up_in_the_background_with_a_notice(qtbot, open_window):
    window = open_window(scripted(["ok"], delay_s=0.0))
    window.queue.warm_up()
    qtbot.waitUntil(lambda: "is ready" in window.notice_label.text(), timeout=5000)
    assert window.queue.assistant.model_loaded


def test_dropped_files_are_attached_analysed_and_shown_inline(qtbot, open_window, tmp_path):
    from PIL import Image
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    from experts.base import ExpertResult
    from tests.fakes import FakeDetector, fake_expert_classes

    annotated = tmp_path / "annotated.png"
    Image.new("RGB", (640, 480), "orange").save(annotated)

    class AnnotatingDetector(FakeDetector):
        def run(self, image):
            result = super().run(image)
            return ExpertResult(self.name, result.data, annotated=annotated)

    memo, photo = tmp_path / "memo.wav", tmp_path / "bus.jpg"
    memo.write_bytes(b"call the plumber")
    photo.write_bytes(b"jpeg bytes")
    window = open_window(scripted(["You said to call the plumber; I see 4 people."]),
                         expert_classes=fake_expert_classes(**{"object-detection": AnnotatingDetector}))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(memo)), QUrl.fromLocalFile(str(photo))])
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    window.dropEvent(drop)
    assert [p.name for p in window.attachments.files()] == ["memo.wav", "bus.jpg"]
    assert window.send_button.isEnabled()  # files alone are enough to send

    type_and_enter(qtbot, window, "what did I say and who is there?")
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=10_000)
    text = chat_text(window)
    assert "Attached: memo.wav, bus.jpg" in text
    assert "Plan: 4 steps, fallback plan" in text  # the scripted model writes no JSON plan
    assert "1. Transcribe memo.wav · speech-to-text" in text and '"call the plumber"' in text
    assert "[done] 2. Find the objects in bus.jpg · object-detection" in text
    assert "4 person, 1 bus" in text
    assert "[failed] 3. Find the people in bus.jpg" in text and "damaged" in text  # shown, not hidden
    assert "You said to call the plumber" in text
    assert str(annotated) not in window.chat.document().toHtml()  # until the step is opened
    answer_id = window.store.messages(window.current_id)[-1].id
    window.chat.anchorClicked.emit(QUrl(f"step:{answer_id}:1"))
    assert str(annotated) in window.chat.document().toHtml()
    assert "input image: bus.jpg" in chat_text(window)
    assert window.attachments.files() == [] and not window.attachments.isVisible()

    window.close()
    again = open_window(scripted(["unused"]), expert_classes=fake_expert_classes())
    assert "4 person, 1 bus" in chat_text(again) and "[done] 1. Transcribe memo.wav" in chat_text(again)


def test_a_folder_or_an_oversized_file_is_not_attached(qtbot, open_window, tmp_path, monkeypatch):
    import app.main_window as main_window

    window = open_window(scripted(["unused"]))
    window.attach([tmp_path])
    assert window.attachments.files() == [] and "not a file" in window.notice_label.text()
    big = tmp_path / "big.wav"
    big.write_bytes(b"x" * 2000)
    monkeypatch.setattr(main_window, "MAX_ATTACHMENT_BYTES", 1000)
    window.attach([big])
    assert window.attachments.files() == [] and "limited to" in window.notice_label.text()


@pytest.mark.real_model
def test_people_dialog_enrols_from_a_photo_off_the_ui_thread_and_forgets(qtbot, db, monkeypatch):
    from pathlib import Path

    from app.people_dialog import PeopleDialog
    from experts.registry import ExpertRegistry
    from experts.runner import ExpertRunner
    from memory.faces import FaceStore

    photos = Path(__file__).resolve().parents[1] / "experts" / "data" / "faces"
    runner = ExpertRunner(ExpertRegistry(db))
    dialog = PeopleDialog(FaceStore(db), runner)
    qtbot.addWidget(dialog)
    try:
        dialog.enroll("Barack Obama", photos / "obama-portrait.jpg")
        assert not dialog.enroll_button.isEnabled()  # returned at once; the work is elsewhere
        qtbot.waitUntil(lambda: "Enrolled" in dialog.status.text(), timeout=60_000)
        assert dialog.list.item(0).text() == "Barack Obama — 1 photo(s)"

        dialog.enroll("Nobody", photos / "README.md")
        qtbot.waitUntil(lambda: "Could not enrol" in dialog.status.text(), timeout=60_000)

        monkeypatch.setattr("PySide6.QtWidgets.QMessageBox.question",
                            lambda *a, **k: QMessageBox.StandardButton.Yes)
        dialog.list.setCurrentRow(0)
        dialog.forget_selected()
        assert dialog.list.count() == 0 and FaceStore(db).people() == []
    finally:
        runner.close()
