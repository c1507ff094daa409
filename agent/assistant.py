"""The assistant service: a user message in, a stored and streamed answer out.

Runs on the model's serial worker. Every step is saved as it happens, so a crash or a
kill mid-answer leaves the conversation intact: the user message is committed before the
model starts, the partial answer is flushed while it streams.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from agent.context import check_user_text, fit_to_context
from agent.events import AnswerFinished, AnswerStarted, Event, Failed, Notice, Token, UserMessageSaved
from agent.llm import LLM, ModelLoadError
from agent.model_registry import ModelFileError, get_model
from agent.prompts import load_prompt
from memory.conversations import ConversationStore
from memory.settings import Settings

FLUSH_EVERY_S = 0.5
REPLAYED_STATUSES = {"done", "stopped", "interrupted"}

LLMFactory = Callable[[Settings], LLM]


def llm_from_settings(settings: Settings) -> LLM:
    from agent.llama_cpp_llm import LlamaCppLLM

    spec = get_model(settings.model)
    path = spec.resolve()
    return LlamaCppLLM(path, name=spec.id, n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                       reinstall_hint=f"Reinstall it with: {spec.install_hint}")


class Assistant:
    def __init__(self, store: ConversationStore, settings: Settings,
                 llm_factory: LLMFactory = llm_from_settings):
        self.store = store
        self.settings = settings
        self._factory = llm_factory
        self._llm: LLM | None = None
        self._llm_key: tuple | None = None

    def _key(self) -> tuple:
        s = self.settings
        return (s.model, s.n_threads, s.n_ctx)

    @property
    def model_loaded(self) -> bool:
        return self._llm is not None and self._llm_key == self._key()

    def llm(self) -> LLM:
        if self._llm is None or self._llm_key != self._key():
            self.close()
            self._llm = self._factory(self.settings)
            self._llm_key = self._key()
        return self._llm

    def warm_up(self, cancel: threading.Event | None = None) -> None:
        """Load the model and read the system prompt into its KV cache, so the first message
        only pays for its own tokens (0.9 s → 0.2 s to first token on the default model)."""
        llm = self.llm()
        if cancel is not None and cancel.is_set():
            return
        messages = [{"role": "system", "content": load_prompt("chat")["system"]},
                    {"role": "user", "content": "hi"}]
        for _ in llm.stream(messages, max_tokens=1, temperature=0.0, cancel=cancel):
            pass

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None
            self._llm_key = None

    def respond(self, conversation_id: int, text: str,
                cancel: threading.Event | None = None) -> Iterator[Event]:
        """Answer `text` in the conversation. Raises MessageRejected before storing anything."""
        text = check_user_text(text)
        history = [(m.role, m.content) for m in self.store.messages(conversation_id)
                   if m.role in ("user", "assistant") and m.content and m.status in REPLAYED_STATUSES]
        yield UserMessageSaved(self.store.add_message(conversation_id, "user", text))

        answer = self.store.add_message(conversation_id, "assistant", "", status="streaming",
                                        model=self.settings.model)
        try:
            if not self.model_loaded:
                yield Notice(f"Loading {self.settings.model}…")
            llm = self.llm()
            fitted = fit_to_context(load_prompt("chat")["system"], history, text, llm.count_tokens,
                                    llm.n_ctx, self.settings.max_tokens)
        except (ModelFileError, ModelLoadError) as exc:
            self.store.update_message(answer.id, status="error", meta={"error": str(exc)})
            yield Failed(answer.id, str(exc))
            return
        if fitted.dropped_messages:
            yield Notice(f"{fitted.dropped_messages} earlier messages were left out to fit the "
                         f"model's {llm.n_ctx}-token context.")
        if fitted.truncated_user_message:
            yield Notice("Your message was too long for the model's context; its middle was left out.")
        yield AnswerStarted(answer.id, llm.name)

        parts: list[str] = []
        last_flush = float("-inf")  # the first token is saved at once, then every FLUSH_EVERY_S
        try:
            for piece in llm.stream(fitted.messages, max_tokens=fitted.max_tokens,
                                    temperature=self.settings.temperature, cancel=cancel):
                parts.append(piece)
                yield Token(piece)
                if time.monotonic() - last_flush >= FLUSH_EVERY_S:
                    self.store.update_message(answer.id, content="".join(parts))
                    last_flush = time.monotonic()
        except Exception as exc:  # noqa: BLE001 - any model failure ends this answer, not the app
            content = "".join(parts)
            self.store.update_message(answer.id, content=content, status="error",
                                      meta={"error": str(exc)})
            yield Failed(answer.id, f"The model failed while answering: {exc}")
            return
        stats = llm.last_stats.as_dict()
        stats["prompt_tokens"] = fitted.prompt_tokens
        status = "stopped" if cancel is not None and cancel.is_set() else "done"
        content = "".join(parts)
        self.store.update_message(answer.id, content=content, status=status, meta=stats)
        yield AnswerFinished(answer.id, status, content, stats)
