"""The summarizer's prompt: the answer to a request, from the request and the experts' results.

One place builds it, so the chat (agent.assistant), the answer benchmark (agent.answerbench)
and the training examples of the summarizer role (sync.learning.examples) read the same
prompt: a model trained on it is asked what it was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.expert_context import results_block
from agent.prompts import load_prompt


def system_prompt(with_results: bool, memories: Sequence[dict] = ()) -> str:
    """The chat's system prompt; with expert results, the rule to answer from them and name
    the expert; with memories, what Hearth remembers that bears on the message."""
    prompts = load_prompt("chat")
    system = prompts["system"]
    if with_results:
        system = f"{system}\n{prompts['cite_experts']}"
    if memories:
        lines = "\n".join(f"- {m['text']}" for m in memories)
        system = f"{system}\n\n{prompts['memories_intro']}\n{lines}"
    return system


def user_turn(text: str, tasks: Sequence[dict]) -> str:
    """The user's words, then the experts' results fenced as data (none: the words alone)."""
    if not tasks:
        return text
    return f"{text}\n\n{results_block(load_prompt('chat')['attachments_note'], list(tasks))}"


def answer_messages(text: str, tasks: Sequence[dict]) -> list[dict[str, str]]:
    """The summarizer's messages for a request with no history and no memories, as the app
    sends them for such a message."""
    return [{"role": "system", "content": system_prompt(bool(tasks))},
            {"role": "user", "content": user_turn(text, tasks)}]
