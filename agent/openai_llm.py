"""A model behind any OpenAI-compatible chat endpoint (a cloud model, or a local server such as
`python -m llama_cpp.server`), for comparing plans against the local model.

Nothing in Hearth calls this unless the user names an endpoint: it is the planning
benchmark's way to score a cloud model. The API key is read from an environment variable the
user names; it is never printed or stored.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

from agent.llm import LLM, GenerationStats, Messages, ModelLoadError


class OpenAICompatLLM(LLM):
    supports_schema = True  # response_format is passed through; servers may ignore it
    supports_grammar = False  # no standard way; `grammar=` goes to llama.cpp servers only

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None,
                 timeout: float = 120.0, max_retries: int = 2, n_ctx: int = 8192,
                 name: str | None = None, seed: int | None = 0):
        super().__init__()
        self.base_url = base_url
        self.model = model
        self.name = name or model
        self.timeout = timeout
        self.max_retries = max_retries
        self.n_ctx = n_ctx
        self.seed = seed
        # Local servers take any key; the client insists on one.
        self._api_key = api_key or "not-needed"
        self._client = None

    @classmethod
    def from_env(cls, base_url: str, model: str, api_key_env: str | None = None,
                 **kwargs) -> "OpenAICompatLLM":
        """The key comes from the environment variable `api_key_env` (its name, never its
        value, appears in errors)."""
        key = None
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise ModelLoadError(f"The environment variable {api_key_env} holding the API key "
                                     f"for {base_url} is not set (or empty).")
        return cls(base_url, model, api_key=key, **kwargs)

    def __repr__(self) -> str:  # no key in logs or tracebacks
        return f"OpenAICompatLLM(base_url={self.base_url!r}, model={self.model!r})"

    def _get_client(self):
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(base_url=self.base_url, api_key=self._api_key,
                                  timeout=self.timeout, max_retries=self.max_retries)
        return self._client

    def stream(self, messages: Messages, *, max_tokens: int = 512, temperature: float = 0.7,
               cancel: threading.Event | None = None, response_format: dict | None = None,
               grammar: str | None = None) -> Iterator[str]:
        import openai

        stats = GenerationStats()
        self.last_stats = stats
        start = time.perf_counter()
        kwargs: dict = {}
        if response_format is not None:
            kwargs["response_format"] = response_format
        if grammar is not None:
            kwargs["extra_body"] = {"grammar": grammar}
        if self.seed is not None:
            kwargs["seed"] = self.seed
        try:
            chunks = self._get_client().chat.completions.create(
                model=self.model, messages=messages, max_tokens=max_tokens,
                temperature=temperature, stream=True, **kwargs)
        except openai.APIError as exc:
            stats.total_s = time.perf_counter() - start
            raise ModelLoadError(f"The endpoint {self.base_url} refused the request: "
                                 f"{_short(exc)}") from exc
        try:
            for chunk in chunks:
                if cancel is not None and cancel.is_set():
                    stats.finish_reason = "cancelled"
                    break
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                text = choice.delta.content if choice.delta is not None else None
                if text:
                    if stats.completion_tokens == 0:
                        stats.time_to_first_token_s = time.perf_counter() - start
                    stats.completion_tokens += 1  # stream chunks, about one token each
                    yield text
                if choice.finish_reason:
                    stats.finish_reason = choice.finish_reason
        except openai.APIError as exc:
            raise ModelLoadError(f"The endpoint {self.base_url} failed mid-answer: "
                                 f"{_short(exc)}") from exc
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            stats.total_s = time.perf_counter() - start

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]
