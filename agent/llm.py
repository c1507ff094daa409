"""The language-model abstraction: one `stream()` that yields text; `complete()` joins it."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

Messages = list[dict[str, str]]


class ModelLoadError(RuntimeError):
    """The model file could not be loaded; the message says which file and what to do."""


@dataclass
class GenerationStats:
    completion_tokens: int = 0
    time_to_first_token_s: float = 0.0
    total_s: float = 0.0
    finish_reason: str = ""  # stop | length | cancelled

    @property
    def tokens_per_s(self) -> float:
        gen_time = self.total_s - self.time_to_first_token_s
        if self.completion_tokens < 2 or gen_time <= 0:
            return 0.0
        # The first token's time is prompt processing; rate is over the tokens after it.
        return (self.completion_tokens - 1) / gen_time

    def as_dict(self) -> dict:
        return {"completion_tokens": self.completion_tokens,
                "ttft_s": round(self.time_to_first_token_s, 3),
                "total_s": round(self.total_s, 3),
                "tokens_per_s": round(self.tokens_per_s, 2),
                "finish_reason": self.finish_reason}


class LLM(ABC):
    """A chat model. Not thread-safe: call it from one serial worker (agent.worker)."""

    name: str = "llm"
    can_stream: bool = True
    supports_schema: bool = False
    supports_grammar: bool = False  # stream(..., grammar=GBNF text) constrains decoding
    n_ctx: int = 2048

    def __init__(self) -> None:
        self.last_stats = GenerationStats()

    @abstractmethod
    def stream(self, messages: Messages, *, max_tokens: int = 512, temperature: float = 0.7,
               cancel: threading.Event | None = None) -> Iterator[str]:
        """Yield the answer's text piece by piece; stop early when `cancel` is set.

        Sets `self.last_stats` when the iterator ends.
        """

    def complete(self, messages: Messages, **kwargs) -> str:
        return "".join(self.stream(messages, **kwargs))

    def for_role(self, role: str) -> "LLM":
        """This model as one agent role (planner, caller, summarizer) uses it: a backend with
        weights per role (LoRA adapters) returns a view that computes with the role's."""
        return self

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes in a prompt. Backends with a tokenizer override this estimate."""
        return len(text.encode("utf-8")) // 3 + 1

    def close(self) -> None:
        """Free native resources. Safe to call twice; the model reloads on next use."""
