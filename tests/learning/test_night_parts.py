"""The parts around a night, without a model: where labels come from, the gate's rules, the
schedule, the night's process (a stand-in script), rollback's refusals."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from datetime import datetime, timedelta

import psutil
import pytest

from agent.plan import PlanError
from memory.settings import Settings
from sync.labels import TrainingExamples
from sync.learning import gate, nightly, schedule, source
from sync.learning.process import NightProcess

PLAN = {"steps": ["Transcribe the memo"],
        "tasks": [{"task": "speech-to-text", "id": 0, "dep": [-1], "args": {"audio": "memo.wav"}}]}


# --- labels ----------------------------------------------------------------------------------

def test_a_cloud_label_becomes_the_request_it_answers_not_the_solved_example(db):
    stored = ("Request: what is in this photo?\nFiles: cat.jpg\n\n"
              + source.request_turn("What did I say in memo.wav?", ["memo.wav"]))
    TrainingExamples(db).add("planner", stored, json.dumps(PLAN), "cloud:big", True)
    records, skipped = source.training_records(db)
    assert skipped == []
    assert records[0]["instruction"] == "What did I say in memo.wav?"
    assert records[0]["attachments"] == ["memo.wav"]
    assert records[0]["plan"]["tasks"][0]["task"] == "speech-to-text"


def test_labels_without_consent_or_unreadable_are_left_out(db):
    te = TrainingExamples(db)
    te.add("planner", source.request_turn("hi", []), json.dumps(PLAN), "cloud:big", False)
    te.add("planner", "no request block here", json.dumps(PLAN), "cloud:big", True)
    te.add("planner", source.request_turn("x", []), "not json at all", "cloud:big", True)
    records, skipped = source.training_records(db)
    assert records == []
    assert len(skipped) == 2 and all(s["reason"] for s in skipped)


def test_a_correction_is_checked_then_stored_as_a_consented_label(db):
    with pytest.raises(PlanError, match="not an attached file"):
        source.save_correction(db, "What did I say?", ["memo.wav"],
                               {**PLAN, "tasks": [{**PLAN["tasks"][0], "args": {"audio": "x.wav"}}]})
    with pytest.raises(PlanError):
        source.save_correction(db, "What did I say?", ["memo.wav"], "{not json")
    with pytest.raises(PlanError):  # the right name, the wrong kind of file for the expert
        source.save_correction(db, "Who is this?", ["photo.jpg"],
                               {**PLAN, "tasks": [{**PLAN["tasks"][0], "args": {"audio": "photo.jpg"}}]})
    with pytest.raises(PlanError, match="no tasks"):
        source.save_correction(db, "What did I say?", ["memo.wav"], {"steps": [], "tasks": []})
    row = source.save_correction(db, "What did I say?", ["memo.wav"], json.dumps(PLAN))
    assert row.source == "user-correction" and row.consent and row.role == "planner"
    records, _ = source.training_records(db)
    assert records[0]["instruction"] == "What did I say?"
    assert source.count_since(db, None) == 1
    assert source.count_since(db, datetime.utcnow() + timedelta(minutes=1)) == 0
    assert source.count_since(db, datetime.utcnow() - timedelta(minutes=1)) == 1


# --- the gate's rules --------------------------------------------------------------------------

def _recs(n):
    return [{"id": str(i), "instruction": f"request number {i}", "attachments": []} for i in range(n)]


def test_held_out_examples_are_the_same_every_night_and_never_none():
    recs = _recs(40)
    train, held = gate.split_held_out(recs)
    assert 3 <= len(held) <= 14 and len(train) + len(held) == 40
    # a night later, with more labels, the same requests are still held out
    _, held_later = gate.split_held_out(recs + _recs(60)[40:])
    assert {r["id"] for r in held} <= {r["id"] for r in held_later}
    for n in (2, 3, 5):
        assert len(gate.split_held_out(_recs(n))[1]) >= 1


def _scores(user, general, nll=None):
    return {"user": {"score": user, "nll": nll}, "general": {"score": general}}


def test_kept_only_when_better_for_the_user_and_not_worse_beyond_the_margin():
    assert gate.decide(_scores(0.5, 0.6), _scores(0.7, 0.59))[0] is True
    kept, why = gate.decide(_scores(0.5, 0.6), _scores(0.5, 0.9))
    assert not kept and "no better" in why
    kept, why = gate.decide(_scores(0.5, 0.6), _scores(0.9, 0.5))
    assert not kept and "worse on general" in why


def test_a_tie_on_the_users_examples_is_broken_by_the_likelihood_of_their_right_plans():
    kept, why = gate.decide(_scores(1.0, 0.6, nll=0.40), _scores(1.0, 0.6, nll=0.30))
    assert kept and "more likely" in why
    kept, why = gate.decide(_scores(1.0, 0.6, nll=0.40), _scores(1.0, 0.6, nll=0.398))
    assert not kept and "likelihood" in why  # within the tie band
    assert not gate.decide(_scores(1.0, 0.6, nll=0.40), _scores(1.0, 0.5, nll=0.1))[0]
    assert not gate.decide(_scores(0.8, 0.6, nll=0.40), _scores(0.5, 0.6, nll=0.1))[0]


def test_general_sample_is_fixed_and_spread_over_scenarios():
    a, b = gate.general_records(9), gate.general_records(9)
    assert [r["id"] for r in a] == [r["id"] for r in b]
    assert len({r["scenario"] for r in a}) >= 3
    answers = gate.general_answer_records(10)
    assert [r["id"] for r in answers] == [r["id"] for r in gate.general_answer_records(10)]
    assert len({r["scenario"] for r in answers}) == 5 and all(r["facts"] for r in answers)


def _answers(nll, general):
    return {"user_answers": {"nll": nll}, "general_answers": {"score": general}}


def test_the_summarizers_adapter_is_kept_when_your_answers_grow_likelier_without_general_damage():
    kept, why = gate.decide_answers(_answers(0.50, 0.40), _answers(0.40, 0.38))
    assert kept and why.startswith("Kept") and "0.500 → 0.400" in why
    kept, why = gate.decide_answers(_answers(0.50, 0.40), _answers(0.498, 0.60))
    assert not kept and "no more likely" in why  # within the tie band
    kept, why = gate.decide_answers(_answers(0.50, 0.40), _answers(0.30, 0.34))
    assert not kept and "general answers are worse" in why
    kept, why = gate.decide_answers(_answers(0.50, 0.40), _answers(None, 0.40))
    assert not kept and "could be read" in why


# --- the schedule ----------------------------------------------------------------------------

NIGHT = datetime(2026, 12, 2, 2, 30)


@pytest.mark.parametrize("changes, now, idle, power, last, new, want, why", [
    ({}, NIGHT, 3600, None, None, 3, True, "new examples"),
    ({"learning_auto": False}, NIGHT, 3600, None, None, 3, False, "off"),
    ({}, NIGHT.replace(hour=14), 3600, None, None, 3, False, "Outside"),
    ({}, NIGHT, 3600, False, None, 3, False, "battery"),
    ({"learning_power_only": False}, NIGHT, 3600, False, None, 3, True, "new examples"),
    ({}, NIGHT, 60, True, None, 3, False, "idle"),
    ({}, NIGHT, 3600, True, NIGHT - timedelta(hours=2), 3, False, "Already"),
    ({}, NIGHT, 3600, True, NIGHT - timedelta(days=1), 0, False, "Nothing new"),
    ({"learning_hours": "22:00-03:00"}, NIGHT, 3600, True, None, 1, True, "new examples"),
    ({"learning_hours": "22:00-02:00"}, NIGHT, 3600, True, None, 1, False, "Outside"),
])
def test_an_automatic_night_starts_only_when_due(changes, now, idle, power, last, new, want, why):
    settings = Settings(**changes)
    due, reason = schedule.due(now, settings, idle_seconds=idle, on_power=power,
                               last_night=last, new_examples=new)
    assert due is want and why in reason


# --- the night's process -----------------------------------------------------------------------

def _script(tmp_path, body: str):
    path = tmp_path / "night.py"
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def _collect(proc, timeout=30):
    events = []
    proc.start(events.append)
    proc.wait(timeout)
    return events


def test_events_are_read_and_noise_ignored(tmp_path):
    argv = _script(tmp_path, """
        import json
        print("some library chatter")
        print(json.dumps({"event": "progress", "fraction": 0.5, "message": "half"}), flush=True)
        print(json.dumps({"event": "done", "night": {"status": "skipped"}}), flush=True)
    """)
    events = _collect(NightProcess(argv))
    assert [e["event"] for e in events] == ["progress", "done"]


def test_a_process_that_dies_without_a_result_reports_an_error(tmp_path):
    argv = _script(tmp_path, """
        import sys
        print("Traceback: boom", file=sys.stderr)
        sys.exit(3)
    """)
    events = _collect(NightProcess(argv))
    assert events[-1]["event"] == "error"
    assert "exit code 3" in events[-1]["message"] and "boom" in events[-1]["message"]


def test_the_error_waits_for_the_last_words_on_stderr(tmp_path, monkeypatch):
    # on a loaded machine the stderr thread may read after the process is gone (seen in a
    # full test run beside a training job): the message must still carry what it said
    argv = _script(tmp_path, """
        import sys
        print("boom: no model", file=sys.stderr)
        sys.exit(2)
    """)
    drain = NightProcess._drain_stderr

    def late(self, proc):
        time.sleep(1.0)
        drain(self, proc)

    monkeypatch.setattr(NightProcess, "_drain_stderr", late)
    events = _collect(NightProcess(argv))
    assert "exit code 2" in events[-1]["message"] and "boom: no model" in events[-1]["message"]


def test_pause_stops_the_night_and_its_children_and_cancel_ends_it(tmp_path):
    argv = _script(tmp_path, """
        import subprocess, sys, time, json
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print(json.dumps({"event": "stage", "stage": "train", "message": str(child.pid)}), flush=True)
        time.sleep(60)
    """)
    events = []
    proc = NightProcess(argv)
    proc.start(events.append)
    for _ in range(100):
        if events:
            break
        time.sleep(0.1)
    child = psutil.Process(int(events[0]["message"]))
    parent = psutil.Process(proc._proc.pid)
    proc.pause()
    time.sleep(0.3)
    assert parent.status() == psutil.STATUS_STOPPED and child.status() == psutil.STATUS_STOPPED
    proc.resume()
    time.sleep(0.3)
    assert parent.status() != psutil.STATUS_STOPPED and child.status() != psutil.STATUS_STOPPED
    proc.pause()
    proc.cancel(grace_s=5)  # a paused night can still be cancelled
    assert not proc.running
    proc.wait(5)
    assert events[-1]["event"] == "error"
    with pytest.raises(psutil.NoSuchProcess):
        for _ in range(50):
            child.status()
            time.sleep(0.1)


# --- rollback's refusals -----------------------------------------------------------------------

def test_roles_take_an_adapter_each_and_a_rollback_sets_them_all(tmp_path, smollm2_path):
    from tests.learning.helpers import random_adapter

    first = random_adapter(smollm2_path, nightly.adapter_of("20260101-000000-000000"))
    second = random_adapter(smollm2_path, nightly.adapter_of("20260102-000000-000000"), seed=1)
    nightly.activate(first, smollm2_path)
    assert nightly.active_roles_for(smollm2_path) == {"planner": first, "summarizer": first}
    nightly.activate(second, smollm2_path, roles=["planner"])
    assert nightly.active_roles_for(smollm2_path) == {"planner": second, "summarizer": first}
    active = json.loads((nightly.learning_dir() / "active.json").read_text(encoding="utf-8"))
    assert active["adapter"] == str(second)  # what a Hearth before roles read
    # a night's adapter goes back to the role it was trained for
    nightly.record(nightly.NightResult("20260101-000000-000000", "done", role="summarizer",
                                       adapter=str(first)))
    nightly.rollback(None, smollm2_path)
    nightly.rollback("20260101-000000-000000", smollm2_path)
    assert nightly.active_roles_for(smollm2_path) == {"planner": None, "summarizer": first}
    nightly.rollback("20260102-000000-000000", smollm2_path)  # not in the history: every role
    assert nightly.active_roles_for(smollm2_path) == {"planner": second, "summarizer": second}
    nightly.rollback(None, smollm2_path)
    assert nightly.active_roles() == {"planner": None, "summarizer": None}
    assert nightly.active_adapter() is None
    # another model's active adapters are not this one's
    nightly.activate(first, smollm2_path)
    assert nightly.active_roles_for(tmp_path / "other.gguf") == {"planner": None,
                                                                 "summarizer": None}


def test_an_active_file_from_before_roles_gives_every_role_its_adapter(smollm2_path):
    from tests.learning.helpers import random_adapter

    adapter = random_adapter(smollm2_path, nightly.adapter_of("20261201-031000-000000"))
    (nightly.learning_dir() / "active.json").write_text(json.dumps(
        {"adapter": str(adapter), "base_model": str(smollm2_path), "since": "2026-12-01"}))
    assert nightly.active_roles_for(smollm2_path) == {"planner": adapter, "summarizer": adapter}
    adapter.unlink()  # removed since: the base model for both
    assert nightly.active_roles_for(smollm2_path) == {"planner": None, "summarizer": None}


def test_rollback_to_a_missing_or_damaged_adapter_keeps_the_active_one(tmp_path, smollm2_path):
    nightly.activate(None, smollm2_path)
    before = (nightly.learning_dir() / "active.json").read_bytes()
    with pytest.raises(nightly.LearningError, match="no adapter"):
        nightly.rollback("20260101-000000-000000", smollm2_path)
    damaged = nightly.adapter_of("20260102-000000-000000")
    damaged.parent.mkdir(parents=True, exist_ok=True)
    damaged.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(nightly.LearningError, match="can't be used"):
        nightly.rollback("20260102-000000-000000", smollm2_path)
    assert (nightly.learning_dir() / "active.json").read_bytes() == before


def test_the_example_pool_is_the_shipped_split_then_the_users_consented_labels(db):
    from agent.planner import train_examples

    source.save_correction(db, "What did I say in memo.wav?", ["memo.wav"], PLAN)
    TrainingExamples(db).add("planner", source.request_turn("Secret memo.wav?", ["memo.wav"]),
                             json.dumps(PLAN), "cloud:big", False)
    unasked = {"steps": [*PLAN["steps"], "Save it"], "tasks": [*PLAN["tasks"], {
        "task": "memory-save", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}}]}
    TrainingExamples(db).add("planner", source.request_turn("What's in memo.wav?", ["memo.wav"]),
                             json.dumps(unasked), "cloud:big", True)  # saves though not asked
    pool = source.example_pool(db)
    shipped = train_examples()
    assert pool[:len(shipped)] == list(shipped)
    assert [r["instruction"] for r in pool[len(shipped):]] == ["What did I say in memo.wav?"]


def test_the_gates_cached_scores_are_for_one_example_pool():
    recs = _recs(3)
    assert gate.ScoreCache.key("m.gguf", None, recs, recs[:1]) != \
        gate.ScoreCache.key("m.gguf", None, recs, recs[:2])
    assert gate.ScoreCache.key("m.gguf", None, recs, recs[:1]) == \
        gate.ScoreCache.key("m.gguf", None, recs, recs[:1])


def test_a_night_uses_the_settings_measured_for_its_model_under_the_callers(monkeypatch):
    from agent import model_registry
    from sync.learning import app_night, train

    entry = ("{{id: {id}, title: x, role: x, license: x, size: 1, sha256: x, extra: x, "
             "parts: {{package: p, module: m, file: f, count: 1, version: 1}}{night}}}")
    registry = model_registry.load_registry("models: [" + ", ".join([
        entry.format(id="tuned", night=", night: {lr: 0.001, rank: 4}"),
        entry.format(id="plain", night="")]) + "]")
    monkeypatch.setattr(model_registry, "get_model", registry.__getitem__)
    tuned = app_night.night_config(Settings(model="tuned"))
    assert (tuned.lr, tuned.rank, tuned.top_layers) == (0.001, 4, train.LEAN["top_layers"])
    assert app_night.night_config(Settings(model="tuned"), {"lr": 3e-5}).lr == 3e-5
    plain = app_night.night_config(Settings(model="plain"))
    assert (plain.lr, plain.rank) == (train.TrainConfig.lr, train.LEAN["rank"])
