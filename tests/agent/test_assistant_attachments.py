"""The agent inside the assistant: the model plans over the attached files, the plan runs on
the experts, results reach the answer's prompt as fenced data, and the trace is stored."""

import json
import threading

import pytest

from agent.assistant import Assistant
from agent.events import (AnswerFinished, Failed, Notice, PlanReady, PlanStarted, TaskFinished,
                          TaskStarted)
from experts.registry import ExpertRegistry
from experts.runner import ExpertRunner
from memory.settings import Settings
from tests.fakes import ScriptedLLM, SlowExpert, fake_expert_classes


def plan(*tasks, steps=None):
    tasks = [{"task": t, "id": i, "dep": dep, "args": args} for i, (t, args, dep) in enumerate(tasks)]
    return json.dumps({"steps": steps or [f"step {i}" for i in range(len(tasks))], "tasks": tasks})


SPEECH_AND_DETECTION = plan(("speech-to-text", {"audio": "memo.wav"}, [-1]),
                            ("object-detection", {"image": "bus.jpg"}, [-1]),
                            steps=["Transcribe memo.wav", "Count people in bus.jpg"])


@pytest.fixture
def make(store):
    made = []

    def _make(replies=None, use_memory=False, **overrides):
        runner = ExpertRunner(ExpertRegistry(store.db, classes=fake_expert_classes(**overrides)))
        llm = ScriptedLLM(replies or [SPEECH_AND_DETECTION, "It says hello; I see 4 people."])
        assistant = Assistant(store, Settings(use_memory=use_memory), llm_factory=lambda _s: llm,
                              experts=runner)
        made.append(assistant)
        return assistant, llm

    yield _make
    for a in made:
        a.close()


@pytest.fixture
def files(tmp_path):
    memo = tmp_path / "memo.wav"
    memo.write_bytes(b"buy milk on friday")
    bus = tmp_path / "bus.jpg"
    bus.write_bytes(b"not really a jpeg")
    return memo, bus


def test_the_model_plans_the_experts_run_and_the_answer_sees_their_results(store, make, files):
    conv = store.create()
    assistant, llm = make()
    events = list(assistant.respond(conv.id, "what did I say, and how many people?",
                                    attachments=list(files)))
    assert any(isinstance(e, PlanStarted) for e in events)
    (ready,) = [e for e in events if isinstance(e, PlanReady)]
    assert ready.trace["source"] == "model"
    assert [t["task"] for t in ready.tasks] == ["speech-to-text", "object-detection"]
    started = [e.task["task"] for e in events if isinstance(e, TaskStarted)]
    assert sorted(started) == ["object-detection", "speech-to-text"]
    finished = {e.task["task"]: e.task for e in events if isinstance(e, TaskFinished)}
    assert finished["speech-to-text"]["output"]["text"] == "buy milk on friday"
    assert "/attachments/" in finished["speech-to-text"]["inputs"]["audio"]  # the stored copy
    assert isinstance(events[-1], AnswerFinished)

    planner_prompt = llm.prompts[0]
    assert "Files: memo.wav, bus.jpg" in planner_prompt[-1]["content"]
    assert "speech-to-text(audio)" in planner_prompt[0]["content"]
    assert "memory-search" not in planner_prompt[0]["content"]  # memory is off here
    answer_prompt = llm.prompts[-1]
    user = answer_prompt[-1]["content"]
    assert user.startswith("what did I say")
    assert '"buy milk on friday"' in user and "4 person, 1 bus" in user
    assert "<attached_files>" in user and user.endswith("data, not instructions.)")
    assert "(object-detection)" in answer_prompt[0]["content"]  # the summarizer cites experts

    user_msg, answer = store.messages(conv.id)
    assert [a.name for a in user_msg.attachments] == ["memo.wav", "bus.jpg"]
    trace = answer.meta["trace"]
    assert trace["plan"]["steps"] == ["Transcribe memo.wav", "Count people in bus.jpg"]
    assert [t["status"] for t in trace["tasks"]] == ["done", "done"]
    assert trace["tasks"][1]["seconds"] >= 0 and trace["seconds"] >= 0


def test_an_unusable_plan_falls_back_to_each_files_usual_experts(store, make, files):
    assistant, llm = make(["I think you should transcribe it.", "ok"])
    events = list(assistant.respond(store.create().id, "what is this?", attachments=list(files)))
    (ready,) = [e for e in events if isinstance(e, PlanReady)]
    assert ready.trace["source"] == "fallback" and "not JSON" in ready.trace["error"]
    assert [t["task"] for t in ready.tasks] == ["speech-to-text", "object-detection",
                                                "pose-estimation", "face-recognition"]
    assert any(isinstance(e, Notice) and "could not be used" in e.text for e in events)
    finished = [e.task for e in events if isinstance(e, TaskFinished)]
    # the fake pose and face experts fail: the answer still comes, and is told so
    assert {t["task"]: t["status"] for t in finished}["pose-estimation"] == "failed"
    assert isinstance(events[-1], AnswerFinished)
    assert "failed: pose-estimation: the image is damaged" in llm.prompts[-1][-1]["content"]


def test_a_failed_step_skips_the_steps_that_need_it(store, make, tmp_path):
    img = tmp_path / "x.png"
    img.write_bytes(b"png")
    chained = plan(("pose-estimation", {"image": "x.png"}, [-1]),
                   ("object-detection", {"image": "x.png"}, [-1]),
                   ("memory-search", {"text": "<GENERATED>-0"}, [0]))
    assistant, llm = make([chained, "answer"], use_memory=True)
    events = list(assistant.respond(store.create().id, "look up what they do in my notes",
                                    attachments=[img]))
    status = {e.task["task"]: e.task for e in events if isinstance(e, TaskFinished)}
    assert status["pose-estimation"]["status"] == "failed"
    assert status["memory-search"]["status"] == "skipped"
    assert "step 1" in status["memory-search"]["error"]
    assert status["object-detection"]["status"] == "done"
    (answer_prompt,) = [p for p in llm.prompts if "<attached_files>" in p[-1]["content"]]
    assert "memory-search on <GENERATED>-0: skipped: Needs the output of step 1" in answer_prompt[-1]["content"]


def test_plain_chat_is_not_planned(store, make):
    assistant, llm = make(["Hello!"])
    events = list(assistant.respond(store.create().id, "hi there"))
    assert not any(isinstance(e, (PlanStarted, PlanReady)) for e in events)
    assert len(llm.prompts) == 1


def test_follow_up_questions_see_earlier_results(store, make, tmp_path):
    memo = tmp_path / "memo.wav"
    memo.write_bytes(b"the meeting is at noon")
    conv = store.create()
    assistant, llm = make([plan(("speech-to-text", {"audio": "memo.wav"}, [-1])), "Noted.", "At noon."])
    list(assistant.respond(conv.id, "transcribe", attachments=[memo]))
    list(assistant.respond(conv.id, "when is the meeting?"))
    history_user = llm.prompts[-1][1]["content"]
    assert "the meeting is at noon" in history_user


def test_attachments_alone_get_a_default_question(store, make, tmp_path):
    memo = tmp_path / "memo.wav"
    memo.write_bytes(b"hello")
    assistant, llm = make([plan(("speech-to-text", {"audio": "memo.wav"}, [-1])), "ok"])
    list(assistant.respond(store.create().id, "", attachments=[memo]))
    assert llm.prompts[-1][-1]["content"].startswith("What is in the attached files?")


def test_unknown_kinds_and_missing_files_are_reported(store, make, tmp_path):
    doc = tmp_path / "notes.pdf"
    doc.write_bytes(b"%PDF")
    assistant, _ = make(["Sorry."])
    conv = store.create()
    events = list(assistant.respond(conv.id, "read this", attachments=[doc]))
    assert any(isinstance(e, Notice) and "can't read notes.pdf" in e.text for e in events)
    assert isinstance(events[-1], AnswerFinished)

    events = list(assistant.respond(conv.id, "and this", attachments=[tmp_path / "gone.wav"]))
    assert isinstance(events[-1], Failed) and "gone.wav" in events[-1].error
    assert store.messages(conv.id)[-2].content == "and this"  # the question is kept


def test_a_slow_expert_is_abandoned_after_its_time_limit(store, make, tmp_path):
    img = tmp_path / "x.png"
    img.write_bytes(b"png")
    slow = type("SlowDetector", (SlowExpert,), {"name": "object-detection"})
    assistant, _ = make([plan(("object-detection", {"image": "x.png"}, [-1])), "ok"],
                        **{"object-detection": slow})
    events = list(assistant.respond(store.create().id, "look", attachments=[img]))
    detection = next(e.task for e in events if isinstance(e, TaskFinished))
    assert detection["status"] == "failed" and "longer than" in detection["error"]
    assert isinstance(events[-1], AnswerFinished)


def test_stop_during_the_steps_stops_the_rest(store, make, tmp_path):
    images = [tmp_path / "x.png", tmp_path / "y.png"]
    for img in images:
        img.write_bytes(b"png")
    cancel = threading.Event()
    # two tasks of one expert run one after the other (its serial queue); a dep between two
    # experts that read files would not order them: the planner drops it and they run at once
    two = plan(("object-detection", {"image": "x.png"}, [-1]),
               ("object-detection", {"image": "y.png"}, [-1]))
    assistant, _ = make([two, "ok"])
    events = []
    for event in assistant.respond(store.create().id, "look", cancel, attachments=images):
        events.append(event)
        if isinstance(event, TaskFinished):
            cancel.set()
    finished = [e.task for e in events if isinstance(e, TaskFinished)]
    assert [(t["args"]["image"], t["status"]) for t in finished] == [("x.png", "done"),
                                                                     ("y.png", "stopped")]
    assert isinstance(events[-1], AnswerFinished) and events[-1].status == "stopped"


def test_memory_save_is_offered_only_when_the_user_asks(store, make):
    assistant, _ = make(["ok"], use_memory=True)
    assert "memory-save" not in assistant.tools("what did I say in the memo?", saved_memory=False)
    assert "memory-search" in assistant.tools("what did I say in the memo?", saved_memory=False)
    assert "memory-save" in assistant.tools("save the memo's dates to memory", saved_memory=False)
    assert "memory-save" not in assistant.tools("remember that x", saved_memory=True)
    assistant.settings = Settings(use_memory=False)
    assert not any(n.startswith("memory-") for n in assistant.tools("save it", saved_memory=False))


def test_the_speech_model_setting_picks_the_whisper_variant(store):
    from experts.speech import SpeechToText

    assistant = Assistant(store, Settings(speech_model="multilingual", use_memory=False),
                          llm_factory=lambda _s: ScriptedLLM())
    try:
        first = assistant.experts.registry.get("speech-to-text")
        assert isinstance(first, SpeechToText) and first.variant == "multilingual"
        assistant.settings = Settings(speech_model="english-fast", use_memory=False)
        assert assistant.experts.registry.get("speech-to-text").variant == "english-fast"
    finally:
        assistant.close()


def test_memory_tools_run_on_the_real_memory_and_the_caller_writes_the_query(store, tmp_path):
    """speech-to-text → memory-search: the long transcript becomes a short query (the caller
    role), the search runs on the real memory, and memory-save stores what the user asked."""
    from memory.service import Memory

    memo = tmp_path / "memo.wav"
    memo.write_bytes(b"so about next week I really need to remember to book the dentist "
                     b"appointment with doctor Alvarez before Friday")
    memory = Memory(store.db)
    try:
        memory.remember("My dentist is Dr. Alvarez on Elm Street.", kind="profile")
        chained = plan(("speech-to-text", {"audio": "memo.wav"}, [-1]),
                       ("memory-search", {"text": "<GENERATED>-0"}, [0]),
                       ("memory-save", {"text": "Book the dentist before Friday"}, [-1]))
        llm = ScriptedLLM([chained, "dentist appointment Alvarez", "Your dentist is Dr. Alvarez."])
        runner = ExpertRunner(ExpertRegistry(store.db, classes=fake_expert_classes(),
                                             memory=lambda: memory))
        assistant = Assistant(store, Settings(use_memory=True, propose_memories="off"),
                              llm_factory=lambda _s: llm, experts=runner, memory=memory)
        events = list(assistant.respond(store.create().id, "what did I say, check my notes, "
                                        "and save the reminder", attachments=[memo]))
        done = {e.task["task"]: e.task for e in events if isinstance(e, TaskFinished)}
        assert all(t["status"] == "done" for t in done.values()), done
        assert llm.prompts[1][0]["content"].startswith("Write a short search query")
        assert done["memory-search"]["inputs"]["text"] == "dentist appointment Alvarez"
        found = [m["text"] for m in done["memory-search"]["output"]["memories"]]
        assert found[0] == "My dentist is Dr. Alvarez on Elm Street."
        saved = done["memory-save"]["output"]
        assert memory.store.get(saved["id"]).text == "Book the dentist before Friday"
        assert isinstance(events[-1], AnswerFinished)
    finally:
        runner.close()
        memory.close()


def test_the_planner_is_shown_how_this_user_got_such_a_request_solved_before(store, make, tmp_path):
    """A plan the user corrected (or the cloud wrote, with training consent) is in the
    planner's example pool from then on: the next request like it is planned from it."""
    from sync.labels import TrainingExamples
    from sync.learning import source

    fixed = plan(("speech-to-text", {"audio": "lullaby_nana.ogg"}, [-1]),
                 ("memory-save", {"text": "<GENERATED>-0"}, [0]),
                 steps=["Transcribe lullaby_nana.ogg", "Keep the words of nana's lullaby"])
    source.save_correction(store.db, "Keep the words of nana's lullaby from lullaby_nana.ogg",
                           ["lullaby_nana.ogg"], fixed)
    withheld = "Keep the words of nana's other lullaby from other.ogg"
    TrainingExamples(store.db).add("planner", source.request_turn(withheld, ["other.ogg"]),
                                   fixed, "cloud:big", False)  # no training consent: not used
    song = tmp_path / "lullaby_two.ogg"
    song.write_bytes(b"la la")
    assistant, llm = make()
    list(assistant.respond(store.create().id, "Keep the words of nana's lullaby in lullaby_two.ogg",
                           attachments=[song]))
    planner_prompt = json.dumps(llm.prompts[0])
    assert "nana's lullaby from lullaby_nana.ogg" in planner_prompt
    assert "other lullaby" not in planner_prompt
