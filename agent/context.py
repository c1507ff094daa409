"""Fitting a conversation into the model's context window: newest history first, never a crash."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

MAX_MESSAGE_CHARS = 100_000
# Chat templates wrap each message in role markers; this covers Qwen's and SmolLM2's.
PER_MESSAGE_OVERHEAD = 8


class MessageRejected(ValueError):
    """The message cannot be sent as it is; the text says why."""


def check_user_text(text: str) -> str:
    if not text or not text.strip():
        raise MessageRejected("The message is empty.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise MessageRejected(
            f"The message is {len(text):,} characters long; the limit is {MAX_MESSAGE_CHARS:,}. "
            "Shorten it or split it into several messages.")
    return text.strip()


@dataclass
class FittedPrompt:
    messages: list[dict[str, str]]
    prompt_tokens: int
    max_tokens: int
    dropped_messages: int = 0
    truncated_user_message: bool = False


def fit_to_context(system: str, history: Sequence[tuple[str, str]], user_text: str,
                   count_tokens: Callable[[str], int], n_ctx: int, max_tokens: int) -> FittedPrompt:
    """Keep the system prompt and the new message, then as much recent history as fits.

    Room for the answer is reserved (at most half the window). A new message too long for
    the window is shortened in the middle so its start and end survive.
    """
    answer_room = min(max_tokens, n_ctx // 2)
    budget = n_ctx - answer_room

    def cost(text: str) -> int:
        return count_tokens(text) + PER_MESSAGE_OVERHEAD

    used = cost(system)
    user_cost = cost(user_text)
    truncated = False
    if used + user_cost > budget:
        user_text = _shorten_middle(user_text, budget - used, count_tokens)
        user_cost = cost(user_text)
        truncated = True
    used += user_cost

    kept: list[dict[str, str]] = []
    dropped = 0
    for role, content in reversed(history):
        c = cost(content)
        if dropped or used + c > budget:
            dropped += 1
            continue
        kept.append({"role": role, "content": content})
        used += c
    kept.reverse()
    messages = [{"role": "system", "content": system}, *kept, {"role": "user", "content": user_text}]
    return FittedPrompt(messages, used, max(1, min(max_tokens, n_ctx - used)), dropped, truncated)


def _shorten_middle(text: str, token_budget: int, count_tokens: Callable[[str], int]) -> str:
    marker = "\n[… part of this message was left out to fit the model's context …]\n"
    room = max(16, token_budget - count_tokens(marker) - PER_MESSAGE_OVERHEAD)
    keep = len(text)
    while keep > 32:
        keep = int(keep * 0.8)
        head, tail = text[: keep * 2 // 3], text[len(text) - keep // 3:]
        if count_tokens(head) + count_tokens(tail) <= room:
            return head + marker + tail
    return text[:32] + marker
