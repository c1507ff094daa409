"""The llama.cpp backend: loads a GGUF lazily, streams chat tokens, cancels, frees on close()."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

from agent.llm import LLM, GenerationStats, Messages, ModelLoadError


class LlamaCppLLM(LLM):
    supports_schema = True
    supports_grammar = True

    def __init__(self, model_path: Path | str, *, name: str | None = None, n_ctx: int = 4096,
                 n_threads: int = 2, seed: int = 0, reinstall_hint: str = ""):
        super().__init__()
        self.model_path = Path(model_path)
        self.name = name or self.model_path.stem
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.seed = seed
        self.reinstall_hint = reinstall_hint
        self._llama = None

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def load(self):
        if self._llama is not None:
            return self._llama
        if not self.model_path.is_file():
            raise ModelLoadError(f"Model file not found: {self.model_path}. {self.reinstall_hint}".strip())
        from llama_cpp import Llama  # heavy native import, only when a model is needed

        try:
            self._llama = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx,
                                n_threads=self.n_threads, n_threads_batch=self.n_threads,
                                seed=self.seed, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(
                f"llama.cpp could not load {self.model_path.name} ({exc}); the file is missing "
                f"or damaged. {self.reinstall_hint}".strip()) from exc
        return self._llama

    def stream(self, messages: Messages, *, max_tokens: int = 512, temperature: float = 0.7,
               cancel: threading.Event | None = None, response_format: dict | None = None,
               grammar: str | None = None) -> Iterator[str]:
        llama = self.load()
        if grammar is not None:
            from llama_cpp import LlamaGrammar

            grammar = LlamaGrammar.from_string(grammar, verbose=False)
        stats = GenerationStats()
        self.last_stats = stats
        start = time.perf_counter()
        chunks = llama.create_chat_completion(
            messages=messages, max_tokens=max_tokens, temperature=temperature, stream=True,
            seed=self.seed, response_format=response_format, grammar=grammar)
        try:
            for chunk in chunks:
                if cancel is not None and cancel.is_set():
                    stats.finish_reason = "cancelled"
                    break
                choice = chunk["choices"][0]
                text = choice["delta"].get("content")
                if text:
                    if stats.completion_tokens == 0:
                        stats.time_to_first_token_s = time.perf_counter() - start
                    stats.completion_tokens += 1
                    yield text
                if choice.get("finish_reason"):
                    stats.finish_reason = choice["finish_reason"]
        finally:
            chunks.close()
            stats.total_s = time.perf_counter() - start

    def count_tokens(self, text: str) -> int:
        return len(self.load().tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def close(self) -> None:
        if self._llama is not None:
            self._llama.close()
            self._llama = None
