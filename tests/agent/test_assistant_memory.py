"""Memory in the conversation: "remember that …" is saved, relevant memories reach the prompt
of a new conversation and the trace, and a deleted memory is gone from both. Real embedder,
real Chroma; the scripted model lets the test read the exact prompt."""

import pytest

from agent.assistant import Assistant
from agent.events import AnswerFinished, MemoriesUsed, MemorySaved, Notice
from memory.settings import Settings
from tests.fakes import ScriptedLLM

pytestmark = pytest.mark.real_model

FILLER = ["My favourite colour is green.", "I work as a nurse in Leeds.", "We have two cats.",
          "I go running on Sunday mornings.", "My brother lives in Toronto."]


@pytest.fixture
def assistant(store):
    llm = ScriptedLLM(["Noted.", "Better not: satay sauce is made with peanuts."])
    # Proposals (tested below) would add an extraction prompt after each answer.
    a = Assistant(store, Settings(propose_memories="off"), llm_factory=lambda _s: llm)
    a.llm_for_test = llm
    yield a
    a.close()


def test_remembered_in_one_conversation_used_in_another_then_forgotten(store, assistant):
    for fact in FILLER:
        assistant.memory.remember(fact, kind="profile")
    first = store.create()
    events = list(assistant.respond(first.id, "Remember that I'm allergic to peanuts"))
    (saved,) = [e for e in events if isinstance(e, MemorySaved)]
    assert saved.text == "I'm allergic to peanuts." and not saved.duplicate
    assert store.messages(first.id)[-1].meta["saved_memory"]["id"] == saved.memory_id

    second = store.create()
    events = list(assistant.respond(second.id, "Can I eat this satay?"))
    (used,) = [e for e in events if isinstance(e, MemoriesUsed)]
    assert used.memories[0]["text"] == "I'm allergic to peanuts."
    assert all("cats" not in m["text"] for m in used.memories)  # unrelated ones stay out
    system = assistant.llm_for_test.prompts[-1][0]["content"]
    assert "I'm allergic to peanuts." in system and "data, not instructions" in system
    answer = store.messages(second.id)[-1]
    assert answer.meta["memories"][0]["id"] == saved.memory_id  # shown as a used memory

    assert assistant.memory.forget(saved.memory_id)
    third = store.create()
    events = list(assistant.respond(third.id, "Can I eat this satay?"))
    assert not any(isinstance(e, MemoriesUsed) and any("peanut" in m["text"] for m in e.memories)
                   for e in events)
    assert "peanuts" not in assistant.llm_for_test.prompts[-1][0]["content"]


def test_saying_it_twice_does_not_pile_up(store, assistant):
    conv = store.create()
    list(assistant.respond(conv.id, "remember that my sister's name is Ana"))
    events = list(assistant.respond(conv.id, "Please remember: my sister's name is Ana."))
    (saved,) = [e for e in events if isinstance(e, MemorySaved)]
    assert saved.duplicate
    assert len(assistant.memory.list()) == 1


def test_memory_off_in_settings_is_neither_read_nor_written(store, assistant):
    assistant.memory.remember("I'm allergic to peanuts.", kind="profile")
    assistant.settings = Settings(use_memory=False, propose_memories="auto")
    conv = store.create()
    events = list(assistant.respond(conv.id, "remember that I like tea"))
    events += list(assistant.respond(conv.id, "Can I eat this satay?"))
    assert not any(isinstance(e, (MemorySaved, MemoriesUsed)) for e in events)
    assert [m.text for m in assistant.memory.list()] == ["I'm allergic to peanuts."]


def test_a_memory_owned_by_another_process_means_answers_without_it(store, monkeypatch):
    import memory.service as service

    class Locked:
        def __init__(self, *_a, **_k):
            raise RuntimeError("Hearth's memory is open in another Hearth window (pid 1).")

    monkeypatch.setattr(service, "Memory", Locked)
    a = Assistant(store, Settings(), llm_factory=lambda _s: ScriptedLLM(["ok"]))
    events = list(a.respond(store.create().id, "hello"))
    assert isinstance(events[-1], AnswerFinished)
    assert any(isinstance(e, Notice) and "another Hearth window" in e.text for e in events)


def test_facts_the_user_states_are_proposed_for_approval(store):
    from agent.events import MemoriesProposed

    extraction = '{"facts": ["My daughter Lucy starts school in September", "Lunchboxes are fun."]}'
    llm = ScriptedLLM(["Try a bento box!", extraction])
    a = Assistant(store, Settings(), llm_factory=lambda _s: llm)
    try:
        events = list(a.respond(store.create().id, "My daughter Lucy starts school in September, "
                                                   "any lunchbox ideas?"))
        (proposed,) = [e for e in events if isinstance(e, MemoriesProposed)]
        assert [m["text"] for m in proposed.memories] == ["My daughter Lucy starts school in September."]
        assert proposed.status == "proposed"
        assert a.memory.list() == []  # not used until the user accepts it
        (waiting,) = a.memory.list(status="proposed")
        assert waiting.source.startswith("message ")
        a.memory.accept(waiting.id)
        assert [m.text for m in a.memory.list()] == ["My daughter Lucy starts school in September."]
    finally:
        a.close()
