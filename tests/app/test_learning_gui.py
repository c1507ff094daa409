"""The learning window and the night in the app: history, plot, rollback with real adapters,
Learn now / Cancel with a real NightProcess running a small script, the chat pausing the
night, the automatic schedule and the learning settings."""

from __future__ import annotations

import json
import sys
import textwrap
from datetime import datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from memory.settings import load_settings
from sync.learning import nightly
from sync.learning.process import NightProcess
from tests.fakes import scripted
from app.learning_window import night_time
from tests.learning.helpers import random_adapter

pytestmark = pytest.mark.gui

MODEL = "smollm2-135m"


def night_record(night: str, *, status="done", n=24, user=(0.62, 0.71), general=(0.55, 0.56),
                 kept=True, adapter=None, reason="") -> dict:
    record = {"night": night, "status": status, "reason": reason, "n_examples": n,
              "n_sequences": n + 6, "adapter": str(adapter) if adapter else None,
              "seconds": {}, "peak_rss_mib": 3100.0, "losses": [0.3, 0.2], "model": MODEL,
              "kept": kept, "recorded": "2026-12-01T03:40:00+00:00"}
    if status == "done":
        decision = "kept" if kept else "rejected"
        record["gate"] = {
            "before": {"user": scores(user[0], 6), "general": scores(general[0], 20)},
            "after": {"user": scores(user[1], 6), "general": scores(general[1], 20)},
            "margin": 0.03, "decision": decision,
            "reason": reason or (f"Kept: your held-out examples {user[0]:.2f} → {user[1]:.2f}, "
                                 f"general planning {general[0]:.2f} → {general[1]:.2f}." if kept
                                 else "Rejected: no better on your held-out examples.")}
    return record


def scores(score: float, n: int) -> dict:
    """The gate's numbers for one side (the decision uses "score")."""
    return {"node_f1": round(score + 0.05, 4), "edge_f1": 0.5, "arg_value_f1": round(score - 0.05, 4),
            "validity": 1.0, "n": n, "score": score, "seconds": 12.0}


def write_history(records: list[dict]) -> None:
    path = nightly.learning_dir() / "history.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def smollm2_window(open_window):
    return open_window(scripted(["ok"]), settings=load_settings_for_tests())


def load_settings_for_tests():
    from memory.settings import Settings

    return Settings(model=MODEL, use_memory=False, n_threads=1)


def colour_pixels(widget, colour: QColor) -> int:
    image = widget.grab().toImage()
    target = colour.rgb()
    return sum(1 for y in range(0, image.height(), 2) for x in range(0, image.width(), 2)
               if image.pixel(x, y) == target)


def test_the_window_lists_the_nights_and_plots_their_scores(qtbot, open_window):
    write_history([
        night_record("20261128-031000-000000", user=(0.50, 0.58), general=(0.55, 0.55)),
        night_record("20261129-031000-000000", user=(0.58, 0.56), general=(0.55, 0.40),
                     kept=False, reason="Rejected: no better on your held-out examples "
                                        "(plan score 0.58 → 0.56)."),
        night_record("20261130-031000-000000", status="skipped", n=3,
                     reason="3 usable labelled examples; a night needs 8."),
    ])
    window = smollm2_window(open_window)
    learning = window.open_learning()
    assert learning.isVisible()
    assert learning.active_label.text().endswith("Base model (no adapter)")
    table = learning.model
    assert table.rowCount() == 3
    newest = [table.index(0, c).data() for c in range(table.columnCount())]
    assert newest[2] == "skipped" and newest[3] == "3 examples"
    assert newest[6].startswith("skipped — 3 usable")
    rejected = [table.index(1, c).data() for c in range(table.columnCount())]
    assert rejected[4] == "0.58 → 0.56" and rejected[5] == "0.55 → 0.40"
    assert rejected[6] == "rejected"
    tooltip = table.index(1, 6).data(Qt.ItemDataRole.ToolTipRole)
    assert tooltip.startswith("Rejected: no better on your held-out examples")
    assert "Your plans after: score 0.56 (node F1 0.61, argument F1 0.51" in tooltip
    assert [table.index(2, c).data() for c in (4, 6)] == ["0.50 → 0.58", "kept"]
    # the plot: one point per evaluated night on each line, drawn in the series' colours
    assert learning.chart.points("user") == [(0, 0.58), (1, 0.56)]
    assert learning.chart.points("general") == [(0, 0.55), (1, 0.40)]
    from app.learning_window import GENERAL_COLOUR, USER_COLOUR

    assert colour_pixels(learning.chart, USER_COLOUR) > 20
    assert colour_pixels(learning.chart, GENERAL_COLOUR) > 20


def test_an_empty_history_says_so(qtbot, open_window):
    learning = smollm2_window(open_window).open_learning()
    assert learning.model.rowCount() == 0
    assert not learning.use_button.isEnabled() and not learning.base_button.isEnabled()
    assert learning.learn_button.isEnabled() and not learning.cancel_button.isEnabled()


@pytest.fixture
def two_adapters(smollm2_path):
    """Two real adapters for SmolLM2 in the learning folder, the newer one active."""
    older, newer = "20261129-031000-000000", "20261130-031000-000000"
    for night in (older, newer):
        out = nightly.adapter_of(night)
        out.parent.mkdir(parents=True, exist_ok=True)
        random_adapter(smollm2_path, out)
    write_history([night_record(older, adapter=nightly.adapter_of(older), user=(0.50, 0.62)),
                   night_record(newer, adapter=nightly.adapter_of(newer), user=(0.62, 0.71))])
    nightly.activate(nightly.adapter_of(newer), smollm2_path)
    return older, newer


# ----- adapters per agent role: the planner's and the summarizer's
def role_record(night: str, roles: list[str], *, adapter=None, user=(0.45, 0.54),
                general=(0.30, 0.32), answers=(0.412, 0.371), general_answers=(0.30, 0.33),
                plans=True) -> dict:
    """A night the gate checked on plans (unless `plans` is False) and on answers, kept for
    `roles` (none: rejected), with the reason decide_roles writes."""
    record = night_record(night, kept=bool(roles), adapter=adapter, user=user, general=general)
    gate = record["gate"]
    if not plans:
        for side in ("before", "after"):
            gate[side].clear()
    for i, side in enumerate(("before", "after")):
        gate[side]["user_answers"] = {"n": 5, "nll": answers[i], "seconds": 3.0}
        gate[side]["general_answers"] = {
            "fact_recall": general_answers[i] + 0.05, "cite_f1": general_answers[i] - 0.1,
            "failures_told": 1.0, "invented_numbers": 0.0, "n": 16,
            "score": general_answers[i], "seconds": 40.0}
    what = {("planner", "summarizer"): "Kept for planning and answering",
            ("planner",): "Kept for planning", ("summarizer",): "Kept for answering",
            (): "Rejected"}[tuple(roles)]
    planning = (f"your held-out examples {user[0]:.2f} → {user[1]:.2f}; general planning "
                f"{general[0]:.2f} → {general[1]:.2f}" if plans else
                "no plans of yours held out to check it on")
    gate.update(roles=roles, decision="kept" if roles else "rejected",
                reason=f"{what}. Planning: {planning}. Answers: your held-out answers more likely "
                       f"({answers[0]:.3f} → {answers[1]:.3f} nats a token); general answers "
                       f"{general_answers[0]:.2f} → {general_answers[1]:.2f}.")
    record.update(roles=roles, reason=gate["reason"])
    return record


def test_a_night_says_which_roles_took_its_adapter():
    from app.learning_window import describe_night, is_kept, outcome, result_text, scores_text

    both = role_record("20261201-031000-000000", ["planner", "summarizer"])
    planning = role_record("20261201-031000-000000", ["planner"])
    answering = role_record("20261201-031000-000000", ["summarizer"])
    rejected = role_record("20261201-031000-000000", [])
    old_kept = night_record("20261201-031000-000000")  # before roles: served both
    assert "roles" not in old_kept
    assert [outcome(r) for r in (both, planning, answering, rejected, old_kept)] == [
        "kept", "kept for planning", "kept for answering", "rejected", "kept"]
    assert [is_kept(r) for r in (both, planning, answering, rejected, old_kept)] == [
        True, True, True, False, True]
    assert outcome({**rejected, "status": "skipped"}) == "skipped"

    scores = ("your plans 0.45 → 0.54, general 0.30 → 0.32; your answers 0.412 → 0.371 nats "
              "a token (lower is better), general answers 0.30 → 0.33")
    assert scores_text(planning) == scores
    assert scores_text(old_kept) == "your plans 0.62 → 0.71, general 0.55 → 0.56"
    answers_only = role_record("20261201-031000-000000", ["summarizer"], plans=False)
    assert scores_text(answers_only) == ("your answers 0.412 → 0.371 nats a token (lower is "
                                         "better), general answers 0.30 → 0.33")
    assert "kept for answering: your answers 0.412" in describe_night(answers_only)

    def finished(record):
        return result_text({"event": "done", "night": record})

    assert finished(both) == f"Kept: {scores}. Hearth now uses this night's adapter."
    assert finished(old_kept) == ("Kept: your plans 0.62 → 0.71, general 0.55 → 0.56. "
                                  "Hearth now uses this night's adapter.")
    assert finished(planning) == (f"Kept for planning: {scores}. Hearth now plans with this "
                                  "night's adapter; answers stay as they were.")
    assert finished(answering) == (f"Kept for answering: {scores}. Hearth now answers with "
                                   "this night's adapter; planning stays as it was.")
    assert finished(rejected) == ("Rejected: Planning: your held-out examples 0.45 → 0.54; "
                                  "general planning 0.30 → 0.32. Answers: your held-out answers "
                                  "more likely (0.412 → 0.371 nats a token); general answers "
                                  "0.30 → 0.33. The active adapter is unchanged.")


def test_the_table_shows_an_answer_nights_own_numbers():
    from app.learning_window import general_cell, yours_cell

    plans = role_record("20261201-031000-000000", ["planner"])
    answers = role_record("20261201-031000-000000", ["summarizer"], plans=False)
    assert (yours_cell(plans), general_cell(plans)) == ("0.45 → 0.54", "0.30 → 0.32")
    assert (yours_cell(answers), general_cell(answers)) == ("loss 0.412 → 0.371", "0.30 → 0.33")
    skipped = {"night": "20261201-031000-000000", "status": "skipped"}
    assert (yours_cell(skipped), general_cell(skipped)) == ("", "")


@pytest.fixture
def role_adapters(smollm2_path):
    """Real adapters of three nights: the oldest kept for planning only, the next kept for
    both roles, the newest rejected; nothing active yet."""
    planning, both, rejected = ("20261128-031000-000000", "20261129-031000-000000",
                                "20261130-031000-000000")
    for night in (planning, both, rejected):
        out = nightly.adapter_of(night)
        out.parent.mkdir(parents=True, exist_ok=True)
        random_adapter(smollm2_path, out)
    write_history([
        role_record(planning, ["planner"], adapter=nightly.adapter_of(planning),
                    user=(0.45, 0.54), general=(0.30, 0.32)),
        role_record(both, ["planner", "summarizer"], adapter=nightly.adapter_of(both),
                    user=(0.54, 0.70), general=(0.32, 0.34)),
        role_record(rejected, [], adapter=nightly.adapter_of(rejected),
                    user=(0.70, 0.62), general=(0.34, 0.26)),
    ])
    return planning, both, rejected


def result_column(learning) -> dict[str, str]:
    return {r["night"]: learning.model.index(i, 6).data()
            for i, r in enumerate(learning.model.rows)}


def test_the_window_shows_which_role_uses_which_adapter(qtbot, open_window, role_adapters,
                                                        smollm2_path):
    planning, both, rejected = role_adapters
    learning = smollm2_window(open_window).open_learning()
    assert result_column(learning) == {planning: "kept for planning", both: "kept",
                                       rejected: "rejected"}
    tooltip = learning.model.index(2, 6).data(Qt.ItemDataRole.ToolTipRole)
    assert tooltip.startswith("Kept for planning. Planning: your held-out examples 0.45 → 0.54")
    assert "Your answers after: 0.371 nats a token (5 examples; lower is better)" in tooltip
    assert "General answers after: score 0.33 (facts 0.38, citations 0.23" in tooltip

    # night 1 kept for planning: the planner uses it, answers the base model
    nightly.activate(nightly.adapter_of(planning), smollm2_path, roles=["planner"])
    learning.refresh()
    assert learning.active_label.text() == (
        f"<b>Now using:</b> Planning: night {night_time(planning)}'s adapter · "
        "Answers: the base model")
    assert result_column(learning)[planning] == "kept for planning · active for planning"
    assert learning.base_button.isEnabled()

    # night 2 kept for both: as before roles, the whole night in the label
    nightly.activate(nightly.adapter_of(both), smollm2_path)
    learning.refresh()
    assert learning.active_label.text().startswith(
        f"<b>Now using:</b> Night {night_time(both)} — trained on 24 examples, kept: your plans "
        "0.54 → 0.70")
    assert result_column(learning) == {planning: "kept for planning", both: "kept · active",
                                       rejected: "rejected"}

    # the planner back on night 1, answers still on night 2
    nightly.activate(nightly.adapter_of(planning), smollm2_path, roles=["planner"])
    learning.refresh()
    assert learning.active_label.text() == (
        f"<b>Now using:</b> Planning: night {night_time(planning)}'s adapter · "
        f"Answers: night {night_time(both)}'s adapter")
    assert result_column(learning) == {
        planning: "kept for planning · active for planning", both: "kept · active for answers",
        rejected: "rejected"}
    bold = learning.model.index(1, 0).data(Qt.ItemDataRole.FontRole)
    assert bold is not None and bold.bold()

    # the planner on the base model: "Use base model" still has something to switch off
    nightly.activate(None, smollm2_path, roles=["planner"])
    learning.refresh()
    assert learning.active_label.text() == (
        f"<b>Now using:</b> Planning: the base model · Answers: night {night_time(both)}'s "
        "adapter")
    assert learning.base_button.isEnabled()
    qtbot.mouseClick(learning.base_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: nightly.active_roles() == {"planner": None, "summarizer": None},
                    timeout=10_000)
    qtbot.waitUntil(lambda: learning.active_label.text().endswith("Base model (no adapter)"),
                    timeout=5000)


def test_the_plot_fills_the_dot_of_a_night_the_planner_took(qtbot, open_window, role_adapters):
    planning, both, rejected = role_adapters
    learning = smollm2_window(open_window).open_learning()
    chart = learning.chart
    assert chart.points("user") == [(0, 0.54), (1, 0.70), (2, 0.62)]
    from app.learning_window import USER_COLOUR

    image = chart.grab().toImage()

    def centre(i: int, v: float) -> QColor:
        at = chart.position(i, v)
        return image.pixelColor(round(at.x()), round(at.y()))

    assert centre(0, 0.54) == USER_COLOUR  # kept for planning: filled, as a kept night
    assert centre(1, 0.70) == USER_COLOUR  # kept
    assert centre(2, 0.62) == QColor("white")  # rejected: hollow


def select_night(learning, night: str) -> None:
    row = next(i for i, r in enumerate(learning.model.rows) if r["night"] == night)
    learning.table.selectRow(row)


def test_rollback_to_an_earlier_adapter_and_to_the_base_model(qtbot, open_window, two_adapters):
    older, newer = two_adapters
    learning = smollm2_window(open_window).open_learning()
    assert "0.62 → 0.71" in learning.active_label.text()
    assert learning.model.index(0, 6).data() == "kept · active"
    select_night(learning, older)
    assert learning.use_button.isEnabled()
    qtbot.mouseClick(learning.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: nightly.active_adapter() == nightly.adapter_of(older), timeout=10_000)
    qtbot.waitUntil(lambda: "0.50 → 0.62" in learning.active_label.text(), timeout=5000)
    assert "Now using night" in learning.status.text()
    assert learning.model.index(1, 6).data() == "kept · active"

    qtbot.mouseClick(learning.base_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: nightly.active_adapter() is None, timeout=10_000)
    qtbot.waitUntil(lambda: learning.active_label.text().endswith("Base model (no adapter)"),
                    timeout=5000)
    assert not learning.base_button.isEnabled()


def test_a_damaged_adapter_is_refused_with_a_visible_error_and_the_active_one_kept(
        qtbot, open_window, two_adapters):
    older, newer = two_adapters
    damaged = nightly.adapter_of(older)
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2:len(data) // 2 + 64] = b"\xff" * 64  # tensor bytes, not the header
    damaged.write_bytes(bytes(data))
    active_json = (nightly.learning_dir() / "active.json").read_bytes()
    learning = smollm2_window(open_window).open_learning()
    select_night(learning, older)
    qtbot.mouseClick(learning.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Could not switch" in learning.status.text(), timeout=10_000)
    assert "b00020" in learning.status.styleSheet()  # shown as an error
    assert "Still using: Night" in learning.status.text()
    assert nightly.active_adapter() == nightly.adapter_of(newer)
    assert (nightly.learning_dir() / "active.json").read_bytes() == active_json
    assert "0.62 → 0.71" in learning.active_label.text()
    assert learning.use_button.isEnabled()  # nothing stuck: another choice can be made


# ----- a night, with the real NightProcess running a small script in place of app_night
NIGHT_SCRIPT = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path

    go = Path(sys.argv[1])
    def emit(event):
        print(json.dumps(event), flush=True)
    print("a library's chatter on stdout", flush=True)
    emit({"event": "stage", "stage": "prepare", "message": "Reading your labelled examples…"})
    emit({"event": "stage", "stage": "train", "message": "Training on 12 examples…"})
    emit({"event": "progress", "fraction": 0.5, "message": "Training step 4 of 8"})
    while not go.exists():
        time.sleep(0.05)
    record = json.loads(sys.argv[2])
    home = Path(os.environ["HEARTH_HOME"]) / "learning"
    with open(home / "history.jsonl", "a") as f:
        f.write(json.dumps(record) + "\\n")
    emit({"event": "done", "night": record})
""")


@pytest.fixture
def night_script(tmp_path):
    script = tmp_path / "fake_night.py"
    script.write_text(NIGHT_SCRIPT, encoding="utf-8")
    go = tmp_path / "go"

    def process_factory(record: dict):
        return lambda: NightProcess([sys.executable, str(script), str(go), json.dumps(record)])

    return process_factory, go


def test_learn_now_shows_the_stage_and_progress_then_the_result(qtbot, open_window, night_script):
    factory, go = night_script
    window = smollm2_window(open_window)
    record = night_record("20261201-031000-000000", n=12, user=(0.62, 0.71), general=(0.55, 0.56))
    window.learning.process_factory = factory(record)
    learning = window.open_learning()
    qtbot.mouseClick(learning.learn_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: learning.progress.value() == 50, timeout=10_000)
    assert learning.stage_label.text() == "Train: Training on 12 examples…"
    assert learning.progress.isVisible() and learning.cancel_button.isEnabled()
    assert not learning.learn_button.isEnabled()
    assert not window.learn_now() and not window.learning.start()  # one night at a time
    assert window.learning_label.isVisible()
    assert "Training step 4 of 8" in window.learning_label.text()
    go.touch()
    qtbot.waitUntil(lambda: not window.learning.running, timeout=10_000)
    assert learning.status.text() == ("Kept: your plans 0.62 → 0.71, general 0.55 → 0.56. "
                                      "Hearth now uses this night's adapter.")
    assert learning.model.rowCount() == 1  # the table refreshed from the history
    assert learning.chart.points("user") == [(0, 0.71)]
    assert learning.learn_button.isEnabled() and not learning.progress.isVisible()
    assert not window.learning_label.isVisible()
    assert "Kept: your plans" in window.notice_label.text()


def test_a_skipped_night_says_why(qtbot, open_window, night_script):
    factory, go = night_script
    go.touch()
    window = smollm2_window(open_window)
    window.learning.process_factory = factory(night_record(
        "20261201-031000-000000", status="skipped", n=3,
        reason="3 usable labelled examples; a night needs 8."))
    learning = window.open_learning()
    learning.learn_now()
    qtbot.waitUntil(lambda: not window.learning.running, timeout=10_000)
    assert learning.status.text() == "Skipped: 3 usable labelled examples; a night needs 8."


def test_cancel_stops_the_night_and_leaves_the_active_adapter(qtbot, open_window, night_script):
    factory, _go = night_script  # never created: the script would wait for ever
    window = smollm2_window(open_window)
    window.learning.process_factory = factory(night_record("20261201-031000-000000"))
    learning = window.open_learning()
    learning.learn_now()
    qtbot.waitUntil(lambda: learning.progress.value() == 50, timeout=10_000)
    process = window.learning._process
    qtbot.mouseClick(learning.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.learning.running, timeout=15_000)
    assert process.wait(5) is not None and not process.running
    assert learning.status.text().startswith("Cancelled: The learning process ended")
    assert "the active adapter is unchanged" in learning.status.text()
    assert "b00020" not in learning.status.styleSheet()  # the user asked for it: not an error
    assert nightly.active_adapter() is None and nightly.history() == []
    assert learning.learn_button.isEnabled()


def test_a_night_that_fails_shows_the_error(qtbot, open_window, tmp_path):
    script = tmp_path / "crash.py"
    script.write_text("import sys\nprint('boom: no model', file=sys.stderr)\nsys.exit(2)\n")
    window = smollm2_window(open_window)
    window.learning.process_factory = lambda: NightProcess([sys.executable, str(script)])
    learning = window.open_learning()
    learning.learn_now()
    qtbot.waitUntil(lambda: not window.learning.running, timeout=10_000)
    assert learning.status.text().startswith("The night failed: The learning process ended "
                                             "(exit code 2)")
    assert "boom: no model" in learning.status.text()
    assert "b00020" in learning.status.styleSheet()


def test_learn_now_starts_the_real_night_process_for_the_settings_model(qtbot, open_window):
    """The app's own argv (python -m sync.learning.app_night --model …) in this HEARTH_HOME:
    with no labels yet the night is skipped, and says what would let it train."""
    window = smollm2_window(open_window)
    learning = window.open_learning()
    assert window.learn_now()
    assert window.learning._process.argv[-2:] == ["--model", MODEL]
    qtbot.waitUntil(lambda: not window.learning.running, timeout=120_000)
    assert learning.status.text().startswith("Skipped: 0 usable labelled plans (0 stored) and "
                                             "0 labelled answers")
    assert "plans you correct" in learning.status.text()
    assert learning.model.rowCount() == 1 and learning.model.index(0, 2).data() == "skipped"
    assert learning.model.index(0, 1).data() == MODEL


# ----- the chat comes first
class FakeNight:
    """Records what the runner asks of the night's process."""

    def __init__(self):
        self.calls: list[str] = []
        self.on_event = None

    def start(self, on_event):
        self.calls.append("start")
        self.on_event = on_event

    def pause(self):
        self.calls.append("pause")

    def resume(self):
        self.calls.append("resume")

    def cancel(self):
        self.calls.append("cancel")
        self.on_event({"event": "error", "message": "stopped"})

    def wait(self, timeout=None):
        return 0


STORY = " ".join(f"word{i}" for i in range(30))


def test_the_night_is_paused_while_the_chat_answers_and_resumed_after(qtbot, open_window):
    window = open_window(scripted([STORY, STORY], delay_s=0.03))
    night = FakeNight()
    window.learning.process_factory = lambda: night
    assert window.learn_now()
    assert night.calls == ["start"]
    window.input.setPlainText("tell me a story")
    window.send()
    qtbot.waitUntil(lambda: "word2" in window.chat.toPlainText(), timeout=5000)
    assert night.calls == ["start", "pause"] and window.queue.busy
    assert "paused while Hearth answers" in window.learning_label.text()
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=10_000)
    assert night.calls == ["start", "pause", "resume"]
    assert "paused" not in window.learning_label.text()
    # a night started during an answer begins paused
    night.on_event({"event": "done", "night": night_record("20261201-031000-000000")})
    qtbot.waitUntil(lambda: not window.learning.running, timeout=5000)
    second = FakeNight()
    window.learning.process_factory = lambda: second
    window.input.setPlainText("again")
    window.send()
    assert window.learn_now()
    assert second.calls == ["start", "pause"]
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=10_000)
    assert second.calls == ["start", "pause", "resume"]


def _state(pid: int) -> str:
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_real_night_process_is_stopped_during_an_answer(qtbot, open_window, night_script):
    factory, _go = night_script
    window = open_window(scripted([STORY], delay_s=0.05))
    window.learning.process_factory = factory(night_record("20261201-031000-000000"))
    window.learn_now()
    process = window.learning._process
    qtbot.waitUntil(lambda: window.learning.last_event is not None, timeout=10_000)
    window.input.setPlainText("tell me a story")
    window.send()
    qtbot.waitUntil(lambda: "word2" in window.chat.toPlainText(), timeout=5000)
    assert _state(process._proc.pid) == "T"  # SIGSTOP: no CPU taken from the answer
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=10_000)
    qtbot.waitUntil(lambda: _state(process._proc.pid) != "T", timeout=5000)
    window.learning.cancel()
    qtbot.waitUntil(lambda: not window.learning.running, timeout=15_000)


# ----- automatic nights
def hours_around_now() -> str:
    now = datetime.now()
    return f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"


def add_label(db) -> None:
    from sync.labels import TrainingExamples
    from sync.learning.source import request_turn

    plan = {"steps": ["Transcribe memo.wav"],
            "tasks": [{"task": "speech-to-text", "id": 0, "dep": [-1], "args": {"audio": "memo.wav"}}]}
    TrainingExamples(db).add("planner", request_turn("what did I say?", ["memo.wav"]),
                             json.dumps(plan), "cloud", True)


def test_an_automatic_night_starts_when_the_schedule_says_it_is_due(qtbot, open_window):
    settings = load_settings_for_tests().model_copy(update={
        "learning_hours": hours_around_now(), "learning_power_only": False,
        "learning_idle_minutes": 15})
    window = open_window(scripted(["ok"]), settings=settings)
    night = FakeNight()
    window.learning.process_factory = lambda: night
    due, why = window.check_learning_schedule()
    assert not due and why.startswith("In use")  # the user just opened the window
    window.last_input -= 16 * 60
    assert window.check_learning_schedule() == (
        False, "Nothing new to learn from since the last night.")
    add_label(window.db)
    due, why = window.check_learning_schedule()
    assert due, why
    assert night.calls == ["start"] and window.learning.running
    assert window.learning_label.text().startswith("Automatic night")
    assert window.check_learning_schedule() == (False, "a night is running")
    night.on_event({"event": "done", "night": night_record("20261201-031000-000000")})
    qtbot.waitUntil(lambda: not window.learning.running, timeout=5000)
    write_history([{**night_record("20261201-031000-000000"),
                    "recorded": datetime.now().astimezone().isoformat()}])
    assert window.check_learning_schedule() == (False, "Already learned tonight.")


def test_no_automatic_night_when_it_is_switched_off(qtbot, open_window):
    settings = load_settings_for_tests().model_copy(update={
        "learning_auto": False, "learning_hours": hours_around_now(), "learning_idle_minutes": 0})
    window = open_window(scripted(["ok"]), settings=settings)
    night = FakeNight()
    window.learning.process_factory = lambda: night
    add_label(window.db)
    assert window.check_learning_schedule() == (False, "Automatic learning is off.")
    assert night.calls == []
    assert window._learning_timer.isActive() and window._learning_timer.interval() == 60_000


def test_input_in_the_window_counts_as_not_idle(qtbot, open_window):
    window = open_window(scripted(["ok"]))
    window.last_input -= 3600
    qtbot.keyClicks(window.input, "h")
    assert window.last_input > __import__("time").monotonic() - 5


# ----- settings
def test_the_learning_settings_round_trip(qtbot, open_window):
    from app.settings_dialog import SettingsDialog

    window = smollm2_window(open_window)
    dialog = SettingsDialog(window.settings, window)
    qtbot.addWidget(dialog)
    dialog.tabs.setCurrentWidget(dialog.learning_tab)
    assert dialog.learning_auto.isChecked() and dialog.learning_power.isChecked()
    assert dialog.learning_from.time().toString("HH:mm") == "01:00"
    assert dialog.learning_to.time().toString("HH:mm") == "06:00"
    dialog.learning_from.setTime(dialog.learning_from.time().fromString("22:30", "HH:mm"))
    dialog.learning_power.setChecked(False)
    dialog.learning_idle.setValue(30)
    dialog.learning_memory.setValue(6144)
    dialog.learning_auto.setChecked(False)
    assert not dialog.learning_idle.isEnabled()
    window.apply_settings(dialog.result_settings())
    stored = load_settings(window.db)
    assert (stored.learning_auto, stored.learning_hours, stored.learning_power_only,
            stored.learning_idle_minutes, stored.learning_memory_mib) == (
        False, "22:30-06:00", False, 30, 6144)


def test_a_night_that_grew_an_earlier_adapter_says_which():
    from app.learning_window import describe_night, night_time

    grown = describe_night({"night": "20261202-031000-000000", "n_examples": 9, "status": "done",
                            "started_from": "20261201-031000-000000", "kept": True})
    assert f"9 examples on top of night {night_time('20261201-031000-000000')}," in grown
    assert "on top of" not in describe_night({"night": "20261202-031000-000000", "n_examples": 9,
                                              "status": "done", "kept": True})


def test_a_run_with_a_night_per_role_reads_planning_then_answers():
    from app.learning_window import examples_text, result_text

    plans = {"night": "20261203-031000-000000", "status": "done", "role": "planner",
             "roles": ["planner"], "kept": True, "n_examples": 5,
             "gate": {"before": {"user": {"score": 0.40}, "general": {"score": 0.50}},
                      "after": {"user": {"score": 0.60}, "general": {"score": 0.49}}},
             "reason": "Kept: your held-out examples 0.40 → 0.60; general planning 0.50 → 0.49."}
    answers = {"night": "20261203-031500-000000", "status": "done", "role": "summarizer",
               "roles": [], "kept": False, "n_examples": 7,
               "gate": {"before": {"user_answers": {"nll": 0.41}, "general_answers": {"score": 0.3}},
                        "after": {"user_answers": {"nll": 0.42}, "general_answers": {"score": 0.3}}},
               "reason": "Rejected: your held-out answers are no more likely (0.410 → 0.420 nats "
                         "a token)."}
    text = result_text({"event": "done", "night": answers, "nights": [plans, answers]})
    assert text.startswith("Planning: Kept for planning: your plans 0.40 → 0.60")
    assert ("Answers: Rejected: your held-out answers are no more likely (0.410 → 0.420 nats a "
            "token). The active adapter is unchanged.") in text
    assert (examples_text(plans), examples_text(answers)) == ("5 plans", "7 answers")
    assert examples_text({"n_examples": 3}) == "3 examples"  # a night from before roles
