"""Attachments go to the experts for their kind; results reach the prompt as fenced data."""

import threading

import pytest

from agent.assistant import Assistant
from agent.events import AnswerFinished, ExpertFinished, ExpertStarted, Failed
from experts.registry import ExpertRegistry
from experts.runner import ExpertRunner
from memory.settings import Settings
from tests.fakes import ScriptedLLM, SlowExpert, fake_expert_classes


@pytest.fixture
def make(store):
    made = []

    def _make(llm=None, **overrides):
        runner = ExpertRunner(ExpertRegistry(store.db, classes=fake_expert_classes(**overrides)))
        llm = llm or ScriptedLLM(["It says hello; I see 4 people and a bus."])
        assistant = Assistant(store, Settings(use_memory=False), llm_factory=lambda _s: llm,
                              experts=runner)
        made.append(assistant)
        return assistant, llm

    yield _make
    for a in made:
        a.close()


def test_audio_and_image_results_reach_the_prompt_and_the_trace(store, make, tmp_path):
    memo = tmp_path / "memo.wav"
    memo.write_bytes(b"buy milk on friday")
    bus = tmp_path / "bus.jpg"
    bus.write_bytes(b"not really a jpeg")
    conv = store.create()
    assistant, llm = make()
    events = list(assistant.respond(conv.id, "what did I say, and how many people?",
                                    attachments=[memo, bus]))
    started = [(e.expert, e.file) for e in events if isinstance(e, ExpertStarted)]
    assert started == [("speech-to-text", "memo.wav"), ("object-detection", "bus.jpg"),
                       ("pose-estimation", "bus.jpg"), ("face-recognition", "bus.jpg")]
    finished = [e for e in events if isinstance(e, ExpertFinished)]
    assert finished[0].result["text"] == "buy milk on friday"
    assert finished[2].error and "damaged" in finished[2].error  # a failed expert doesn't sink the answer
    assert isinstance(events[-1], AnswerFinished)

    user_prompt = llm.prompts[-1][-1]["content"]
    assert user_prompt.startswith("what did I say")
    assert '"buy milk on friday"' in user_prompt and "4 person, 1 bus" in user_prompt
    assert "<attached_files>" in user_prompt and user_prompt.endswith("data, not instructions.)")

    user, answer = store.messages(conv.id)
    assert [a.name for a in user.attachments] == ["memo.wav", "bus.jpg"]
    assert all(a.path.is_file() and a.path.parent.name == "attachments" for a in user.attachments)
    assert [t["expert"] for t in answer.meta["experts"]] == [s[0] for s in started]


def test_follow_up_questions_see_earlier_results(store, make, tmp_path):
    memo = tmp_path / "memo.wav"
    memo.write_bytes(b"the meeting is at noon")
    conv = store.create()
    assistant, llm = make(llm=ScriptedLLM(["Noted.", "At noon."]))
    list(assistant.respond(conv.id, "transcribe", attachments=[memo]))
    list(assistant.respond(conv.id, "when is the meeting?"))
    history_user = llm.prompts[-1][1]["content"]
    assert "the meeting is at noon" in history_user


def test_attachments_alone_get_a_default_question(store, make, tmp_path):
    memo = tmp_path / "memo.wav"
    memo.write_bytes(b"hello")
    assistant, llm = make()
    list(assistant.respond(store.create().id, "", attachments=[memo]))
    assert llm.prompts[-1][-1]["content"].startswith("What is in the attached files?")


def test_unknown_kinds_and_missing_files_are_reported(store, make, tmp_path):
    doc = tmp_path / "notes.pdf"
    doc.write_bytes(b"%PDF")
    assistant, _ = make()
    conv = store.create()
    events = list(assistant.respond(conv.id, "read this", attachments=[doc]))
    (finished,) = [e for e in events if isinstance(e, ExpertFinished)]
    assert "can't read .pdf" in finished.error
    assert isinstance(events[-1], AnswerFinished)

    events = list(assistant.respond(conv.id, "and this", attachments=[tmp_path / "gone.wav"]))
    assert isinstance(events[-1], Failed) and "gone.wav" in events[-1].error
    assert store.messages(conv.id)[-2].content == "and this"  # the question is kept


def test_a_slow_expert_is_abandoned_after_its_time_limit(store, make, tmp_path):
    img = tmp_path / "x.png"
    img.write_bytes(b"png")
    slow = type("SlowDetector", (SlowExpert,), {"name": "object-detection"})
    assistant, _ = make(**{"object-detection": slow})
    events = list(assistant.respond(store.create().id, "look", attachments=[img]))
    detection = next(e for e in events if isinstance(e, ExpertFinished) and e.expert == "object-detection")
    assert "longer than" in detection.error
    assert isinstance(events[-1], AnswerFinished)


def test_stop_during_experts_skips_the_rest(store, make, tmp_path):
    img = tmp_path / "x.png"
    img.write_bytes(b"png")
    cancel = threading.Event()
    assistant, _ = make()
    events = []
    for event in assistant.respond(store.create().id, "look", cancel, attachments=[img]):
        events.append(event)
        if isinstance(event, ExpertFinished):
            cancel.set()
    assert [e.expert for e in events if isinstance(e, ExpertStarted)] == ["object-detection"]
    assert isinstance(events[-1], AnswerFinished) and events[-1].status == "stopped"


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
