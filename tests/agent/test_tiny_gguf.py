"""The tiny random-weight GGUF (tests/tiny_gguf.py) through the REAL llama.cpp, in milliseconds."""

import os

os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # before llama_cpp loads: idle OpenMP threads sleep

import json
import time

import pytest

from agent.llama_cpp_llm import LlamaCppLLM
from tests.tiny_gguf import write_tiny_llama


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    return write_tiny_llama(tmp_path_factory.mktemp("tiny_gguf") / "tiny-llama.gguf")


@pytest.fixture(scope="module")
def tiny_llm(tiny_gguf):
    llm = LlamaCppLLM(tiny_gguf, n_ctx=512, n_threads=1)
    yield llm
    llm.close()


def test_file_is_small_and_loads_fast(tiny_gguf):
    assert tiny_gguf.stat().st_size < 1_000_000
    llm = LlamaCppLLM(tiny_gguf, n_ctx=512, n_threads=1)
    start = time.perf_counter()
    llama = llm.load()
    assert time.perf_counter() - start < 2.0
    assert llm.loaded
    assert llama.n_ctx() == 512
    assert llama.metadata["general.architecture"] == "llama"
    llm.close()
    assert not llm.loaded


def test_tokenize_detokenize_round_trips(tiny_llm):
    llama = tiny_llm.load()
    for text in ("hello world", "I think the people know, yes!", "Ünïcode 🙂 ok"):
        tokens = llama.tokenize(text.encode("utf-8"))  # with BOS, as prompts are
        assert tokens[0] == llama.token_bos()
        assert llama.detokenize(tokens).decode("utf-8") == text
        # SentencePiece prefixes a space; llama-cpp-python strips it only after a BOS token.
        no_bos = llama.tokenize(text.encode("utf-8"), add_bos=False)
        assert llama.detokenize(no_bos).decode("utf-8") == " " + text
    # Whole words are single pieces; chat markers parse as single control tokens.
    assert len(llama.tokenize(b"hello world", add_bos=False)) == 2
    assert tiny_llm.count_tokens("<|im_start|>user\nhi<|im_end|>") < 10
    assert llama.token_eos() == llama.tokenize(b"<|im_end|>", add_bos=False, special=True)[0]


def test_stream_yields_text_and_stats(tiny_llm):
    pieces = list(tiny_llm.stream([{"role": "user", "content": "hi"}], max_tokens=8))
    assert pieces and all(isinstance(p, str) and p for p in pieces)
    stats = tiny_llm.last_stats
    assert 0 < stats.completion_tokens <= 8
    assert stats.finish_reason in {"stop", "length"}
    assert stats.total_s >= stats.time_to_first_token_s > 0


def test_json_schema_response_parses(tiny_llm):
    schema = {"type": "object",
              "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer"}},
              "required": ["ok", "n"]}
    text = tiny_llm.complete([{"role": "user", "content": "Answer in JSON."}], max_tokens=200,
                             response_format={"type": "json_object", "schema": schema})
    data = json.loads(text)
    assert isinstance(data["ok"], bool) and isinstance(data["n"], int)
    assert tiny_llm.last_stats.finish_reason == "stop"


def test_close_then_stream_reloads(tiny_gguf):
    llm = LlamaCppLLM(tiny_gguf, n_ctx=512, n_threads=1)
    assert list(llm.stream([{"role": "user", "content": "hi"}], max_tokens=4))
    llm.close()
    assert not llm.loaded
    llm.close()  # safe twice
    assert list(llm.stream([{"role": "user", "content": "hello"}], max_tokens=4))
    assert llm.loaded and llm.last_stats.completion_tokens > 0
    llm.close()
