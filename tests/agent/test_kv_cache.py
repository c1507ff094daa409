"""The prompt-state cache on real llama.cpp: roles taking turns get their prefix back from the
saved state, and the text written is exactly what a cold context writes."""

from __future__ import annotations

import pytest

from agent.kv_cache import common_prefix

pytestmark = pytest.mark.real_model

SYSTEM_A = ("You are the planner. You split a request into steps over tools: speech-to-text, "
            "object-detection, pose-estimation, face-recognition, memory-search and memory-save. "
            "Answer with one line naming the tools in order, nothing else.")
SYSTEM_B = ("You are a kind assistant on a desktop computer. Answer in one short sentence, using "
            "the results the tools found, and say which tool found what.")


def chat(system: str, user: str) -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


TURNS = [chat(SYSTEM_A, "What did I say in memo.wav?"),
         chat(SYSTEM_B, "How many people are in the picture? object-detection: 4 person, 1 bus"),
         chat(SYSTEM_A, "Who is in photo.jpg and what are they doing?"),
         chat(SYSTEM_B, "What did I say? speech-to-text: call the dentist on Friday")]


@pytest.fixture
def llms(smollm2_path):
    from agent.llama_cpp_llm import LlamaCppLLM

    cached = LlamaCppLLM(smollm2_path, n_ctx=1024, n_threads=2)
    cold = LlamaCppLLM(smollm2_path, n_ctx=1024, n_threads=2, prompt_cache=False)
    yield cached, cold
    cached.close()
    cold.close()


def test_roles_taking_turns_read_their_prefix_once_and_write_the_same_text(llms):
    cached, cold = llms
    restored = []
    for messages in TURNS:
        a = cached.complete(messages, max_tokens=16, temperature=0.0)
        restored.append(cached.prompt_cache.restored_tokens)
        cold.load().reset()  # nothing reused: a cold context every time
        b = cold.complete(messages, max_tokens=16, temperature=0.0)
        assert a == b
    system_a = len(cached._prompt_tokens([TURNS[0][0]]))
    # the first two calls have nothing saved for their system prompt; the third and fourth
    # get it back although the other role ran in between
    assert restored[:2] == [0, 0]
    assert restored[2] >= system_a - 8 and restored[3] > 30
    assert len(cached.prompt_cache) == 2  # one state per role


def test_system_prompts_sharing_their_start_keep_a_state_each(llms):
    """The planner's prompt differs by the experts offered; its states must not evict each
    other although the prompts share their first sentence."""
    cached, _ = llms
    audio = SYSTEM_A
    images = SYSTEM_A.replace("speech-to-text, ", "").replace("memory-search and memory-save",
                                                                "memory-search")
    assert common_prefix(cached._prompt_tokens([chat(audio, "x")[0]]),
                         cached._prompt_tokens([chat(images, "x")[0]])) > 16
    cached.complete(chat(audio, "What did I say in memo.wav?"), max_tokens=4, temperature=0.0)
    cached.complete(chat(images, "How many people are in bus.jpg?"), max_tokens=4, temperature=0.0)
    cached.complete(TURNS[1], max_tokens=4, temperature=0.0)
    cached.complete(chat(audio, "Transcribe call.m4a"), max_tokens=4, temperature=0.0)
    assert cached.prompt_cache.restored_tokens >= cached._system_length(
        [chat(audio, "")[0]], cached._prompt_tokens(chat(audio, "Transcribe call.m4a"))) > 20
    assert len(cached.prompt_cache) == 3


def test_guided_plans_use_the_cache_and_match_a_cold_context(llms, smollm2_path):
    from agent.planner import Planner, ToolInfo

    cached, cold = llms
    tools = {"speech-to-text": ToolInfo("speech-to-text", "transcribe audio", {"audio": "audio"}),
             "object-detection": ToolInfo("object-detection", "find objects", {"image": "image"})}
    files = {"memo.wav": "audio", "bus.jpg": "image"}
    request = "what did I say, and how many people are in the picture?"
    first = Planner(cached).plan(request, files, tools)
    cached.complete(TURNS[1], max_tokens=8, temperature=0.0)  # the answer role evicts the plan
    second = Planner(cached).plan(request, files, tools)
    assert cached.last_guided["reused_tokens"] > 0.8 * cached.last_guided["prompt_tokens"]
    cold_plan = Planner(cold).plan(request, files, tools)
    assert first.raw == second.raw == cold_plan.raw


def test_a_state_that_does_not_load_is_dropped_and_the_prompt_read_in_full(llms):
    cached, cold = llms
    cached.complete(TURNS[0], max_tokens=4, temperature=0.0)
    cached.complete(TURNS[1], max_tokens=4, temperature=0.0)
    entry = next(e for e in cached.prompt_cache._entries
                 if common_prefix(e.tokens, cached._prompt_tokens(TURNS[2])) > 20)
    entry.size = 16  # a truncated state: llama.cpp refuses it
    answer = cached.complete(TURNS[2], max_tokens=16, temperature=0.0)
    assert cached.prompt_cache.restored_tokens == 0
    assert entry not in cached.prompt_cache._entries
    assert answer == cold.complete(TURNS[2], max_tokens=16, temperature=0.0)
