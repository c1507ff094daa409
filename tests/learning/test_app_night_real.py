"""A night for the app's user on the real SmolLM2-135M: labels from the database, training in
its own process, the gate on held-out and general examples, kept or rejected — and the app
then answering with whatever the gate left active."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.planbench.runner import app_plans_record, load_records
from memory.settings import Settings, save_settings
from sync.labels import TrainingExamples
from sync.learning import app_night, gate, nightly, source, train

pytestmark = pytest.mark.real_model
TINY = {"steps": 2, "min_steps": 2, "batch_size": 4, "micro_batch": 2, "nice": 0}


def _label(db, n: int) -> list[dict]:
    """n cloud-style planner labels from the Q2A train split (as sync.service stores them)."""
    records, _ = load_records("train")
    records = [r for r in records if app_plans_record(r)][:n]
    te = TrainingExamples(db)
    for r in records:
        stored = "Request: an earlier request\nFiles: none\n\n" + source.request_turn(
            r["instruction"], r.get("attachments", []))
        te.add("planner", stored, json.dumps(r["plan"]), "cloud:teacher", True)
    return records


def test_too_few_labels_skip_the_night_with_a_reason(db, smollm2_path):
    save_settings(db, Settings(model="smollm2-135m"))
    _label(db, 2)
    events = []
    (result,) = app_night.run(db, Settings(model="smollm2-135m"), emit=events.append)
    assert result.status == "skipped" and "needs" in result.reason
    assert nightly.history()[-1]["status"] == "skipped"
    assert not (nightly.learning_dir() / "nights").exists()  # nothing loaded, nothing trained


def test_learn_now_trains_gates_and_the_app_uses_what_the_gate_kept(db, smollm2_path):
    from agent.assistant import Assistant, llm_from_settings
    from memory.conversations import ConversationStore

    settings = Settings(model="smollm2-135m")
    save_settings(db, settings)
    _label(db, 6)
    events = []
    (result,) = app_night.run(db, settings, emit=events.append, config_overrides=TINY,
                              general_n=2)
    assert result.status == "done", result.reason
    stages = [e["stage"] for e in events if e["event"] == "stage"]
    assert stages[-3:] == ["train", "evaluate", "decide"]
    fractions = [e["fraction"] for e in events if e["event"] == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] > 0.9
    night = nightly.history()[-1]
    assert night["night"] == result.night and night["model"] == "smollm2-135m"
    g = night["gate"]
    assert g["before"]["user"]["n"] >= 1 and g["after"]["general"]["n"] == 2
    assert g["before"]["user"]["nll"] > 0 and g["after"]["user"]["nll"] > 0
    assert len(night["losses"]) == 2
    kept, why = gate.decide(g["before"], g["after"], g["margin"])
    assert night["kept"] is kept and night["reason"] == why
    assert night["role"] == "planner" and night["roles"] == (["planner"] if kept else [])
    assert nightly.active_roles_for(smollm2_path) == {
        "planner": nightly.adapter_of(result.night) if kept else None, "summarizer": None}
    if not kept:  # the user can still choose it in the learning window
        nightly.rollback(result.night, smollm2_path)
    store = ConversationStore(db)
    assistant = Assistant(store, settings, llm_factory=llm_from_settings)
    try:
        llm = assistant.llm()
        assert llm.for_role("planner").adapter == nightly.adapter_of(result.night)
        assert llm.lora_path is None  # a night of plans leaves the answers to the base model
        nightly.rollback(None, smollm2_path)  # back to the base model: the next call reloads
        assert assistant.llm().for_role("planner") is assistant.llm()
    finally:
        assistant.close()


def test_a_night_builds_on_the_adapter_in_use_and_after_a_rollback_starts_fresh(db, smollm2_path,
                                                                               monkeypatch):
    settings = Settings(model="smollm2-135m")
    save_settings(db, settings)
    records = _label(db, 6)
    earlier = nightly.run_night(records, smollm2_path, app_night.night_config(settings, TINY),
                                min_examples=1, general=1)
    assert earlier.status == "done" and nightly.lora_state_of(Path(earlier.adapter)).is_file()
    nightly.rollback(earlier.night, smollm2_path)
    events = []
    (tonight,) = app_night.run(db, settings, emit=events.append, config_overrides=TINY,
                               general_n=1)
    assert tonight.status == "done", tonight.reason
    assert tonight.started_from == earlier.night and tonight.start_note is None
    assert nightly.history()[-1]["started_from"] == earlier.night
    assert any("building on the adapter in use" in e.get("message", "") for e in events)

    nightly.rollback(None, smollm2_path)
    asked = []

    def prepare(*args, **kwargs):  # what the next night would start from; no third training
        asked.append(kwargs["start_from"])
        return None, nightly.NightResult("after-rollback", "skipped")

    monkeypatch.setattr(nightly, "prepare", prepare)
    app_night.run(db, settings, emit=lambda e: None, config_overrides=TINY, general_n=1)
    assert asked == [None]


def test_an_interrupted_night_is_resumed_by_the_next_one(db, smollm2_path):
    settings = Settings(model="smollm2-135m")
    save_settings(db, settings)
    _label(db, 6)
    # a night that got as far as its job (then the machine went off)
    records, _ = source.training_records(db)
    train_records, held = gate.split_held_out(records)
    job_dir, first = nightly.prepare(train_records, smollm2_path,
                                     app_night.night_config(settings, TINY), min_examples=1,
                                     extra={"app": True, "model": "smollm2-135m",
                                            "held_out": held})
    assert nightly.unfinished() == [job_dir]
    events = []
    (result,) = app_night.run(db, settings, emit=events.append, general_n=1)
    assert any("Resuming" in e.get("message", "") for e in events)
    assert result.night == first.night and result.status == "done"
    assert nightly.unfinished() == []
    assert (job_dir / train.RESULT).is_file()


def test_the_gates_likelihood_prefers_the_right_plan_to_a_wrong_one(smollm2_path):
    """reference_nll, the gate's tie-breaker, on the real model: a record's own plan is more
    likely than the same tasks with steps that have nothing to do with the request."""
    from agent.llama_cpp_llm import LlamaCppLLM

    records, _ = load_records("train")
    record = next(r for r in records if r["id"] == "audio-0057")
    wrong = json.loads(json.dumps(record))
    wrong["plan"]["steps"] = ["Look at the weather", "Order a pizza"]
    llm = LlamaCppLLM(smollm2_path, n_ctx=2048)
    try:
        right_nll = gate.reference_nll(llm, [record])
        wrong_nll = gate.reference_nll(llm, [wrong])
    finally:
        llm.close()
    assert 0 < right_nll < wrong_nll


def _answer_labels(db, n: int) -> None:
    """n cloud answers stored as sync.service stores them: the anonymized payload's user turn
    (the request, the experts' results, the cloud's note) and the reply, role summarizer."""
    from agent.answerbench.runner import load_records, run_plan
    from sync.anonymizer import Anonymizer
    from sync.payload import build_payload
    from sync.service import instruction_of

    anonymizer = Anonymizer()
    te = TrainingExamples(db)
    for rec in load_records("test")[:n]:
        built = build_payload(kind="answer", instruction=rec["instruction"],
                              results=run_plan(rec), files=rec["attachments"],
                              endpoint="http://127.0.0.1:9/v1", model="teacher",
                              anonymizer=anonymizer)
        te.add("summarizer", instruction_of(built.payload.to_dict()),
               "Here is what your files say (speech-to-text).", "cloud:teacher", True)


def test_each_role_trains_its_own_adapter_is_checked_on_its_own_examples_and_runs_it(
        db, smollm2_path):
    from agent.assistant import Assistant, llm_from_settings
    from memory.conversations import ConversationStore

    settings = Settings(model="smollm2-135m")
    save_settings(db, settings)
    _label(db, 6)
    _answer_labels(db, 6)
    events = []
    plans, answers = app_night.run(db, settings, emit=events.append, config_overrides=TINY,
                                   general_n=1, general_answers_n=2)
    assert (plans.role, answers.role) == ("planner", "summarizer")
    assert plans.status == answers.status == "done", (plans.reason, answers.reason)
    night = {r["role"]: r for r in nightly.history()[-2:]}
    assert night["planner"]["by_role"] == {"planner": plans.n_examples, "summarizer": 0}
    assert night["summarizer"]["by_role"] == {"planner": 0, "summarizer": answers.n_examples}
    g = night["summarizer"]["gate"]
    assert set(g["after"]) == {"user_answers", "general_answers"}
    assert set(night["planner"]["gate"]["after"]) == {"user", "general"}
    for side in ("before", "after"):
        assert g[side]["user_answers"]["nll"] > 0 and g[side]["general_answers"]["n"] == 2
    kept, why = gate.decide_answers(g["before"], g["after"], g["margin"])
    assert night["summarizer"]["kept"] is kept and night["summarizer"]["reason"] == why
    assert any("Answering a general example" in e.get("message", "") for e in events)
    fractions = [e["fraction"] for e in events if e["event"] == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] > 0.9
    roles = nightly.active_roles_for(smollm2_path)
    for result in (plans, answers):
        assert (roles[result.role] == Path(result.adapter)) is result.kept

    # the app plans with the planner's adapter and answers with the summarizer's
    nightly.rollback(plans.night, smollm2_path)
    nightly.rollback(answers.night, smollm2_path)
    assistant = Assistant(ConversationStore(db), settings, llm_factory=llm_from_settings)
    try:
        llm = assistant.llm()
        assert llm.lora_path == Path(answers.adapter)
        assert llm.for_role("planner").adapter == Path(plans.adapter)
    finally:
        assistant.close()


def test_the_gates_answer_likelihood_prefers_an_answer_from_the_results(smollm2_path):
    """answer_nll on the real model: an answer that repeats what the expert found is more
    likely than one that has nothing to do with it."""
    from agent import summarizer
    from agent.llama_cpp_llm import LlamaCppLLM

    tasks = [{"id": 0, "task": "speech-to-text", "args": {"audio": "memo.wav"}, "status": "done",
              "output": {"text": "Bring the red folder to the meeting on Friday.",
                         "language": "en"}, "error": None}]
    request = summarizer.user_turn("What does memo.wav say?", tasks)
    right = {"request": request, "with_results": True,
             "answer": "It says to bring the red folder to the meeting on Friday (speech-to-text)."}
    wrong = {**right, "answer": "Penguins cannot fly, but they swim very well in cold water."}
    llm = LlamaCppLLM(smollm2_path, n_ctx=2048)
    try:
        assert 0 < gate.answer_nll(llm, [right]) < gate.answer_nll(llm, [wrong])
    finally:
        llm.close()
