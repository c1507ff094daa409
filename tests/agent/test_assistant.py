import threading

import pytest

from agent.assistant import Assistant
from agent.context import MessageRejected
from agent.events import AnswerFinished, AnswerStarted, Failed, Notice, Token, UserMessageSaved
from agent.llm import ModelLoadError
from memory.settings import Settings
from tests.fakes import ScriptedLLM


def make(store, llm, **settings):
    made = []

    def factory(s):
        made.append(s)
        return llm

    settings.setdefault("use_memory", False)  # memory has its own tests (test_assistant_memory)
    return Assistant(store, Settings(**settings), llm_factory=factory), made


def test_an_answer_is_streamed_and_stored(store):
    conv = store.create()
    assistant, _ = make(store, ScriptedLLM(["Paris is the capital."]))
    events = list(assistant.respond(conv.id, "Capital of France?"))
    kinds = [type(e) for e in events]
    assert kinds[0] is UserMessageSaved and kinds[-1] is AnswerFinished
    assert AnswerStarted in kinds
    assert "".join(e.text for e in events if isinstance(e, Token)) == "Paris is the capital."
    user, answer = store.messages(conv.id)
    assert (user.role, user.content) == ("user", "Capital of France?")
    assert (answer.role, answer.content, answer.status) == ("assistant", "Paris is the capital.", "done")
    assert answer.meta["completion_tokens"] == 4


def test_history_goes_to_the_model_and_the_model_is_loaded_once(store):
    conv = store.create()
    llm = ScriptedLLM(["first answer", "second answer"])
    assistant, made = make(store, llm)
    list(assistant.respond(conv.id, "first"))
    list(assistant.respond(conv.id, "second"))
    assert len(made) == 1
    prompt = llm.prompts[-1]
    assert [m["role"] for m in prompt] == ["system", "user", "assistant", "user"]
    assert [m["content"] for m in prompt[1:]] == ["first", "first answer", "second"]


def test_changing_the_model_setting_closes_the_old_model(store):
    llm = ScriptedLLM()
    assistant, made = make(store, llm)
    conv = store.create()
    list(assistant.respond(conv.id, "hi"))
    assistant.settings = Settings(model="smollm2-135m", use_memory=False)
    list(assistant.respond(conv.id, "hi again"))
    assert len(made) == 2 and llm.closed == 1


def test_stop_keeps_the_partial_answer(store):
    conv = store.create()
    cancel = threading.Event()
    assistant, _ = make(store, ScriptedLLM(["one two three four five six"]))
    events = []
    for event in assistant.respond(conv.id, "count", cancel):
        events.append(event)
        if isinstance(event, Token) and event.text.strip() == "two":
            cancel.set()
    assert isinstance(events[-1], AnswerFinished) and events[-1].status == "stopped"
    answer = store.messages(conv.id)[-1]
    assert answer.status == "stopped" and answer.content == "one two"


def test_a_model_that_will_not_load_fails_clearly_and_keeps_the_conversation(store):
    conv = store.create()

    def broken(_settings):
        raise ModelLoadError("llama.cpp could not load x.gguf. Reinstall it with: pip install y")

    assistant = Assistant(store, Settings(use_memory=False), llm_factory=broken)
    events = list(assistant.respond(conv.id, "hello?"))
    assert isinstance(events[-1], Failed) and "pip install y" in events[-1].error
    user, answer = store.messages(conv.id)
    assert user.content == "hello?"
    assert answer.status == "error" and "pip install y" in answer.meta["error"]


def test_a_model_crash_mid_answer_keeps_what_was_said(store):
    conv = store.create()
    assistant, _ = make(store, ScriptedLLM(["a b c d"], fail_with=RuntimeError("boom")))
    events = list(assistant.respond(conv.id, "go"))
    assert isinstance(events[-1], Failed) and "boom" in events[-1].error
    answer = store.messages(conv.id)[-1]
    assert answer.status == "error" and answer.content == "a b"


@pytest.mark.parametrize("text", ["", "   ", "x" * 100_001])
def test_rejected_messages_store_nothing(store, text):
    conv = store.create()
    assistant, made = make(store, ScriptedLLM())
    with pytest.raises(MessageRejected):
        list(assistant.respond(conv.id, text))
    assert store.messages(conv.id) == [] and made == []


def test_a_full_context_drops_old_history_with_a_notice(store):
    conv = store.create()
    for i in range(30):
        store.add_message(conv.id, "user", f"question {i} " + "word " * 40)
        store.add_message(conv.id, "assistant", f"answer {i} " + "word " * 40)
    llm = ScriptedLLM(["ok"], n_ctx=512)
    assistant, _ = make(store, llm, max_tokens=64)
    events = list(assistant.respond(conv.id, "latest"))
    assert any(isinstance(e, Notice) and "left out" in e.text for e in events)
    assert isinstance(events[-1], AnswerFinished)
    prompt = llm.prompts[-1]
    assert sum(len(m["content"].split()) + 8 for m in prompt) <= 512 - 64
    assert "answer 29" in prompt[-2]["content"]


def test_interrupted_answers_are_replayed_but_failed_ones_are_not(store):
    conv = store.create()
    store.add_message(conv.id, "user", "q1")
    store.add_message(conv.id, "assistant", "partial", status="interrupted")
    store.add_message(conv.id, "user", "q2")
    store.add_message(conv.id, "assistant", "", status="error")
    llm = ScriptedLLM(["fine"])
    assistant, _ = make(store, llm)
    list(assistant.respond(conv.id, "q3"))
    assert [m["content"] for m in llm.prompts[-1][1:]] == ["q1", "partial", "q2", "q3"]


def test_warm_up_loads_the_model_and_reads_the_system_prompt(store):
    llm = ScriptedLLM(["x"])
    assistant, made = make(store, llm)
    assistant.warm_up()
    assert len(made) == 1 and assistant.model_loaded
    assert llm.prompts[0][0]["role"] == "system"
    list(assistant.respond(store.create().id, "hi"))
    assert len(made) == 1
