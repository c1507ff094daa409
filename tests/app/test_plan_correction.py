""""Fix plan…": an answer's plan corrected by the user becomes a training example (source
user-correction) — refused with the reason while it is not a plan Hearth could run."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QDialogButtonBox

from app.plan_correction import CONFIRMATION, PlanCorrectionDialog
from sync.labels import TrainingExamples
from sync.learning import source
from tests.fakes import scripted

pytestmark = pytest.mark.gui

MODEL_PLAN = {"steps": ["Find the people in bus.jpg"],
              "tasks": [{"task": "object-detection", "id": 0, "dep": [-1],
                         "args": {"image": "bus.jpg"}}]}
BETTER_PLAN = {"steps": ["Transcribe memo.wav", "Find the people in bus.jpg"],
               "tasks": [{"task": "speech-to-text", "id": 0, "dep": [-1], "args": {"audio": "memo.wav"}},
                         {"task": "object-detection", "id": 1, "dep": [-1], "args": {"image": "bus.jpg"}}]}
REQUEST = "what did I say, and how many people are in the picture?"
FILES = ["memo.wav", "bus.jpg"]


def dialog_for(qtbot, db, plan=MODEL_PLAN, request=REQUEST, files=FILES):
    dialog = PlanCorrectionDialog(db, request, files, plan)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_the_dialog_opens_with_the_model_plan_and_it_is_valid(qtbot, db):
    dialog = dialog_for(qtbot, db)
    assert json.loads(dialog.editor.toPlainText()) == MODEL_PLAN
    assert dialog.save_button.isEnabled()
    assert dialog.error.text() == "The plan is valid for these files."


@pytest.mark.parametrize("text, reason", [
    ('{"steps": [], "tasks": [', "JSON"),
    (json.dumps({"steps": ["x"], "tasks": [{"task": "speech-to-text", "id": 0, "dep": [-1],
                                             "args": {"audio": "other.wav"}}]}),
     "'other.wav', which is not an attached file (memo.wav, bus.jpg)"),
    (json.dumps({"steps": ["x"], "tasks": [{"task": "speech-to-text", "id": 0, "dep": [-1],
                                             "args": {"audio": "bus.jpg"}}]}),
     "needs audio, but 'bus.jpg' is image"),
    (json.dumps({"steps": ["x"], "tasks": [{"task": "paint", "id": 0, "dep": [-1],
                                             "args": {}}]}), "not an expert Hearth has"),
    (json.dumps({"steps": [], "tasks": []}), "no tasks"),
])
def test_an_invalid_plan_is_refused_live_with_the_reason(qtbot, db, text, reason):
    dialog = dialog_for(qtbot, db)
    dialog.editor.setPlainText(text)
    assert reason in dialog.error.text(), dialog.error.text()
    assert dialog.error.text().startswith("Not a usable plan yet:")
    assert not dialog.save_button.isEnabled()
    dialog.save()  # even if called: nothing is stored, the text stays
    assert TrainingExamples(db).list(consented_only=False) == []
    assert dialog.editor.toPlainText() == text and dialog.isVisible()


def test_a_valid_correction_is_saved_as_a_training_example(qtbot, db):
    dialog = dialog_for(qtbot, db)
    dialog.editor.setPlainText(json.dumps(BETTER_PLAN, indent=2))
    assert dialog.save_button.isEnabled()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert dialog.result() == dialog.DialogCode.Accepted
    rows = TrainingExamples(db).list()
    assert len(rows) == 1
    row = rows[0]
    assert (row.role, row.source, row.consent) == ("planner", "user-correction", True)
    assert json.loads(row.target) == BETTER_PLAN
    records, skipped = source.training_records(db)  # what the next night trains on
    assert skipped == []
    assert records[0]["instruction"] == REQUEST and records[0]["attachments"] == FILES
    assert records[0]["plan"] == BETTER_PLAN
    assert dialog.saved.id == row.id


def test_a_correction_the_store_refuses_keeps_the_dialog_open_with_the_reason(qtbot, db):
    dialog = dialog_for(qtbot, db, request="   ")  # files sent without words: nothing to learn
    dialog.save()
    assert dialog.error.text() == "Not saved: The correction needs the request it answers."
    assert dialog.isVisible() and TrainingExamples(db).list(consented_only=False) == []
    assert json.loads(dialog.editor.toPlainText()) == MODEL_PLAN


def test_fix_plan_on_an_answer_in_the_chat(qtbot, open_window, tmp_path):
    window = open_window(scripted(["unused"]))
    conv = window.store.create()
    user = window.store.add_message(conv.id, "user", REQUEST)
    files = []
    for name in FILES:
        (tmp_path / name).write_bytes(b"data")
        files.append(tmp_path / name)
    window.store.add_attachments(user.id, files)
    trace = {"plan": MODEL_PLAN, "source": "model", "seconds": 2.5,
             "tasks": [{**MODEL_PLAN["tasks"][0], "step": MODEL_PLAN["steps"][0],
                        "status": "done", "output": {"counts": {"person": 4}}}]}
    answer = window.store.add_message(conv.id, "assistant", "There are 4 people.",
                                      model="qwen", meta={"trace": trace})
    window.store.add_message(conv.id, "assistant", "Streaming…", status="streaming",
                             meta={"trace": trace})
    window.conversations.refresh()
    window.open_conversation(conv.id)
    html = window.chat.toHtml()
    assert html.count(f"fixplan:{answer.id}") == 1  # the finished answer, not the one streaming
    assert "Fix plan…" in window.chat.toPlainText()

    window.chat.anchorClicked.emit(QUrl(f"fixplan:{answer.id}"))
    dialog = window._correction
    assert dialog is not None and dialog.isVisible()
    assert dialog.request == REQUEST and dialog.files == FILES
    assert json.loads(dialog.editor.toPlainText()) == MODEL_PLAN
    dialog.editor.setPlainText(json.dumps(BETTER_PLAN))
    dialog.save()
    assert window.notice_label.text() == CONFIRMATION
    assert window._correction is None
    assert [r.source for r in TrainingExamples(window.db).list()] == ["user-correction"]


def test_an_answer_without_a_plan_has_no_fix_link(qtbot, open_window):
    window = open_window(scripted(["unused"]))
    conv = window.store.create()
    window.store.add_message(conv.id, "user", "hello")
    window.store.add_message(conv.id, "assistant", "Hi!")
    window.open_conversation(conv.id)
    assert "fixplan:" not in window.chat.toHtml()
